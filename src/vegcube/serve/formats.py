"""Output formats of ``save_result``: netCDF (xarray), GTiff (rioxarray) and JSON.

A registry of `OutputFormat` records, listed by ``/file_formats``; `write_result` writes what a
process graph returned (a ``SaveResult`` or a bare value) into a folder, each file under a
temporary name renamed when complete, and describes the files for the job's STAC metadata.

- netCDF: one variable per band label (``var`` when the cube has no bands), dimensions
  ``t``, ``y``, ``x``, the CRS as a CF grid mapping (``spatial_ref``), compressed.
- GTiff: one file per time step (``openEO_<date>Z.tif``; ``openEO.tif`` for a cube without
  time), its bands the cube's bands (described by their labels), NaN as nodata.
- JSON: a value that is not a raster (a number, a list, a reduced array).

Names are matched case-insensitively; an unknown one is ``FormatUnsupported``, a result the
format cannot hold ``FormatUnsuitable``, an unknown option ``ProcessParameterInvalid``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import OpenEOError

__all__ = ["FORMATS", "OutputFormat", "Written", "file_formats", "output_format", "write_result"]

Writer = Callable[[Any, Path, Mapping[str, Any]], list[Path]]


@dataclass(frozen=True)
class OutputFormat:
    """One output format: its openEO name, media type, parameters and writer."""

    name: str
    title: str
    media_type: str
    gis_data_types: tuple[str, ...]
    parameters: Mapping[str, dict[str, Any]]
    writer: Writer
    links: tuple[dict[str, str], ...] = ()

    def describe(self) -> dict[str, Any]:
        """The entry of ``/file_formats``."""
        return {
            "title": self.title,
            "gis_data_types": list(self.gis_data_types),
            "parameters": dict(self.parameters),
            "links": list(self.links),
        }


@dataclass(frozen=True)
class Written:
    """A file written: where, its media type, and what it holds (for STAC assets)."""

    path: Path
    media_type: str
    bands: list[str] = field(default_factory=list)
    bbox: list[float] | None = None
    start: str | None = None
    end: str | None = None


_PREFIX = {
    "filename_prefix": {
        "type": "string",
        "description": "Start of the file names (default: openEO).",
        "default": "openEO",
    }
}


def _netcdf(data: Any, folder: Path, options: Mapping[str, Any]) -> list[Path]:
    ds = _dataset(_raster_or_array(data, "netCDF"))
    path = folder / f"{options.get('filename_prefix', 'openEO')}.nc"
    encoding = {
        str(v): {"zlib": True, "complevel": 4}
        for v in ds.data_vars
        if np.issubdtype(ds[v].dtype, np.number)
    }
    _atomic(path, lambda tmp: ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding))
    return [path]


def _gtiff(data: Any, folder: Path, options: Mapping[str, Any]) -> list[Path]:
    import rioxarray  # noqa: F401 - the .rio accessor

    da = _raster_or_array(data, "GTiff")
    if not {"x", "y"} <= set(da.dims):
        raise OpenEOError(
            "FormatUnsuitable",
            f"GTiff holds rasters with x and y dimensions; this result has {list(da.dims)}: "
            "save it as netCDF or JSON",
        )
    extra = [d for d in da.dims if d not in ("t", "bands", "y", "x")]
    if extra:
        raise OpenEOError(
            "FormatUnsuitable",
            f"GTiff holds (t, bands, y, x) cubes; this one also has {extra}: reduce them "
            "first, or save it as netCDF",
        )
    da = _plain(da)
    if "bands" not in da.dims:
        da = da.expand_dims(bands=["var" if da.name is None else str(da.name)])
    prefix = options.get("filename_prefix", "openEO")
    compress = str(options.get("compress", "DEFLATE")).upper()
    profile = {"driver": "GTiff", "tiled": bool(options.get("tiled", True))}
    if compress != "NONE":
        profile["compress"] = compress
    steps = [(None, da)] if "t" not in da.dims else [(t, da.sel(t=t)) for t in da.t.values]
    paths = []
    for t, step in steps:
        name = f"{prefix}.tif" if t is None else f"{prefix}_{_day(t)}Z.tif"
        arr = step.transpose("bands", "y", "x").compute()
        if np.issubdtype(arr.dtype, np.floating):
            arr = arr.rio.write_nodata(np.nan, encoded=False)
        arr.attrs["long_name"] = tuple(str(b) for b in arr.bands.values)
        path = folder / name
        _atomic(path, functools.partial(_to_raster, arr, profile))
        paths.append(path)
    return paths


def _to_raster(arr: Any, profile: Mapping[str, Any], path: str) -> None:
    arr.rio.to_raster(path, **profile)


def _json(data: Any, folder: Path, options: Mapping[str, Any]) -> list[Path]:
    path = folder / f"{options.get('filename_prefix', 'openEO')}.json"
    text = json.dumps(_jsonable(data), allow_nan=False, default=str)
    _atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return [path]


_GDAL_GTIFF = ({"href": "https://gdal.org/drivers/raster/gtiff.html", "rel": "about"},)
#: output formats by lower-case name
FORMATS: dict[str, OutputFormat] = {
    f.name.lower(): f
    for f in (
        OutputFormat(
            "netCDF",
            "Network Common Data Form (CF)",
            "application/x-netcdf",
            ("raster", "vector"),
            _PREFIX,
            _netcdf,
            ({"href": "https://gdal.org/drivers/raster/netcdf.html", "rel": "about"},),
        ),
        OutputFormat(
            "GTiff",
            "GeoTIFF",
            "image/tiff; application=geotiff",
            ("raster",),
            {
                **_PREFIX,
                "tiled": {"type": "boolean", "description": "Tiled TIFF.", "default": True},
                "compress": {
                    "type": "string",
                    "description": "Compression.",
                    "default": "DEFLATE",
                    "enum": ["DEFLATE", "LZW", "ZSTD", "NONE"],
                },
            },
            _gtiff,
            _GDAL_GTIFF,
        ),
        OutputFormat("JSON", "JSON", "application/json", ("other",), _PREFIX, _json),
    )
}


def file_formats() -> dict[str, Any]:
    """The body of ``GET /file_formats`` (no input formats)."""
    return {"input": {}, "output": {f.name: f.describe() for f in FORMATS.values()}}


def output_format(name: str) -> OutputFormat:
    """The format called `name` (any case); ``FormatUnsupported`` lists the others."""
    fmt = FORMATS.get(str(name).lower())
    if fmt is None:
        raise OpenEOError(
            "FormatUnsupported",
            f"Format '{name}' is not supported; output formats: "
            f"{', '.join(f.name for f in FORMATS.values())}",
        )
    return fmt


def write_result(result: Any, folder: str | os.PathLike[str]) -> list[Written]:
    """Write what a process graph returned into `folder`: a ``SaveResult`` in its format
    (options checked), else a raster as netCDF and any other value as JSON."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if hasattr(result, "format") and hasattr(result, "data"):
        fmt, data = output_format(result.format), result.data
        options = dict(getattr(result, "options", None) or {})
    else:
        data, options = result, {}
        fmt = FORMATS["netcdf" if _is_raster(data) else "json"]
    unknown = sorted(set(options) - set(fmt.parameters))
    if unknown:
        raise OpenEOError(
            "ProcessParameterInvalid",
            f"The value passed for parameter 'options' in process 'save_result' is invalid: "
            f"{fmt.name} has no option {', '.join(unknown)}; its options: "
            f"{', '.join(fmt.parameters)}",
        )
    paths = fmt.writer(data, folder, options)
    facts = _facts(data)
    return [Written(p, fmt.media_type, **facts) for p in paths]


