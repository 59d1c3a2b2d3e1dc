"""VIIRS VJ121A2 v002 LST granules (8-day, 1 km) over the demo world, for `testing.viirs`.

One granule per 8-day period (days 1, 9, 17, … of each year) in the layout of
``tests/data/items/EVIDENCE-viirs.md``: ``HDFEOS/GRIDS/VIIRS_Grid_8Day_1km_LST21/Data Fields``
with full 1200 × 1200 datasets ``LST_Day_1KM``, ``LST_Night_1KM`` (uint16, ``_FillValue`` 0,
``scale_factor`` [0.02], ``add_offset`` [0.0], K) and ``QC_Day``, ``QC_Night`` (uint8, MOD21's
bits: good = MODLAND 00, data quality 00, emissivity and LST accuracy 11; 0 = fill). The demo's
10 m vegetation fraction is averaged into 926.6 m pixels: day LST = 306 K − 14 K × fv (a dry
canopy is warmer), night = 291 K − 3 K × fv; a few pixels per period are cloudy (MODLAND 10,
LST 0). Pixels the model covers less than 80 % are fill (LST 0, QC 0). Only these four layers
are written (the real files also hold emissivities and view angles/times).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from pyproj import Transformer

from ..download.hdf5 import tile_grid
from ..sensors.modis import SINUSOIDAL_PROJ4
from .world import CENTRE, Model, smooth

__all__ = ["GRID", "ViirsLst", "write_lst_granules"]

GRID = "VIIRS_Grid_8Day_1km_LST21"
_N = 1200
_GOOD_QC = 0b1111_0000  # MODLAND 00, quality 00, emissivity accuracy 11, LST accuracy 11
_CLOUD_QC = 0b0000_0010  # MODLAND 10: not produced due to cloud


@dataclass(frozen=True, kw_only=True)
class ViirsLst:
    """The LST granules of an archive."""

    collection: str
    window: tuple[int, int, int]  #: (row, col, size) of the modelled 1 km pixels
    ids: tuple[str, ...]
    starts: tuple[date, ...]


def _periods(start: date, end: date) -> list[date]:
    out = []
    for year in range(start.year, end.year + 1):
        for k in range(46):
            d = date(year, 1, 1) + timedelta(days=8 * k)
            if d.year == year and d <= end and d + timedelta(days=7) >= start:
                out.append(d)
    return out


def _values(model: Model, when: date, idx: np.ndarray, size: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([model.seed, 121, when.toordinal()])
    mid = datetime(when.year, when.month, when.day, 13, tzinfo=timezone.utc) + timedelta(days=4)
    fv = model.fv(mid).ravel()
    ok = idx >= 0
    count = np.bincount(idx[ok], minlength=size * size)
    mean = np.bincount(idx[ok], weights=fv[ok], minlength=size * size) / np.maximum(count, 1)
    pixel = tile_grid(0, 0, _N).a
    fill = (count / (pixel / 10.0) ** 2 < 0.8).reshape(size, size)
    fv_px = mean.reshape(size, size)
    f = smooth(rng, (size, size), size / 3)
    cloudy = (f > np.quantile(f, 0.85)) & ~fill
    out: dict[str, np.ndarray] = {}
    for t, (base, gain) in {"Day": (306.0, 14.0), "Night": (291.0, 3.0)}.items():
        kelvin = base - gain * fv_px + rng.normal(0, 0.3, fv_px.shape)
        dn = np.rint(kelvin / 0.02).astype(np.uint16)
        dn[fill | cloudy] = 0
        qc = np.full((size, size), _GOOD_QC, np.uint8)
        qc[cloudy], qc[fill] = _CLOUD_QC, 0
        out[f"LST_{t}_1KM"], out[f"QC_{t}"] = dn, qc
    return out


def write_lst_granules(
    folder: Path,
    model: Model,
    *,
    tile: tuple[int, int],
    start: date,
    end: date,
    product: str = "VJ121A2",
    size: int = 6,
) -> ViirsLst:
    """Write the LST granules of `start`..`end` into `folder` (existing files are kept)."""
    from .viirs import binning, file_attrs, write_granule

    to_sin = Transformer.from_crs(4326, SINUSOIDAL_PROJ4, always_xy=True)
    col, row = ~tile_grid(*tile, _N) * to_sin.transform(*CENTRE)
    window = (math.floor(row) - size // 2, math.floor(col) - size // 2, size)
    r0, c0, _ = window
    idx = binning(model, r0, c0, size, tile, _N)
    ids, starts = [], _periods(start, end)
    for s in starts:
        made = datetime.combine(s + timedelta(days=11), datetime.min.time(), timezone.utc)
        gid = f"{product}.A{s:%Y%j}.h{tile[0]:02d}v{tile[1]:02d}.002.{made:%Y%j}052301"
        ids.append(gid)
        path = folder / f"{gid}.h5"
        if path.is_file():
            continue
        datasets = {}
        for name, arr in _values(model, s, idx, size).items():
            full = np.zeros((_N, _N), arr.dtype)
            full[r0 : r0 + size, c0 : c0 + size] = arr
            attrs: dict[str, object] = {"_FillValue": np.array([0], arr.dtype)}
            if name.startswith("LST"):
                attrs |= {"scale_factor": np.array([0.02]), "add_offset": np.array([0.0]),
                          "units": np.bytes_("K")}  # fmt: skip
            datasets[name] = (full, attrs)
        write_granule(
            path,
            grid=GRID,
            pixels=_N,
            datasets=datasets,
            attrs=file_attrs(product, tile, s, 8, made),
        )
    return ViirsLst(
        collection=f"{product}_002", window=window, ids=tuple(ids), starts=tuple(starts)
    )
