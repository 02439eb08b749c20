"""Jobs: named asset selections that schedules, sensors and people launch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AssetJob:
    """A named selection of assets (selection syntax as on the CLI)."""

    name: str
    selection: str = "*"
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    # Seam for partitioned jobs.
    partitions_def: Any = None


def define_asset_job(
    name: str,
    selection: str = "*",
    *,
    description: str | None = None,
    tags: dict[str, str] | None = None,
    partitions_def: Any = None,
) -> AssetJob:
    """Name a selection so it can be scheduled, sensed or launched by name."""
    return AssetJob(name, selection, description, dict(tags or {}), partitions_def)
