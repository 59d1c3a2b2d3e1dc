"""The output formats a recipe may name in ``output.formats``: one `Writer` record each."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import xarray as xr

from ..errors import InputError
from . import cog, netcdf, zarr

__all__ = ["WRITERS", "Publish", "Writer", "get"]


class Publish(Protocol):
    """Writes a format's files in OUT from the chain's products (name → dataset)."""

    def __call__(
        self,
        products: Mapping[str, xr.Dataset],
        out: Path,
        *,
        variables: Sequence[str] = (),
        since: Any = None,
    ) -> None: ...


@dataclass(frozen=True)
class Writer:
    """One output format.

    `appends`: an update writes only its periods into the existing output (from `since`,
    the rest is kept); otherwise the output is written whole. `files(out, products)`: what
    it leaves in OUT, keyed as in `RunResult.outputs` (a resumed run keeps them if its unit
    of work is done and they exist). `write(products, out, *, variables, since)`: writes
    them once the chain's products are stored; None for the Zarr stores, which the chain's
    stages write themselves (`write_zarr`, `append_zarr`).
    """

    name: str
    summary: str
    appends: bool
    files: Callable[[Path, Collection[str]], dict[str, Path]]
    write: Publish | None = None


WRITERS: dict[str, Writer] = {
    "zarr": Writer("zarr", "a Zarr store per stage (always written)", True, zarr.stores),
    "netcdf": Writer("netcdf", "a CF-NetCDF4 per product", False, netcdf.files, netcdf.publish),
    "cog": Writer("cog", "COGs per variable, period + STAC", True, cog.files, cog.publish),
}


def get(name: str) -> Writer:
    """The writer of the output format `name`; `InputError` listing the known ones."""
    try:
        return WRITERS[name]
    except KeyError:
        raise InputError(f"output format must be one of {list(WRITERS)}; got {name!r}") from None
