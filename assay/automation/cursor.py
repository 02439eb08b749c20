"""The automation cursor: what one tick leaves for the next.

It holds the storage id and time the tick saw, what it requested, which assets must
be looked at again (``unstable``), and per asset the condition it evaluated, the
code version, the number of partitions, and the memory of its stateful nodes.
Serialised to JSON with subsets in their compact form; per-asset entries read back
from JSON are decoded lazily, when the asset is next evaluated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from assay.automation.collector import collector_paused
from assay.automation.condition import ConditionResult
from assay.automation.errors import AutomationError, InvalidAutomationCursor
from assay.automation.subsets import AssetSubset, subset_from_serializable
from assay.definitions.asset_key import AssetKey
from assay.partitions import PartitionsDefinition

CURSOR_VERSION = 1


@dataclass(frozen=True)
class AssetCursor:
    """One asset's memory between ticks."""

    condition: str
    code_version: str | None
    num_partitions: int
    node_state: Mapping[str, AssetSubset]
    explanation: ConditionResult | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "condition": self.condition,
            "code_version": self.code_version,
            "num_partitions": self.num_partitions,
            "state": {path: s.to_serializable() for path, s in self.node_state.items()},
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], partitions_def: PartitionsDefinition | None
    ) -> AssetCursor:
        return cls(
            condition=data["condition"],
            code_version=data.get("code_version"),
            num_partitions=int(data["num_partitions"]),
            node_state={
                path: subset_from_serializable(raw, partitions_def)
                for path, raw in data.get("state", {}).items()
            },
        )


@dataclass(frozen=True)
class AutomationCursor:
    """Everything the next tick needs; ``AutomationCursor()`` is the first tick's."""

    evaluation_time: datetime | None = None
    storage_id: int | None = None
    assets: Mapping[AssetKey, AssetCursor | Mapping[str, Any]] = field(default_factory=dict)
    requested: Mapping[AssetKey, AssetSubset | Mapping[str, Any]] = field(default_factory=dict)
    unstable: frozenset[AssetKey] = frozenset()
    #: the in-memory plan of the definitions that produced it (never serialised): when the
    #: next tick runs on the same definitions object, per-asset definition checks are skipped
    plan_token: object = field(default=None, compare=False, repr=False)

    @property
    def is_first_tick(self) -> bool:
        return self.evaluation_time is None

    def asset(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None
    ) -> AssetCursor | None:
        """The asset's entry; None when unknown or when it no longer fits its definition."""
        entry = self.assets.get(key)
        if entry is None or isinstance(entry, AssetCursor):
            return entry
        try:
            return AssetCursor.from_dict(entry, partitions_def)
        except (AutomationError, KeyError, ValueError):
            return None  # the asset changed shape: it is evaluated afresh

    def requested_subset(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None
    ) -> AssetSubset | None:
        entry = self.requested.get(key)
        if entry is None or not isinstance(entry, Mapping):
            return entry  # type: ignore[return-value]
        try:
            return subset_from_serializable(dict(entry), partitions_def)
        except (AutomationError, KeyError, ValueError):
            return None

    def to_json(self) -> str:
        def asset_dict(entry: AssetCursor | Mapping[str, Any]) -> Any:
            return entry.to_dict() if isinstance(entry, AssetCursor) else entry

        def subset_dict(entry: Any) -> Any:
            return entry if isinstance(entry, Mapping) else entry.to_serializable()

        with collector_paused():
            return self._to_json(asset_dict, subset_dict)

    def _to_json(self, asset_dict: Any, subset_dict: Any) -> str:
        return json.dumps(
            {
                "version": CURSOR_VERSION,
                "evaluation_time": None
                if self.evaluation_time is None
                else self.evaluation_time.isoformat(),
                "storage_id": self.storage_id,
                "assets": {k.to_user_string(): asset_dict(v) for k, v in self.assets.items()},
                "requested": {
                    k.to_user_string(): subset_dict(v) for k, v in self.requested.items()
                },
                "unstable": sorted(k.to_user_string() for k in self.unstable),
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> AutomationCursor:
        """Read a cursor back; raises InvalidAutomationCursor naming what is wrong."""
        try:
            with collector_paused():
                data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidAutomationCursor(f"the automation cursor is not JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("version") != CURSOR_VERSION:
            raise InvalidAutomationCursor(
                f"unsupported automation cursor (expected version {CURSOR_VERSION})"
            )
        when = data.get("evaluation_time")
        key = AssetKey.from_user_string
        return cls(
            evaluation_time=None if when is None else datetime.fromisoformat(when).astimezone(UTC),
            storage_id=data.get("storage_id"),
            assets={key(k): v for k, v in data.get("assets", {}).items()},
            requested={key(k): v for k, v in data.get("requested", {}).items()},
            unstable=frozenset(key(k) for k in data.get("unstable", ())),
        )
