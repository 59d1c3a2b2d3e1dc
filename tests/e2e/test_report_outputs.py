"""The report on a real run's outputs."""

from __future__ import annotations

import pytest
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from helpers import ReportPage, assert_png, zonal_table
from vegcube import report
from vegcube.testing.truth import truth_masks

pytest.importorskip("matplotlib", reason="the 'report' extra (matplotlib) is not installed")


@pytest.mark.slow
def test_report_on_real_outputs(demo, demo_run, tmp_path):
    out = demo_run  # what `vegcube demo` runs (conftest)
    cut = slice(None, "2023-04-10")  # the latest period is then inside the drought
    comp = xr.open_zarr(out / "composites.zarr").sel(time=cut)
    ind = xr.open_zarr(out / "indicators.zarr").sel(time=cut)
    ref = xr.open_zarr(out / "reference.zarr")
    _, place = truth_masks(demo, comp["ndvi"].isel(time=0))
    zonal = zonal_table(comp.load(), ind.load(), {"drought place": place, "elsewhere": ~place})
    html = report.write(tmp_path, composites=comp, reference=ref, indicators=ind, zonal=zonal)
    assert html == tmp_path / "report" / "index.html"
    page = ReportPage(html.read_text(encoding="utf-8"))
    assert page.regions == ["drought place", "elsewhere"]
    for img in page.images:
        assert_png(html.parent / str(img["src"]))
