"""Apple Music: the privacy export (Apple_Media_Services.zip, Play Activity and its companions)."""
