"""What asset and check functions return: values wrapped with metadata, and observations."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assay.definitions.asset_key import AssetKey, CoercibleToAssetKey

if TYPE_CHECKING:
    from assay.definitions.checks import AssetCheckResult


def normalize_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Make metadata JSON-serialisable so it can cross to the control plane as-is."""
    if not metadata:
        return {}
    return {str(k): _json_value(v) for k, v in metadata.items()}


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, AssetKey):
        return value.to_user_string()
    return str(value)


@dataclass(frozen=True)
class Output:
    """A value for the IO manager to store, plus metadata about it."""

    value: Any
    metadata: Mapping[str, Any] = field(default_factory=dict)
    asset_key: AssetKey | None = None
    data_version: str | None = None

    def __init__(
        self,
        value: Any,
        metadata: Mapping[str, Any] | None = None,
        *,
        asset_key: CoercibleToAssetKey | None = None,
        output_name: str | None = None,
        data_version: str | None = None,
    ) -> None:
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "metadata", dict(metadata or {}))
        key = asset_key if asset_key is not None else output_name
        object.__setattr__(self, "asset_key", AssetKey.from_coercible(key) if key else None)
        object.__setattr__(self, "data_version", data_version)


@dataclass(frozen=True)
class MaterializeResult:
    """The asset stored its data itself; report metadata and check results only.

    Nothing is handed to the IO manager, so downstream assets that load this
    asset by parameter need an IO manager that can find the data.
    """

    metadata: Mapping[str, Any] = field(default_factory=dict)
    check_results: Sequence[AssetCheckResult] = ()
    asset_key: AssetKey | None = None
    data_version: str | None = None

    def __init__(
        self,
        *,
        asset_key: CoercibleToAssetKey | None = None,
        metadata: Mapping[str, Any] | None = None,
        check_results: Sequence[AssetCheckResult] = (),
        data_version: str | None = None,
    ) -> None:
        object.__setattr__(self, "metadata", dict(metadata or {}))
        object.__setattr__(self, "check_results", tuple(check_results))
        object.__setattr__(
            self, "asset_key", AssetKey.from_coercible(asset_key) if asset_key else None
        )
        object.__setattr__(self, "data_version", data_version)


@dataclass(frozen=True)
class AssetObservation:
    """A fact recorded about an asset Assay did not produce (version, row count, freshness)."""

    asset_key: AssetKey | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    data_version: str | None = None

    def __init__(
        self,
        *,
        asset_key: CoercibleToAssetKey | None = None,
        metadata: Mapping[str, Any] | None = None,
        data_version: str | None = None,
    ) -> None:
        object.__setattr__(
            self, "asset_key", AssetKey.from_coercible(asset_key) if asset_key else None
        )
        object.__setattr__(self, "metadata", dict(metadata or {}))
        object.__setattr__(self, "data_version", data_version)


@dataclass(frozen=True)
class AssetFailure:
    """One asset of a subsettable multi-asset failed (or was skipped) while the others ran.

    Yielded instead of a result, e.g. for the dbt models whose SQL failed: the asset is
    marked failed, its downstream assets are skipped, and its siblings still count.
    """

    asset_key: AssetKey
    message: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    skipped: bool = False

    def __init__(
        self,
        *,
        asset_key: CoercibleToAssetKey,
        message: str,
        metadata: Mapping[str, Any] | None = None,
        skipped: bool = False,
    ) -> None:
        object.__setattr__(self, "asset_key", AssetKey.from_coercible(asset_key))
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "metadata", dict(metadata or {}))
        object.__setattr__(self, "skipped", skipped)
