"""The global chain's demo archive (issue 15): MODIS continued by VIIRS and Sentinel-3, one area.

`generate_global_archive` renders the demo's world (`testing.world`: land cover, phenology, a
drought from February to April 2023) over one common area of `model_size` × `model_size` 10 m
pixels (10 km by default) as four archives, each in its real shape:

- MOD13Q1 16-day 250 m NDVI (`testing.modis`) up to the day before `ndvi_switch`;
- VJ113A1 16-day 500 m NDVI granules (`testing.viirs`) from `overlap_days` before the switch,
  with a known relation to MODIS (``NDVI_viirs = ndvi_gain × NDVI_modis + ndvi_offset``),
  served as CMR-STAC items and HDF-EOS5 granules behind a bearer token on 127.0.0.1 and
  converted by `vegcube download` (the real path) into COGs and items (``mirror/``);
- MOD21A2 8-day 1 km LST (`testing.modis_lst`) up to the day before `lst_switch`;
- Sentinel-3 SLSTR LST swath frames at 1 km (`testing.slstr`) from `overlap_days` before that
  switch, `lst_offset` K warmer than MODIS on the same ground.

``catalog.json`` joins the generated archive (``archive/``) and the mirror (``mirror/``):
one static catalog for `source.catalog` and `lst.catalog`. `GlobalArchive.recipe` gives the
global recipe: both series calibrated onto MODIS and switched, a reference of mostly MODIS
years, the drought after both switches. `GlobalArchive` carries what `testing.truth` reads
(land cover, the drought's place and time).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from pyproj import Transformer

from ..download.hdf5 import TILE_M
from ..sensors.modis import SINUSOIDAL_PROJ4
from .truth import truth_masks
from .world import CENTRE, DROUGHT, EPSG

__all__ = ["GlobalArchive", "generate_global_archive", "lst_anomaly", "truth_masks"]

_FORMAT = 1
#: the cube's pixel: the 500 m cell of the MODIS/VIIRS sinusoidal grid (463.3 m), into which
#: MODIS' 250 m cells and the 1 km LST cells nest exactly
RESOLUTION = TILE_M / 2400
NDVI = ("modis-13Q1-061", "VJ113A1_002")
LST = ("modis-21A2-061", "sentinel-3-slstr-lst-l2-netcdf")
LST_BANDS = {LST[0]: "lst_day", LST[1]: "lst"}
_BOXES = ("bbox", "drought_bbox")


@dataclass(frozen=True, kw_only=True)
class GlobalArchive:
    """A generated global-chain archive and the facts tests and the demo need about it."""

    path: Path
    catalog: Path  #: joins ``archive/catalog.json`` and ``mirror/catalog.json``
    landcover: Path  #: the world's land cover at 10 m (`testing.truth`)
    bbox: tuple[float, float, float, float]
    drought_bbox: tuple[float, float, float, float]
    start: str
    end: str
    ndvi_switch: str
    lst_switch: str
    reference_start: str
    reference_end: str
    min_years: int
    ndvi_gain: float
    ndvi_offset: float
    lst_offset: float
    items: dict[str, int]  #: collection → items in the catalog
    seed: int
    epsg: int = EPSG
    drought_start: str = DROUGHT[0].isoformat()
    drought_end: str = DROUGHT[1].isoformat()
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def recipe(self, out_dir: str | os.PathLike[str], *, apply: bool = True) -> dict[str, Any]:
        """The global recipe, writing into `out_dir` (`apply=False`: fits recorded, not applied).

        Grid: the sinusoidal grid MODIS and VIIRS are delivered on, at its 500 m cell (463.3 m):
        MODIS' 250 m cells average into it 2 × 2, VIIRS' 500 m cells are its own and the 1 km
        LST cells hold 2 × 2 of it, so no sensor is resampled across cell edges (a UTM grid
        would cut every cell); the SLSTR swath is gridded onto it by nearest pixel. Far from
        the central meridian its cells are sheared parallelograms on the ground, as MODIS'.
        Months, not dekads: a 16-day VI composite starts in every month but in only 23 of 36
        dekads (the rest would be gaps to fill), and 8-day LST composites three or four times a
        month. Fits: MODIS and VIIRS composites start on the same days (`max_days` 1); SLSTR
        overpasses pair with the 8-day LST composites starting within 4 days, by least squares
        of SLSTR on MODIS: the 8-day mean is the steadier variable, and the reduced major axis,
        which assumes equal noise, inflates the slope (`benchmarks/validate_continuity.py`).
        Both also correct each pixel's offset from the line (`per_pixel`): an SLSTR swath
        pixel and a MODIS cell see different footprints, which one line leaves as a lasting
        per-pixel bias of ±0.5 K on mixed land.
        """
        apply_fit = {"apply": apply, "per_pixel": True}
        return {
            "name": "global-demo",
            "aoi": {"bbox": list(self.bbox)},
            "time": {"start": self.start, "end": self.end},
            "source": {
                "catalog": str(self.catalog),
                "collection": list(NDVI),
                "calibrate": {
                    "reference": NDVI[0],
                    "switch": self.ndvi_switch,
                    "max_days": 1,
                    **apply_fit,
                },
            },
            "grid": {"crs": SINUSOIDAL_PROJ4, "resolution": RESOLUTION},
            "indices": ["ndvi"],
            "composite": {"period": "month", "reducer": "median"},
            "reference": {
                "start": self.reference_start,
                "end": self.reference_end,
                "min_years": self.min_years,
            },
            "indicators": ["vci", "zscore", "anomaly", "drought_class", "tci", "vhi"],
            "lst": {
                "catalog": str(self.catalog),
                "collection": list(LST),
                "band": dict(LST_BANDS),
                "calibrate": {
                    "reference": LST[0],
                    "switch": self.lst_switch,
                    "max_days": 4,
                    "method": "ols",
                    **apply_fit,
                },
            },
            "output": {"dir": str(out_dir), "formats": ["zarr"], "report": True},
        }


def lst_anomaly(out: str | os.PathLike[str]) -> xr.DataArray:
    """The temperature's anomaly (K) of a run's outputs: composites minus the reference mean
    of the same period of the year (the indicators hold only TCI for it)."""
    comp = xr.open_zarr(Path(out) / "composites.zarr")
    ref = xr.open_zarr(Path(out) / "reference.zarr")
    mean = ref.lst_mean.sel(period_of_year=comp.period_of_year).drop_vars("period_of_year")
    return (comp.lst - mean).rename("lst_anomaly")


def generate_global_archive(
    path: str | os.PathLike[str],
    *,
    seed: int = 42,
    model_size: int = 1000,
    start: str = "2019-01-01",
    end: str = "2023-06-30",
    ndvi_switch: str = "2022-01-01",
    lst_switch: str = "2022-07-01",
    overlap_days: int = 365,
    reference: tuple[str, str] = ("2019-01-01", "2022-12-31"),
    min_years: int = 3,
    ndvi_gain: float = 0.95,
    ndvi_offset: float = 0.07,
    lst_offset: float = 1.5,
    slstr_revisit_days: int = 4,
) -> GlobalArchive:
    """Generate (or reuse) the global-chain archive under `path` over `model_size` × `model_size`
    10 m pixels of the demo's world, from `start` to `end`: MODIS NDVI and LST up to the day
    before their switch, VIIRS NDVI and SLSTR LST from `overlap_days` before it (the years
    the calibrations are fitted on); VIIRS mirrored through `vegcube download`."""
    d0, d1 = date.fromisoformat(start), date.fromisoformat(end)
    switches = date.fromisoformat(ndvi_switch), date.fromisoformat(lst_switch)
    if not all(d0 + timedelta(days=overlap_days) <= s <= d1 for s in switches):
        raise ValueError(f"switches must lie in {start}..{end}, {overlap_days} days after start")
    if model_size < 200 or model_size % 2 or overlap_days < 32:
        raise ValueError("model_size must be an even number >= 200 and overlap_days >= 32")
    params = {
        "format": _FORMAT, "seed": int(seed), "model_size": int(model_size), "start": start,
        "end": end, "ndvi_switch": ndvi_switch, "lst_switch": lst_switch,
        "overlap_days": int(overlap_days), "ndvi_gain": float(ndvi_gain),
        "ndvi_offset": float(ndvi_offset), "lst_offset": float(lst_offset),
        "slstr_revisit_days": int(slstr_revisit_days), "reference": list(reference),
        "min_years": int(min_years),
    }  # fmt: skip
    root = Path(path).absolute()
    manifest = root / "global-archive.json"
    try:
        made = json.loads(manifest.read_text())
        if made["params"] == params and (root / "catalog.json").is_file():
            kept = made["archive"] | {k: tuple(made["archive"][k]) for k in _BOXES}
            return GlobalArchive(**kept, **_paths(root), params=params)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    manifest.unlink(missing_ok=True)
    for old in ("archive", "mirror"):
        shutil.rmtree(root / old, ignore_errors=True)
    facts = _generate(root, params)
    facts.update(
        start=start, end=end, ndvi_switch=ndvi_switch, lst_switch=lst_switch,
        reference_start=reference[0], reference_end=reference[1], min_years=int(min_years),
        ndvi_gain=float(ndvi_gain), ndvi_offset=float(ndvi_offset),
        lst_offset=float(lst_offset), seed=int(seed),
    )  # fmt: skip
    archive = GlobalArchive(**facts, **_paths(root), params=params)
    _join(root, ["archive/catalog.json", "mirror/catalog.json"])
    saved = {k: v for k, v in asdict(archive).items() if k not in ("params", *_paths(root))}
    manifest.write_text(json.dumps({"params": params, "archive": saved}, default=list, indent=1))
    return archive


def _paths(root: Path) -> dict[str, Any]:
    return {
        "path": root,
        "catalog": root / "catalog.json",
        "landcover": root / "archive" / "landcover.tif",
    }


def _generate(root: Path, params: dict[str, Any]) -> dict[str, Any]:
    """Write the four archives and the VIIRS mirror; the facts of `GlobalArchive` they give."""
    from .modis import generate_modis_archive
    from .modis_lst import generate_modis_lst_archive
    from .slstr import generate_slstr_archive
    from .viirs import generate_viirs_archive

    seed, n, overlap = params["seed"], params["model_size"], timedelta(days=params["overlap_days"])
    start, end = params["start"], params["end"]
    ndvi_sw = date.fromisoformat(params["ndvi_switch"])
    lst_sw = date.fromisoformat(params["lst_switch"])
    half = _half_extent(n)

    def cells(pixel: float) -> int:  # every modelled pixel in the window, a cell of margin
        return 2 * math.ceil(half / pixel) + 4

    at, new_from = root / "archive", str(ndvi_sw - overlap)

    def older() -> tuple[Any, Any]:  # one catalog: MODIS writes it, the others join it
        modis = generate_modis_archive(
            at, seed=seed, start=start, end=str(ndvi_sw - timedelta(days=1)),
            size=cells(RESOLUTION / 2), model_size=n,
        )  # fmt: skip
        lst = generate_modis_lst_archive(
            at, product="MOD21A2", seed=seed, start=start,
            end=str(lst_sw - timedelta(days=1)), size=cells(2 * RESOLUTION), model_size=n,
        )  # fmt: skip
        return modis, lst

    with ThreadPoolExecutor(2) as pool:  # GDAL, h5py and numpy release the GIL
        writing = pool.submit(
            generate_viirs_archive, root / "viirs", seed=seed, start=new_from, end=end,
            size=cells(RESOLUTION), model_size=n, ndvi_gain=params["ndvi_gain"],
            ndvi_offset=params["ndvi_offset"],
        )  # fmt: skip
        modis, lst = older()
        granules = writing.result()
    # netCDF-C is not thread-safe: the SLSTR files are written, and the granules read by the
    # conversion, one after the other
    slstr = generate_slstr_archive(
        at, seed=seed, start=str(lst_sw - overlap), end=end, size=n, spacing_m=1000.0,
        revisit_days=params["slstr_revisit_days"], lst_offset=params["lst_offset"],
    )  # fmt: skip
    mirrored = _mirror(granules, root / "mirror", bbox=modis.bbox, start=new_from, end=end)
    shutil.rmtree(root / "viirs", ignore_errors=True)  # converted: 80 MB of granules less
    return {
        "bbox": modis.bbox,
        "drought_bbox": lst.drought_bbox,
        "items": {
            NDVI[0]: modis.n_items, NDVI[1]: mirrored, LST[0]: lst.n_items,
            LST[1]: slstr.n_items,
        },
    }  # fmt: skip


def _half_extent(model_size: int) -> float:
    """The largest distance (m) along the sinusoidal axes from the world's centre to a corner
    of its tile: the grid is sheared this far from its central meridian (165° E: a 10 km
    square spans ~20 km of sinusoidal x), and the windows are squares about the centre."""
    to_utm = Transformer.from_crs(4326, EPSG, always_xy=True)
    to_sin = Transformer.from_crs(EPSG, SINUSOIDAL_PROJ4, always_xy=True)
    cx, cy = to_utm.transform(*CENTRE)
    sx, sy = to_sin.transform(cx, cy)
    r = model_size * 10.0 / 2 + 20.0  # and the tile's snapping to 20 m
    xs, ys = to_sin.transform([cx - r, cx + r, cx + r, cx - r], [cy - r, cy - r, cy + r, cy + r])
    return float(max(abs(np.asarray(xs) - sx).max(), abs(np.asarray(ys) - sy).max()))


def _mirror(viirs: Any, to: Path, *, bbox: tuple[float, ...], start: str, end: str) -> int:
    """`vegcube download` of the VIIRS granules (served behind a token) into `to`: how many
    granules the recipe's dates hold (mirrored as items)."""
    from ..download import TOKEN_ENV, download
    from .viirs_cmr import serve_viirs

    with serve_viirs(viirs) as served, _env(TOKEN_ENV, served.token):
        mirror = download(
            {
                "name": "global-demo-viirs",
                "aoi": {"bbox": list(bbox)},
                "time": {"start": start, "end": end},
                "source": {"catalog": served.url, "collection": NDVI[1]},
                "grid": {"crs": SINUSOIDAL_PROJ4, "resolution": RESOLUTION},
                "indices": ["ndvi"],
                "output": {"dir": str(to.parent / "unused")},
            },
            to=to,
            backoff=0.02,
            poll=0.1,
        )
    return len({f.item for f in mirror.files})


@contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    """`name` set to `value` in the environment for the block (the local server's token)."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _join(root: Path, children: list[str]) -> None:
    """``root/catalog.json``: a catalog whose children are the catalogs at `children`."""
    links = [{"rel": "root", "href": "./catalog.json", "type": "application/json"}]
    links += [{"rel": "child", "href": f"./{c}", "type": "application/json"} for c in children]
    doc = {
        "type": "Catalog",
        "id": "vegcube-global-demo",
        "stac_version": "1.0.0",
        "description": "vegcube global-chain demo: MODIS, VIIRS (mirrored) and Sentinel-3 SLSTR",
        "links": links,
    }
    (root / "catalog.json").write_text(json.dumps(doc, indent=1))
