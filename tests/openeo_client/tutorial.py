"""The openEO tutorial workflow, written with the official client as its users write it; run by
the client's own environment (`.venv-openeo`, the `openeo` package pins pandas < 3) against
`vegcube serve`. `tests/e2e/test_openeo_client.py` starts the server, runs this script and
checks the files it downloads against a recomputation from the archive's own bytes.

    python tutorial.py URL OUT WEST SOUTH EAST NORTH CRS START END MAX_CLOUD

Writes OUT/sync.nc (synchronous `download`), OUT/batch/ (a batch job's results) and
OUT/run.json (the job's status, its results' STAC metadata and the process graph sent).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import openeo
import scipy.signal


def workflow(con: openeo.Connection, bbox: dict, dates: list[str], max_cloud: float):
    """SCL 8/9 dilated with a Gaussian kernel as the mask, NDVI, monthly means."""
    cube = con.load_collection(
        "SENTINEL2_L2A",
        spatial_extent=bbox,
        temporal_extent=dates,
        bands=["B04", "B08", "SCL"],
        max_cloud_cover=max_cloud,
    )
    scl = cube.band("SCL")
    clouds = (scl == 8) | (scl == 9)
    g = scipy.signal.windows.gaussian(11, std=1.6)
    kernel = np.outer(g, g)
    kernel /= kernel.sum()
    mask = clouds.apply_kernel(kernel) > 0.1
    ndvi = cube.filter_bands(["B04", "B08"]).mask(mask).ndvi(red="B04", nir="B08")
    return ndvi.aggregate_temporal_period(period="month", reducer="mean")


def main(argv: list[str]) -> None:
    url, out = argv[0], Path(argv[1])
    west, south, east, north = map(float, argv[2:6])
    crs, dates, max_cloud = int(argv[6]), [argv[7], argv[8]], float(argv[9])
    con = openeo.connect(url)
    con.authenticate_basic("tester", "secret")
    bbox = {"west": west, "south": south, "east": east, "north": north, "crs": crs}
    monthly = workflow(con, bbox, dates, max_cloud)
    out.mkdir(parents=True, exist_ok=True)
    monthly.download(out / "sync.nc", format="netCDF")
    job = monthly.create_job(out_format="netCDF", title="vegcube tutorial")
    job.start_and_wait(max_poll_interval=1, print=lambda *a, **k: None)
    results = job.get_results()
    results.download_files(out / "batch")
    info = {
        "status": job.status(),
        "metadata": results.get_metadata(),
        "graph": monthly.flat_graph(),
        "logs": [dict(e) for e in job.logs()],
    }
    (out / "run.json").write_text(json.dumps(info, indent=1, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
