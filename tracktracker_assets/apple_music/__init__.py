"""Apple Music: the privacy export (Apple_Media_Services.zip, Play Activity and its companions).

What each file becomes (recognised by content: recognise.py):

- Apple Music Play Activity.csv (pre-2022 44-column and 2022+ 118-column layouts): every event into
  bronze.apple_music_play_activity (play_activity.py); plays are made in
  stg_apple_music__play_activity (end events, fragments merged, artist recovered).
- Apple Music - Track Play History.csv: bronze.apple_music_track_play_history
  (track_play_history.py); plays in stg_apple_music__track_play_history, each once.
- Apple Music - Play History Daily Tracks.csv, Apple Music - Recently Played Tracks.csv and Apple
  Music Library Tracks.json: artist hints, never plays (hints.py); the library alone is refused.

Privacy fields (account, device and analytics ids, IP address and geolocation) are dropped by
pattern (privacy.py) and named in the import report.
"""
