"""Last.fm: scrobble exports (lastfmstats, benjaminbenben, ghan) and the live user.getRecentTracks pull."""
