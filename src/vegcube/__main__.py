"""`python -m vegcube` runs the command line."""

from .cli import main

main()