# --------------------------------------------------------------------------- helpers


def _is_raster(data: Any) -> bool:
    import xarray as xr

    return isinstance(data, xr.DataArray) and {"x", "y"} <= set(data.dims)


def _raster_or_array(data: Any, fmt: str) -> Any:
    import xarray as xr

    if isinstance(data, xr.Dataset):
        data = data.to_dataarray(dim="bands")
    if not isinstance(data, xr.DataArray):
        raise OpenEOError(
            "FormatUnsuitable",
            f"{fmt} holds data cubes; this result is a {type(data).__name__}: save it as JSON",
        )
    return data


def _plain(da: Any) -> Any:
    """`da` with only its dimension coordinates and CRS, labels as text, booleans as 0/1."""
    keep = set(da.dims) | {"spatial_ref"}
    da = da.drop_vars([c for c in da.coords if c not in keep])
    for dim in da.dims:
        values = da[dim].values
        if values.dtype == object or (dim == "bands" and values.dtype.kind != "U"):
            da = da.assign_coords({dim: [str(v) for v in values]})
    if da.dtype == bool:
        da = da.astype("uint8")
    da.attrs = {k: v for k, v in da.attrs.items() if isinstance(v, (str, int, float))}
    return da


def _dataset(da: Any) -> Any:
    """The netCDF layout: a variable per band, CF time and grid mapping."""
    import rioxarray  # noqa: F401 - the .rio accessor

    crs = da.rio.crs if {"x", "y"} <= set(da.dims) else None
    da = _plain(da)
    # a cube without bands is one variable `var`, as the Copernicus Data Space and VITO
    # back-ends write it (and openeo-test-suite reads it)
    ds = da.to_dataset(dim="bands") if "bands" in da.dims else da.to_dataset(name="var")
    if crs is not None:
        ds = ds.rio.write_crs(crs).rio.write_coordinate_system()
        for v in ds.data_vars:  # as an attribute: the writer's encoding replaces .encoding
            ds[v].encoding.pop("grid_mapping", None)
            ds[v].attrs["grid_mapping"] = "spatial_ref"
        # the grid mapping as a variable of its own, not a coordinate of the bands: a reader
        # then sees the bands as the file's data (even a single band keeps its dimension in
        # `open_dataset(...).to_dataarray()`), and `decode_coords="all"` still finds the CRS
        ds = ds.reset_coords("spatial_ref")
    if "t" in ds.dims:
        ds["t"].attrs.update(standard_name="time", axis="T", long_name="time")
    ds.attrs.update(Conventions="CF-1.9", source="vegcube serve (openEO)")
    return ds


