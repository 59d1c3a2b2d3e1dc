"""The version of vegcube (one place: the package, the CLI and the HTTP User-Agent read it)."""

__version__ = "0.1.0"
