"""DN → physical value: one documented rule per catalog × collection, in one precedence.

For each asset of each item the rule is decided in this order (the first that applies wins):

1. **Catalog truth flags** (the sensor's `truth_flags`). Earth Search v1 ``sentinel-2-l2a``:
   ``earthsearch:boa_offset_applied: true`` means the COG values already have the processing
   baseline 04.00 offset removed (reflectance = DN / 10000), whatever ``raster:bands`` says
   (Element84/earth-search#9: the flag is the truth; cirrus-earth-search#25: JP2 − COG = 1000).
2. **The asset's own scale and offset**: ``raster:bands[0].scale/offset`` (STAC 1.0 raster
   extension), ``raster:scale``/``raster:offset`` on the asset or on its ``bands[0]`` (STAC 1.1,
   CDSE).
3. **The processing baseline** (``s2:processing_baseline``, ``processing:version``): from 04.00
   reflectance = (DN − 1000) / 10000, before DN / 10000 (Sentinel-2 only).
4. **The sensor's rule** (`Sensor.scale_offset`): the acquisition date for Sentinel-2
   (baseline 04.00 from 2022-01-25), Landsat C2 L2 SR DN × 2.75e-5 − 0.2 (ST × 0.00341802 +
   149 K), MODIS × 1e-4.

Where a catalog is known to publish an incomplete rule, the product's own values win over
steps 1–4 (the sensor's `product_values`: Planetary Computer's MOD11A2/MOD21A2 emissivity is
declared ×0.002 without the product's +0.49, view angles without their −65); a declaration that
differs is reported as a conflict.

Nodata follows the same idea: the asset's ``raster:bands[0].nodata``, else its STAC 1.1
``nodata`` (asset or ``bands[0]``), else the sensor's storage default (Planetary Computer's
MODIS items give a scale but no nodata: −3000 for NDVI is then a value unless supplied).

When an item's metadata contradict each other (a truth flag against ``raster:bands``, an
offset against the processing baseline), `Conversion.conflict` says so; `cube.value_rules`
gathers those notes once per run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pystac

from ._sensor import Sensor, Verdict

__all__ = [
    "Conversion",
    "Verdict",
    "asset_nodata",
    "asset_scale_offset",
    "baseline_text",
    "conversion",
    "processing_baseline",
]


@dataclass(frozen=True)
class Conversion:
    """value = DN × `scale` + `offset`; DN == `nodata` is no data. `rule` says what decided."""

    scale: float
    offset: float
    nodata: float | None
    rule: str
    #: a contradiction between the item's metadata, in words (None when they agree)
    conflict: str | None = None


def processing_baseline(properties: Mapping[str, Any]) -> tuple[int, ...] | None:
    """The processing baseline as numbers (``"05.09"`` → (5, 9)), from ``s2:processing_baseline``
    (Earth Search, Planetary Computer) or ``processing:version`` (CDSE); None when absent."""
    for key in ("s2:processing_baseline", "processing:version"):
        value = properties.get(key)
        if value is None:
            continue
        numbers = tuple(int(n) for n in re.findall(r"\d+", str(value)))
        if numbers:
            return numbers
    return None


def baseline_text(baseline: tuple[int, ...]) -> str:
    """A processing baseline as written in the items: (5, 9) → ``"05.09"``."""
    return ".".join(f"{n:02d}" for n in baseline)


def asset_scale_offset(asset: pystac.Asset) -> tuple[float, float] | None:
    """The asset's declared (scale, offset) in either STAC form; None when it declares none."""
    extra = asset.extra_fields
    rb = (extra.get("raster:bands") or [{}])[0]
    if "scale" in rb or "offset" in rb:
        return float(rb.get("scale", 1.0)), float(rb.get("offset", 0.0))
    for where in (extra, *(extra.get("bands") or [{}])[:1]):
        if "raster:scale" in where or "raster:offset" in where:
            return float(where.get("raster:scale", 1.0)), float(where.get("raster:offset", 0.0))
    return None


def asset_nodata(asset: pystac.Asset) -> tuple[bool, float | None]:
    """(declared, nodata) of an asset in either STAC form."""
    extra = asset.extra_fields
    rb = (extra.get("raster:bands") or [{}])[0]
    for where in (rb, extra, *(extra.get("bands") or [{}])[:1]):
        if "nodata" in where:
            return True, _number(where["nodata"])
    return False, None


def _number(value: Any) -> float | None:
    return None if value is None else float(value)  # STAC also allows "nan", "inf", "-inf"


def conversion(item: pystac.Item, key: str, band: str, sensor: Sensor) -> Conversion:
    """The DN → value rule of asset `key` (common name `band`) of `item`, by the precedence
    of this module's docstring."""
    asset = item.assets[key]
    has_nodata, nodata = asset_nodata(asset)
    if not has_nodata:
        nodata = sensor.storage(band)["nodata"]
    if band in sensor.qa_bands:
        return Conversion(1.0, 0.0, nodata, "quality band: not scaled")
    declared = asset_scale_offset(asset)
    fixed = sensor.product_values.get(band)
    if fixed is not None:  # an offset the catalog omits (PC's MOD11/MOD21 emissivity +0.49)
        scale, offset = fixed
        differs = declared is not None and not (
            math.isclose(declared[0], scale) and math.isclose(declared[1], offset, abs_tol=1e-9)
        )
        conflict = (
            f"asset declares ×{declared[0]:g} {declared[1]:+g}; the product defines "
            f"×{scale:g} {offset:+g}, kept"
            if differs and declared is not None
            else None
        )
        return Conversion(scale, offset, nodata, f"{sensor.name} product values", conflict)
    note = None
    for prop, decide in sensor.truth_flags.items():
        if prop in item.properties:
            verdict = decide(item, declared)
            if verdict.offset is not None:
                scale = declared[0] if declared is not None else 1e-4
                return Conversion(scale, verdict.offset, nodata, f"{prop}: true", verdict.note)
            note = verdict.note
    baseline = processing_baseline(item.properties) if sensor.baseline_offset else None
    if declared is not None:
        conflict = note or _baseline_conflict(baseline, declared[1], sensor)
        return Conversion(declared[0], declared[1], nodata, "asset scale/offset", conflict)
    scale, offset = sensor.scale_offset(item.properties, band)  # Sentinel-2: baseline, date
    if baseline is not None:
        why = f"processing baseline {baseline_text(baseline)}"
    else:
        why = sensor.rule_name or f"{sensor.name} rule"
    return Conversion(float(scale), float(offset), nodata, why, note)


def _baseline_conflict(
    baseline: tuple[int, ...] | None, offset: float, sensor: Sensor
) -> str | None:
    if baseline is None or sensor.baseline_offset is None:
        return None
    expected = sensor.baseline_offset(baseline)
    if math.isclose(offset, expected, abs_tol=1e-9):
        return None
    text = baseline_text(baseline)
    return f"asset offset {offset:g} kept although processing baseline {text} implies {expected:g}"
