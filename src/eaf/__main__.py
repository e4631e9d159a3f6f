"""`python -m eaf` runs the CLI."""

from eaf.cli.main import main

main()