def _facts(data: Any) -> dict[str, Any]:
    """Bands, lon/lat bbox and time range of a cube (empty for other values)."""
    import xarray as xr

    if not isinstance(data, xr.DataArray):
        return {}
    out: dict[str, Any] = {}
    if "bands" in data.dims:
        out["bands"] = [str(b) for b in data.bands.values]
    if "t" in data.dims and data.sizes["t"] and np.issubdtype(data.t.dtype, np.datetime64):
        times = data.t.values  # (labels renamed to text have no time range)
        out["start"], out["end"] = _iso(times.min()), _iso(times.max())
    if {"x", "y"} <= set(data.dims):
        try:
            import rioxarray  # noqa: F401

            out["bbox"] = [float(v) for v in data.rio.transform_bounds("EPSG:4326")]
        except Exception:  # no CRS: an unlocated result
            pass
    return out


def _iso(value: Any) -> str:
    text = np.datetime_as_string(np.datetime64(value, "s"), unit="s")
    return f"{text}Z"


def _day(value: Any) -> str:
    return str(np.datetime_as_string(np.datetime64(value, "D"), unit="D"))


def _jsonable(value: Any) -> Any:
    import xarray as xr

    if isinstance(value, xr.DataArray):
        value = value.compute()
        return {
            "dims": list(value.dims),
            "coords": {str(d): _jsonable(value[d].values) for d in value.dims},
            "data": _jsonable(value.values),
        }
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "M":
            return [_iso(v) for v in value.ravel()]
        return _jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _atomic(path: Path, write: Callable[[str], Any]) -> None:
    """Write `path` through `write(temporary name)`, then rename it into place."""
    tmp = path.with_name(f".{path.name}.part")
    tmp.unlink(missing_ok=True)
    try:
        write(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
