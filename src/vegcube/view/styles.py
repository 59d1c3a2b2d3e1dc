"""Colour maps of the viewer: one `Style` per kind of variable (index, anomaly, VCI, z-score,
drought class, …), found from a variable's name by `style_for`.

A continuous style maps ``vmin..vmax`` linearly onto the 256 colours of a rio-tiler colour map
(the matplotlib maps, shipped with rio-tiler) and clips outside; a class style gives each code
its colour from `vegcube.report.CLASS_COLOURS` (the report's, one source of truth). NaN, and
the class code −1, are "no data": drawn `NODATA_COLOUR` (grey), like the report's maps.

>>> style_for("ndvi_vci").rgba(np.array([0.0, 50.0, np.nan]))   # (3, 4) uint8
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from ..report import CLASS_COLOURS, NODATA_COLOUR

__all__ = ["NODATA_COLOUR", "NODATA_RGBA", "STYLES", "Style", "hex_rgba", "style_for"]


def hex_rgba(colour: str) -> tuple[int, int, int, int]:
    """``#rrggbb`` → (r, g, b, 255)."""
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16), 255


NODATA_RGBA = hex_rgba(NODATA_COLOUR)


@dataclass(frozen=True)
class Style:
    """How a kind of variable is coloured: a rio-tiler colour map over ``vmin..vmax``, or
    `classes` (code → (name, colour))."""

    kind: str
    title: str
    colormap: str | None = None
    vmin: float = 0.0
    vmax: float = 1.0
    classes: dict[int, tuple[str, str]] = field(default_factory=dict)

    def lut(self) -> np.ndarray:
        """The (256, 4) uint8 colours of a continuous style."""
        return _lut(str(self.colormap))

    def rgba(self, values: np.ndarray) -> np.ndarray:
        """Colours (..., 4) uint8 of `values`; NaN (and class −1) → `NODATA_RGBA`."""
        v = np.asarray(values, dtype="float64")
        out = np.empty((*v.shape, 4), np.uint8)
        out[...] = NODATA_RGBA
        if self.classes:
            for code, (_, colour) in self.classes.items():
                out[v == code] = hex_rgba(colour)
            return out
        ok = np.isfinite(v)
        out[ok] = self.lut()[self.index(v[ok])]
        return out

    def index(self, v: np.ndarray) -> np.ndarray:
        """Colour-map index 0..255 of finite values: linear over vmin..vmax, clipped."""
        frac = (np.asarray(v, dtype="float64") - self.vmin) / (self.vmax - self.vmin)
        return np.clip(np.floor(frac * 256), 0, 255).astype(np.intp)

    def legend(self) -> dict[str, Any]:
        """The legend as JSON: colour stops (continuous) or entries (classes), and no data."""
        nodata = {"label": "no data", "colour": NODATA_COLOUR}
        if self.classes:
            entries = [{"value": k, "label": n, "colour": c} for k, (n, c) in self.classes.items()]
            return {"kind": self.kind, "title": self.title, "type": "classes",
                    "entries": [*entries, nodata]}  # fmt: skip
        lut = self.lut()
        stops = [
            "#{:02x}{:02x}{:02x}".format(*lut[i][:3]) for i in np.linspace(0, 255, 11).astype(int)
        ]
        return {"kind": self.kind, "title": self.title, "type": "continuous",
                "min": self.vmin, "max": self.vmax, "stops": stops, "nodata": nodata}  # fmt: skip


@cache
def _lut(name: str) -> np.ndarray:
    from rio_tiler.colormap import cmap

    table = cmap.get(name)
    return np.array([table[i] for i in range(256)], dtype=np.uint8)


#: kind → style; `style_for` picks the kind from a variable's name suffix
STYLES: dict[str, Style] = {
    s.kind: s
    for s in (
        Style("drought_class", "Drought class (from VCI)", classes=dict(CLASS_COLOURS)),
        Style("vci", "VCI (0–100)", "rdylgn", 0.0, 100.0),
        Style("zscore", "z-score (std from the reference mean)", "brbg", -3.0, 3.0),
        Style("anomaly", "Anomaly (value − reference mean)", "brbg", -0.3, 0.3),
        Style("pct_normal", "Percent of normal", "brbg", 50.0, 150.0),
        Style("percentile", "Percentile in the reference (100·Φ(z))", "brbg", 0.0, 100.0),
        Style("confidence", "Confidence of the departure", "viridis", 0.0, 1.0),
        Style("tci", "TCI (0–100)", "rdylgn", 0.0, 100.0),
        Style("vhi", "VHI (0–100)", "rdylgn", 0.0, 100.0),
        Style("count", "Valid observations", "viridis", 0.0, 10.0),
        Style("quality", "Gap filling (−1 observed, n harmonics, 0 unfilled)", "viridis", -1, 4),
        Style("ref_years", "Reference years", "viridis", 0.0, 10.0),
        Style("db", "Backscatter (dB)", "greys_r", -25.0, 0.0),
        Style("lst", "Land-surface temperature (K)", "inferno", 280.0, 330.0),
        Style("index", "Index value", "rdylgn", -0.2, 1.0),
    )
}


def style_for(variable: str) -> Style:
    """The style of `variable` by its name or suffix (``ndvi_vci`` → vci); an index otherwise."""
    for kind, style in STYLES.items():
        if kind != "index" and (variable == kind or variable.endswith(f"_{kind}")):
            return style
    return STYLES["index"]
