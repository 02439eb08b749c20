"""Backfills: plan runs over a range of partitions, track their progress, run them locally."""

from assay.backfill.execute import BACKFILL_TAG, execute_backfill
from assay.backfill.plan import (
    BackfillPlan,
    BackfillPlanError,
    BackfillRun,
    MaterializedPartitions,
    plan_backfill,
)
from assay.backfill.state import (
    BackfillState,
    BackfillStateError,
    BackfillStatus,
    RunProgress,
)

__all__ = [
    "BACKFILL_TAG",
    "BackfillPlan",
    "BackfillPlanError",
    "BackfillRun",
    "BackfillState",
    "BackfillStateError",
    "BackfillStatus",
    "MaterializedPartitions",
    "RunProgress",
    "execute_backfill",
    "plan_backfill",
]
