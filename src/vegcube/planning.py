"""Plan a run: everything checked before a pixel is read.

The recipe validated, the AOI read, the catalog searched (one acquisition used once), the
bands checked against the items, the grid sized, the output folder checked, the regions
read: a `Plan` is what `chain.execute` runs, the same for `vegcube run` and `vegcube update`.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pystac

from . import aoi as aoi_mod
from . import catalog, composite, cube, indices, mask, sensors, zonal
from .errors import BandError, RecipeError, SourceError
from .recipe import Recipe, load_recipe

__all__ = ["Plan", "plan", "storage_options"]


@dataclass
class Plan:
    """Everything checked before any pixel is read."""

    recipe: Recipe
    geometry: Any
    grid: Any
    items: list[pystac.Item]
    bands: list[str]
    regions: zonal.Regions | None = None
    lst_items: list[pystac.Item] = field(default_factory=list)
    #: L1C scenes paired by solar day with Sentinel-2 scenes (`mask.cloud_probability`)
    cloud_items: list[pystac.Item] = field(default_factory=list)
    #: how DN become values per collection and band, and contradictions found (`cube.value_rules`)
    value_rules: dict[str, Any] = field(default_factory=dict)
    #: the same acquisition found in several collections: item id → the id kept instead
    duplicates: dict[str, str] = field(default_factory=dict)
    #: `lst` scenes left out of the temperature series because they have no thermal asset
    lst_without_band: list[str] = field(default_factory=list)


def plan(recipe: Recipe | dict[str, Any] | str | os.PathLike[str]) -> Plan:
    """Validate the recipe, read the AOI, search the catalog and check bands: no pixel read.

    Raises `RecipeError`/`SourceError`/`BandError` (exit code 2) on bad input.
    """
    rc = load_recipe(recipe)
    geom = aoi_mod.read_aoi(rc.aoi)
    try:
        gbox = aoi_mod.grid(geom, crs=rc.grid.crs, resolution=rc.grid.resolution)
    except Exception as exc:  # pyproj/odc-geo raise several kinds for a bad CRS
        raise RecipeError(f"grid.crs: cannot use {rc.grid.crs!r} ({exc})") from exc
    pixels = gbox.shape.x * gbox.shape.y
    if pixels > rc.grid.max_pixels:
        unit = gbox.crs.units[0] if gbox.crs is not None and gbox.crs.units else "CRS units"
        raise RecipeError(
            f"grid.resolution: {rc.grid.resolution:g} {unit} gives a grid of "
            f"{gbox.shape.y:,} × {gbox.shape.x:,} = {pixels:,} px over the AOI, more than "
            f"grid.max_pixels ({rc.grid.max_pixels:,}); the resolution is in {unit} of "
            f"{gbox.crs}: e.g. 10 for Sentinel-2 on a metric CRS"
        )
    _check_output_dir(Path(rc.output.dir))
    colls = rc.source.collections
    per = {c: indices.bands_for(c, rc.indices) for c in colls}  # SourceError: unknown collection
    bands = list(dict.fromkeys(b for c in colls for b in per[c]))
    scl_only = composite.get(rc.composite.reducer).needs_qa
    if scl_only and any(sensors.for_collection(c).qa_band != "scl" for c in colls):
        raise RecipeError(
            f"composite.reducer: {rc.composite.reducer!r} scores scenes by their Sentinel-2 "
            f"SCL; use median, mean, max or min with {', '.join(colls)}"
        )
    radar = [c for c in colls if c in sensors.SENTINEL1.collections]
    if rc.mask.speckle is not None and not radar:
        raise RecipeError(
            f"mask.speckle: filters radar backscatter; source.collection ({', '.join(colls)}) "
            "has none: use sentinel-1-rtc or remove mask.speckle"
        )
    db = [i for i in rc.indices if indices.resolve(i).decibels]
    if db and "pct_normal" in rc.indicators:
        raise RecipeError(
            f"indicators: pct_normal (100·x/mean) has no meaning for values in dB "
            f"({', '.join(db)}); use anomaly (in dB) and zscore, or the linear index "
            f"{db[0].removesuffix('_db')}"
        )
    items: list[pystac.Item] = []
    for coll in colls:
        found = catalog.search(
            rc.source.catalog,
            collection=coll,
            bbox=tuple(geom.boundingbox),  # type: ignore[arg-type]
            start=rc.time.start,
            end=rc.time.end,
            max_cloud_cover=rc.source.max_cloud_cover,
        )
        if rc.source.orbit_state is not None:  # radar: one direction, never both mixed
            state = sensors.sentinel1.orbit_state
            found = [it for it in found if state(it.properties) == rc.source.orbit_state]
        if found:
            try:
                cube.asset_keys(found, per[coll], collection=coll)
            except BandError as exc:  # name the recipe's index that needs the band
                qa = sensors.for_collection(coll).qa_band
                needing = [
                    i
                    for i in rc.indices
                    if exc.band != qa and exc.band in indices.bands_for(coll, [i])
                ]
                where = f"indices ({', '.join(needing)})" if needing else "source.collection"
                raise BandError(str(exc), band=exc.band, field=where) from None
        items += found
    if not items:
        raise SourceError(
            f"source: no {' or '.join(colls)} scenes in {rc.source.catalog} intersect the AOI "
            f"between {rc.time.start} and {rc.time.end} with eo:cloud_cover ≤ "
            f"{rc.source.max_cloud_cover}; check aoi, time and source.max_cloud_cover"
        )
    items, duplicates = catalog.one_per_acquisition(items, preference=colls)
    if rc.reference is not None:
        first, last = catalog.acquired(items[0]), catalog.acquired(items[-1])
        if rc.reference.end < first.date() or rc.reference.start > last.date():
            raise RecipeError(
                f"reference: {rc.reference.start}..{rc.reference.end} holds no scene; the data "
                f"found spans {first.date()}..{last.date()}"
            )
    regions = None
    if rc.regions is not None:  # read now: a bad regions file is bad input, found before work
        regions = zonal.read_regions(
            rc.regions.path, id=rc.regions.id, layer=rc.regions.layer, aoi=geom
        )
    cloud_items: list[pystac.Item] = []
    cp = rc.mask.cloud_probability
    if cp is not None:
        field_ = "mask.cloud_probability"
        if not any(sensors.for_collection(c).cloud_probability for c in colls):
            raise RecipeError(f"{field_}: needs a Sentinel-2 L2A collection in source.collection")
        try:
            mask.cloud_probability_model()
        except ModuleNotFoundError as exc:
            raise RecipeError(f"{field_}: {exc}") from None
        try:
            found = catalog.search(
                cp.catalog or rc.source.catalog,
                collection=cp.collection,
                bbox=tuple(geom.boundingbox),  # type: ignore[arg-type]
                start=rc.time.start - dt.timedelta(days=1),
                end=rc.time.end + dt.timedelta(days=1),
            )
        except SourceError as exc:  # name this section's keys, not source's
            key = (exc.field or "").removeprefix("source.")
            raise exc.at(f"{field_}.{key}") if key else exc from None
        if found:
            try:
                cube.asset_keys(found, mask.CLOUD_PROBABILITY_BANDS, collection=cp.collection)
            except BandError as exc:
                raise BandError(f"{field_}.collection: {exc}") from None
        # pair by local solar day (as cube.load groups scenes) with the Sentinel-2 scenes
        lon = aoi_mod.centre(gbox)[0]

        def day(it: pystac.Item) -> dt.date:
            return catalog.scene_day(it, lon)

        s2_days = {
            day(it)
            for it in items
            if sensors.for_collection(it.collection_id or colls[0]).cloud_probability
        }
        cloud_items = [it for it in found if day(it) in s2_days]
    lst_items, lst_without = _lst_items(rc, geom)
    return Plan(
        rc,
        geom,
        gbox,
        items,
        bands,
        regions,
        lst_items,
        cloud_items=cloud_items,
        value_rules=cube.value_rules(items, bands),
        duplicates=duplicates,
        lst_without_band=lst_without,
    )


def _check_output_dir(out: Path) -> None:
    """`output.dir` must be a folder, or creatable where its nearest existing parent is a
    writable folder: checked before any work (RecipeError naming output.dir)."""
    if out.exists():
        if not out.is_dir():
            raise RecipeError(f"output.dir: {out} exists and is not a folder; name a folder")
        if not os.access(out, os.W_OK | os.X_OK):
            raise RecipeError(f"output.dir: {out} is not writable; name a writable folder")
        return
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise RecipeError(f"output.dir: {out} cannot be created: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RecipeError(f"output.dir: {out} cannot be created: {parent} is not writable")


def _lst_items(rc: Recipe, geom: Any) -> tuple[list[pystac.Item], list[str]]:
    """The scenes of the land-surface-temperature source (`lst`, each of its collections),
    bands checked, and the ids of those left out for having no thermal asset (Landsat L2SR:
    surface reflectance only)."""
    if rc.lst is None:
        return [], []
    spec = rc.lst
    where = spec.catalog or rc.source.catalog
    items: list[pystac.Item] = []
    without: list[str] = []
    for coll in spec.collections:
        band = spec.band_of(coll)
        found = catalog.search(
            where,
            collection=coll,
            bbox=tuple(geom.boundingbox),
            start=rc.time.start,
            end=rc.time.end,
            max_cloud_cover=spec.max_cloud_cover,
        )
        sensor = sensors.for_collection(coll)
        aliases = sensor.asset_aliases.get(band, (band,))
        lacking = [it.id for it in found if not any(a in it.assets for a in aliases)]
        found = [it for it in found if it.id not in lacking]
        if not found:
            extra = f" ({len(lacking)} without a {band!r} asset)" if lacking else ""
            raise SourceError(
                f"lst: no {coll} scenes with a {band!r} asset in {where} intersect "
                f"the AOI between {rc.time.start} and {rc.time.end}{extra}; check lst.catalog, "
                "lst.collection and lst.band"
            )
        try:
            qa = sensor.qa_for(band)  # the band's own QA (MODIS night LST: QC_Night)
            cube.asset_keys(found, [band, qa] if qa else [band], collection=coll)
        except BandError as exc:
            raise BandError(f"lst.band: {exc}") from None
        items += found
        without += lacking
    return items, without


def storage_options(p: Plan) -> dict[str, str]:
    """GDAL options for the object storage of every asset the plan reads."""
    return catalog.storage_env([*p.items, *p.lst_items, *p.cloud_items])
