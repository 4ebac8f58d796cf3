"""Taking your data with you: one listener's history, as received and as computed, in one ZIP.

`tracktracker export USER` writes it (takeout/archive.py); importing that ZIP for a listener of
another install loads its raw files again and so rebuilds the same gold (exports/inbox.py skips the
computed tables).
"""
