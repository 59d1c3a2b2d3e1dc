"""One family of exceptions: each names the field, file, item or band and suggests the fix."""

from __future__ import annotations

__all__ = [
    "AccessError",
    "BandError",
    "DataError",
    "RecipeError",
    "SourceError",
    "VegcubeError",
]


class VegcubeError(Exception):
    """Base of every error vegcube raises on purpose."""

    #: process exit code the CLI uses for this error
    exit_code: int = 1


class RecipeError(VegcubeError, ValueError):
    """Bad input found before any work starts (recipe field, AOI, dates, index)."""

    exit_code = 2

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        self.problems = problems or [message]
        super().__init__(message)


class SourceError(VegcubeError, OSError):
    """The catalog, collection or an asset cannot be reached or read."""

    exit_code = 2


class BandError(VegcubeError, KeyError):
    """A band or index needs a band the source does not provide."""

    exit_code = 2

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


class DataError(VegcubeError, RuntimeError):
    """The data read is unusable (no scenes, every pixel masked, corrupt file)."""

    exit_code = 1


class AccessError(VegcubeError, PermissionError):
    """An asset exists but reading it was refused (credentials, requester-pays bucket)."""

    exit_code = 1
