"""The shape every sensor shares: a frozen `Sensor` record, built by each sensor module."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pystac
    import xarray as xr


__all__ = ["Sensor", "Verdict"]


@dataclass(frozen=True)
class Verdict:
    """What a catalog truth flag says: the offset (None: it does not decide, the next rules
    do), and a note when it contradicts the item's other metadata."""

    offset: float | None
    note: str | None = None


#: DN → value: (item properties, common band name or None) → (scale, offset)
ValueRule = Callable[[Mapping[str, Any], "str | None"], tuple[float, float]]
#: QA decoding: (QA band, flags) → (bad, cloud_like) booleans
QaRule = Callable[["xr.DataArray", Iterable[Hashable]], tuple["xr.DataArray", "xr.DataArray"]]
#: a scene's tile from its item properties (None: the item names no tile)
TileRule = Callable[[Mapping[str, Any]], "str | None"]
#: a catalog truth flag: (item, the asset's declared scale/offset) → what it decides
TruthFlag = Callable[["pystac.Item", "tuple[float, float] | None"], "Verdict"]


def _no_tile(properties: Mapping[str, Any]) -> str | None:
    return None


@dataclass(frozen=True)
class Sensor:
    """Everything the chain knows of one sensor; `sensors.SENSORS` lists them.

    The data fields are read directly; the rules (`value_rule`, `qa_rule`, `tile_rule`) are
    called through `scale_offset`, `invalid` and `tile`, which apply the sensor's defaults.
    """

    #: sensor id: the value of a cube's ``sensor`` coordinate
    name: str
    #: STAC collection ids it describes
    collections: tuple[str, ...]
    #: common band name → asset keys seen in catalogs (first match wins)
    asset_aliases: Mapping[str, tuple[str, ...]]
    #: {data_type, nodata} of the assets, for items without ``raster:bands``
    default_storage: Mapping[str, Any]
    #: DN → physical value when the asset declares no scale/offset (see `scale_offset`)
    value_rule: ValueRule
    #: bands whose storage differs from `default_storage`
    band_storage: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: common name of the QA band the masks decode ("" when the sensor has none)
    qa_band: str = ""
    #: every QA-like band (never scaled, dropped by `mask.apply`)
    qa_bands: tuple[str, ...] = ()
    #: QA bands `invalid` also decodes when `qa_band` is absent (Sentinel-2's QA60)
    qa_fallbacks: tuple[str, ...] = ()
    #: accepted flags (SCL class numbers or bit-flag names) → description
    qa_flags: Mapping[Hashable, str] = field(default_factory=dict)
    #: flags masked when the recipe does not say
    default_flags: tuple[Hashable, ...] = ()
    #: the flags that are clouds or shadows: only these are grown by ``dilate_m``
    cloud_flags: frozenset[Hashable] = frozenset()
    #: the recipe ``mask`` key listing this sensor's flags ("" when it has none)
    mask_key: str = ""
    #: QA decoding (see `invalid`); None: nothing is ever flagged
    qa_rule: QaRule | None = None
    #: index name → band holding it ready-made (MOD13Q1 NDVI); empty otherwise
    index_bands: Mapping[str, str] = field(default_factory=dict)
    #: how a scene's tile is read from its item properties (see `tile`)
    tile_rule: TileRule = _no_tile
    #: attributes of bands that are not reflectances (Landsat's temperature), by band
    band_attrs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: catalog-specific item properties that override the asset's scale/offset, and how
    truth_flags: Mapping[str, TruthFlag] = field(default_factory=dict)
    #: the offset a processing baseline implies (Sentinel-2); None: baselines say nothing
    baseline_offset: Callable[[tuple[int, ...]], float] | None = None
    #: what `value_rule` goes by, in words (default: "<name> rule")
    rule_name: str = ""
    #: its scenes may also be masked by s2cloudless probability (Sentinel-2 L2A)
    cloud_probability: bool = False
    #: bands a cloud-probability model reads from it, in the model's order (Sentinel-2 L1C)
    cloud_bands: tuple[str, ...] = ()
    #: data band → the QA band qualifying it, where not `qa_band` (MOD11A2 night LST: QC_Night)
    band_qa: Mapping[str, str] = field(default_factory=dict)
    #: band → (scale, offset) the product defines, kept whatever the asset declares (Planetary
    #: Computer's MOD11A2/MOD21A2 items omit emissivity's +0.49 and view angles' −65)
    product_values: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    #: reads its items instead of odc-stac (swath products: `vegcube.swath`), with the
    #: signature of `cube.load` for one collection; None: odc-stac
    reader: Callable[..., xr.Dataset] | None = None

    def storage(self, band: str) -> dict[str, Any]:
        """Storage type and nodata of a band's asset (for items without `raster:bands`)."""
        return dict(self.band_storage.get(band, self.default_storage))

    def scale_offset(
        self, properties: Mapping[str, Any], band: str | None = None
    ) -> tuple[float, float]:
        """DN → physical value (scale, offset) from item properties, when the asset has none."""
        return self.value_rule(properties, band)

    def invalid(
        self, qa: xr.DataArray, *, flags: Iterable[Hashable] | None = None
    ) -> tuple[xr.DataArray, xr.DataArray]:
        """(bad, cloud_like) booleans from `qa`: flags not to grow, and flags callers may dilate.

        `flags` defaults to `default_flags`; an unknown flag raises `ValueError`.
        """
        if self.qa_rule is None:
            import xarray as xr

            none = xr.zeros_like(qa, dtype=bool)
            return none, none
        return self.qa_rule(qa, self.default_flags if flags is None else flags)

    def qa_for(self, band: str) -> str:
        """The QA band masking `band`: its own (`band_qa`), else the sensor's `qa_band`."""
        return self.band_qa.get(band, self.qa_band)

    def tile(self, properties: Mapping[str, Any]) -> str | None:
        """The scene's tile (MGRS, WRS-2 path/row, MODIS h/v) from its item properties."""
        return self.tile_rule(properties)

    def attrs(self, band: str) -> dict[str, str]:
        """The ``units`` and ``long_name`` attributes of band `band` once loaded."""
        if band in self.index_bands.values():
            return {"units": "1", "long_name": f"{band} (ready-made by the {self.name} product)"}
        if band in self.band_attrs:
            return dict(self.band_attrs[band])
        return {"units": "1", "long_name": f"{band} surface reflectance"}
