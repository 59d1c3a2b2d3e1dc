"""One family of exceptions: each names the field, file, item or band and suggests the fix.

An error carries its `field` (the recipe key or argument it is about) and an optional
`hint` (what to do) apart from its message: `str()` renders ``field: message; hint``, and a
caller that knows the field better re-keys the error with `at` instead of editing its text.
`InputError` (exit code 2) is every kind of bad input, found before any work starts; the
others (exit code 1) are failures during the run.
"""

from __future__ import annotations

from typing import Any, Self

__all__ = [
    "AccessError",
    "BandError",
    "DataError",
    "InputError",
    "RecipeError",
    "SourceError",
    "UnreachableError",
    "VegcubeError",
    "needs_extra",
]


class VegcubeError(Exception):
    """Base of every error vegcube raises on purpose."""

    #: process exit code the CLI uses for this error
    exit_code: int = 1

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        self.message, self.field, self.hint = message, field, hint
        super().__init__(message)

    def __str__(self) -> str:
        text = f"{self.field}: {self.message}" if self.field else self.message
        return f"{text}; {self.hint}" if self.hint else text

    def at(self, field: str) -> Self:
        """The same error about `field` (e.g. `lst.collection` rather than `source.collection`)."""
        other = type(self)(self.message)
        other.__dict__.update(self.__dict__)
        other.field = field
        return other

    def __reduce__(self) -> tuple[Any, ...]:  # keeps field and hint across processes (dask)
        return (_restore, (type(self), self.__dict__))


def _restore(cls: type[VegcubeError], state: dict[str, Any]) -> VegcubeError:
    err = cls(state.get("message", ""))
    err.__dict__.update(state)
    return err


class InputError(VegcubeError, ValueError):
    """Bad input found before any work starts: a recipe key, an argument of a step, a file
    given as input. Exit code 2."""

    exit_code = 2


class RecipeError(InputError):
    """A recipe that does not validate (every problem at once), or an AOI, dates or index
    that cannot be used."""

    def __init__(
        self,
        message: str,
        *,
        problems: list[str] | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.problems = problems or [message]
        super().__init__(message, field=field, hint=hint)


class SourceError(InputError, OSError):
    """The catalog, collection or an asset cannot be reached or read."""


class UnreachableError(SourceError):
    """A catalog did not answer (network, 5xx after retries): the service, not the request,
    is at fault; `vegcube serve` answers 503."""


class BandError(InputError, KeyError):
    """A band or index needs a band the source does not provide (`band`: which one)."""

    def __init__(
        self,
        message: str,
        *,
        band: str | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.band = band
        super().__init__(message, field=field, hint=hint)

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return VegcubeError.__str__(self)


class DataError(VegcubeError, RuntimeError):
    """The data read is unusable (no scenes, every pixel masked, corrupt file)."""

    exit_code = 1


class AccessError(VegcubeError, PermissionError):
    """An asset exists but reading it was refused (credentials, requester-pays bucket)."""

    exit_code = 1


def needs_extra(module: str, extra: str, *, what: str) -> ModuleNotFoundError:
    """The error for an optional dependency that is missing: what needs it and the
    ``pip install 'vegcube[extra]'`` that brings it."""
    return ModuleNotFoundError(
        f"{what} needs {module!r}, an optional dependency: pip install 'vegcube[{extra}]'",
        name=module,
    )
