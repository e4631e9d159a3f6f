"""The `eaf` command line."""
