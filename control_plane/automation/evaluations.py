"""Automation's explanations: why each asset was or was not requested, per tick.

Every asset a tick evaluated gets a row with its condition's explanation tree
(``ConditionResult.to_dict()``); assets whose inputs did not change are not evaluated
and keep their previous row as their latest explanation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from assay.automation.evaluate import AutomationResult
from assay.definitions.asset_key import AssetKey
from control_plane.automation.models import AutomationEvaluation, DaemonTick
from control_plane.catalog.errors import AssetNotFound
from control_plane.catalog.models import AssetDefinition
from control_plane.core import bulk
from control_plane.core.errors import NotFound
from control_plane.tenancy.models import Deployment

_COLUMNS = (
    "organization_id",
    "deployment_id",
    "tick_id",
    "asset_key",
    "evaluation_time",
    "num_requested",
    "requested",
    "run_ids",
    "explanation",
)


def save_evaluations(
    *,
    tick: DaemonTick,
    result: AutomationResult,
    run_ids: Mapping[AssetKey, Sequence[str]],
) -> int:
    """Store the explanation of every asset ``result`` evaluated; returns how many."""
    rows: list[tuple[Any, ...]] = []
    for key, evaluation in result.evaluations.items():
        if not evaluation.evaluated:
            continue
        requested = evaluation.requested
        rows.append(
            (
                tick.organization_id,
                tick.deployment_id,
                tick.pk,
                key.to_user_string(),
                result.evaluation_time,
                len(requested),
                requested.to_serializable() if requested else None,
                list(run_ids.get(key, ())),
                None if evaluation.explanation is None else evaluation.explanation.to_dict(),
            )
        )
    if not rows:
        return 0
    if bulk.is_supported():
        with transaction.atomic():  # core.bulk stages rows in a table emptied at commit
            _insert(rows)
    else:
        AutomationEvaluation.objects.bulk_create(
            [AutomationEvaluation(**dict(zip(_COLUMNS, row, strict=True))) for row in rows],
            batch_size=500,
        )
    return len(rows)


def _insert(rows: list[tuple[Any, ...]]) -> None:
    json_at = {_COLUMNS.index(c) for c in ("requested", "run_ids", "explanation")}
    bulk.insert_rows(
        table=AutomationEvaluation._meta.db_table,
        columns=_COLUMNS,
        rows=(
            [json.dumps(v) if i in json_at and v is not None else v for i, v in enumerate(r)]
            for r in rows
        ),
    )


def evaluations_of_asset(*, deployment: Deployment, asset_key: str) -> QuerySet:
    """The asset's evaluations (the newest is its latest explanation); ``AssetNotFound``
    for a key that is neither a current asset nor was ever evaluated."""
    key = asset_key.strip("/")
    found = AutomationEvaluation.objects.filter(deployment=deployment, asset_key=key)
    if not found.exists() and not _is_current_asset(deployment, key):
        raise AssetNotFound(f"asset {key!r} not found")
    return found.select_related("tick")


def _is_current_asset(deployment: Deployment, asset_key: str) -> bool:
    return AssetDefinition.objects.filter(
        deployment=deployment, asset_key=asset_key, snapshot__is_current=True
    ).exists()


def evaluations_of_tick(*, deployment: Deployment, tick_id: int) -> QuerySet:
    """Every asset one automation tick evaluated, by asset key."""
    tick = DaemonTick.objects.filter(deployment=deployment, pk=tick_id).first()
    if tick is None:
        raise NotFound(f"no tick {tick_id} in deployment {deployment.name!r}")
    return AutomationEvaluation.objects.filter(tick=tick).select_related("tick")
