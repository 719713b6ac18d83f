"""The `scada` command line."""
