"""The report on a real run's outputs."""

from __future__ import annotations

import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from vegcube import report
from vegcube.testing.truth import truth_masks

pytest.importorskip("matplotlib", reason="the 'report' extra (matplotlib) is not installed")


PNG = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    """Images, ranking rows and <body> attributes of a report page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.regions: list[str | None] = []
        self.body: dict[str, str | None] = {}
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        elif tag == "tr" and "data-region" in a:
            self.regions.append(a["data-region"])
        elif tag == "body":
            self.body = a


def _zonal(comp: xr.Dataset, ind: xr.Dataset, masks: dict) -> pd.DataFrame:
    """The zonal table (DESIGN.md's columns) of each region, given as a row slice or mask."""
    cls = ind["ndvi_drought_class"]
    layers = {"ndvi": comp["ndvi"], "ndvi_drought_class": cls.where(cls >= 0)}
    layers |= {f"ndvi_{k}": ind[f"ndvi_{k}"] for k in ("vci", "zscore", "anomaly")}
    rows = []
    for region, where in masks.items():
        for name, da in layers.items():
            v = da.isel(y=where).values if isinstance(where, slice) else da.values[:, where]
            v = v.reshape(v.shape[0], -1).astype("float64")
            n = np.isfinite(v).sum(axis=1)
            with warnings.catch_warnings():  # periods with no valid pixel: NaN, as intended
                warnings.simplefilter("ignore", RuntimeWarning)
                mean, std = np.nanmean(v, axis=1), np.nanstd(v, axis=1)
            for t, m, s, c in zip(comp.time.values, mean, std, n, strict=True):
                rows.append((region, t, name, m, s, int(c), c / v.shape[1]))
    return pd.DataFrame(rows, columns=list(report.ZONAL_COLUMNS))


def _assert_png(path: Path) -> None:
    """A real, non-trivial PNG: signature, size, more than one colour."""
    from matplotlib.image import imread

    data = path.read_bytes()
    assert data[:8] == PNG, path
    assert len(data) > 5_000, f"{path.name}: {len(data)} bytes"
    rgb = imread(path)[..., :3]
    assert (rgb != rgb[0, 0]).any(), f"{path.name} is one flat colour"


@pytest.mark.slow
def test_report_on_real_outputs(demo, demo_run, tmp_path):
    out = demo_run  # what `vegcube demo` runs (conftest)
    cut = slice(None, "2023-04-10")  # the latest period is then inside the drought
    comp = xr.open_zarr(out / "composites.zarr").sel(time=cut)
    ind = xr.open_zarr(out / "indicators.zarr").sel(time=cut)
    ref = xr.open_zarr(out / "reference.zarr")
    _, place = truth_masks(demo, comp["ndvi"].isel(time=0))
    zonal = _zonal(comp.load(), ind.load(), {"drought place": place, "elsewhere": ~place})
    html = report.write(tmp_path, composites=comp, reference=ref, indicators=ind, zonal=zonal)
    assert html == tmp_path / "report" / "index.html"
    page = _Page(html.read_text(encoding="utf-8"))
    assert page.regions == ["drought place", "elsewhere"]
    for img in page.images:
        _assert_png(html.parent / str(img["src"]))
