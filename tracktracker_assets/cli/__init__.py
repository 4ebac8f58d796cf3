"""The `tracktracker` command line: a thin shell over the same functions the assets use."""
