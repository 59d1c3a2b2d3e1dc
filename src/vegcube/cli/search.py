"""`vegcube search RECIPE`: list the scenes a run would use, and the clear-sky revisit per month."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from ._common import exit_codes

if TYPE_CHECKING:
    import pystac


class Format(str, Enum):
    table = "table"
    json = "json"
    geojson = "geojson"


def search(
    recipe: Path = typer.Argument(..., help="Recipe file (YAML or TOML)."),
    format: Format = typer.Option(
        Format.table,
        "--format",
        "-f",
        help="table: scenes and a per-month summary; json: a STAC ItemCollection; "
        "geojson: a FeatureCollection of footprints.",
    ),
    quicklooks: Path | None = typer.Option(
        None,
        "--quicklooks",
        help="Also write per scene an RGB PNG of the area with the cloud/shadow mask (magenta) "
        "and its dilation (yellow) drawn over it, and contact_sheet.png, into this folder.",
    ),
) -> None:
    """Search the recipe's catalog and print the scenes a run would use (no pixel read,
    unless --quicklooks)."""
    import pystac

    from ..catalog import latency, monthly_summary
    from ..planning import plan

    with exit_codes():
        p = plan(recipe)
        months = monthly_summary(p.items, start=p.recipe.time.start, end=p.recipe.time.end)
        if quicklooks is not None:
            from .. import quicklook

            written = quicklook.write(p, quicklooks)
            Console(stderr=True).print(
                f"{len(written) - 1} quicklooks and {written[-1].name} written to {quicklooks}"
            )
    out = Console(highlight=False, soft_wrap=True)
    if format is Format.json:
        doc = pystac.ItemCollection(p.items).to_dict(transform_hrefs=False)
        out.print_json(json.dumps(doc))
    elif format is Format.geojson:
        out.print_json(json.dumps(_footprints(p.items)))
    else:
        out.print(_scenes_table(p.items))
        out.print(_months_table(months))
        lat = latency(p.items)
        if lat:
            out.print(_latency_table(lat))
        if p.duplicates:
            out.print(f"{len(p.duplicates)} scenes found in several collections: each used once")


def _tile(item: pystac.Item) -> str:
    from ..catalog import scene_key

    key = scene_key(item)
    return key[2] if len(key) == 4 else ""


def _footprints(items: list[pystac.Item]) -> dict[str, Any]:
    from ..catalog import acquired

    features = [
        {
            "type": "Feature",
            "id": it.id,
            "geometry": it.geometry,
            "bbox": it.bbox,
            "properties": {
                "id": it.id,
                "collection": it.collection_id,
                "datetime": acquired(it).isoformat(),  # a composite's start
                "platform": it.properties.get("platform"),
                "tile": _tile(it) or None,
                "eo:cloud_cover": it.properties.get("eo:cloud_cover"),
            },
        }
        for it in items
    ]
    return {"type": "FeatureCollection", "features": features}


def _scenes_table(items: list[pystac.Item]) -> Table:
    from ..catalog import acquired

    table = Table(title=f"{len(items)} scenes", title_justify="left")
    for name, justify in (
        ("date", "left"),
        ("platform", "left"),
        ("tile", "left"),
        ("cloud %", "right"),
        ("id", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for it in items:
        cloud = it.properties.get("eo:cloud_cover")
        table.add_row(
            f"{acquired(it):%Y-%m-%d %H:%M}",
            str(it.properties.get("platform", "")),
            _tile(it),
            "" if cloud is None else f"{cloud:.1f}",
            it.id,
        )
    return table


def _months_table(months: list[Any]) -> Table:
    table = Table(
        title="per month: scenes and equivalent clear scenes = Σ (1 − cloud cover)",
        title_justify="left",
    )
    table.add_column("month")
    table.add_column("scenes", justify="right")
    table.add_column("equivalent clear", justify="right")
    unknown = any(m.unknown_cloud for m in months)
    if unknown:
        table.add_column("no cloud cover", justify="right")
    for m in months:
        row = [m.month, str(m.scenes), f"{m.clear_equivalent:.1f}"]
        table.add_row(*row, *([str(m.unknown_cloud)] if unknown else []))
    return table


def _latency_table(lat: dict[str, dict[str, Any]]) -> Table:
    table = Table(
        title="product latency: days from acquisition to publication (as the catalog says)",
        title_justify="left",
    )
    for name in ("collection", "field", "items", "median", "min", "max"):
        table.add_column(name, justify="left" if name in ("collection", "field") else "right")
    for coll, v in lat.items():
        spread = (f"{v[k]:.1f}" for k in ("median_days", "min_days", "max_days"))
        table.add_row(coll, v["field"], str(v["items"]), *spread)
    return table
