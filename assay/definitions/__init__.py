"""What users declare: assets, checks, resources, IO managers, jobs and `Definitions`."""

from assay.definitions.asset_key import AssetKey
from assay.definitions.assets import (
    AssetIn,
    AssetsDefinition,
    AssetSpec,
    asset,
    multi_asset,
    observable_source_asset,
)
from assay.definitions.checks import (
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    asset_check,
)
from assay.definitions.default_status import DefaultScheduleStatus, DefaultSensorStatus
from assay.definitions.definitions import Definitions
from assay.definitions.io_managers import (
    FilesystemIOManager,
    InMemoryIOManager,
    InputContext,
    IOManager,
    OutputContext,
)
from assay.definitions.jobs import AssetJob, define_asset_job
from assay.definitions.resources import ConfigurableResource, EnvVar
from assay.definitions.results import AssetFailure, AssetObservation, MaterializeResult, Output
from assay.definitions.schedules import (
    ScheduleDefinition,
    ScheduleEvaluationContext,
    build_schedule_from_partitioned_job,
    evaluate_schedule,
    schedule,
)
from assay.definitions.sensors import (
    AddDynamicPartitionsRequest,
    DeleteDynamicPartitionsRequest,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorEvaluationError,
    SensorResult,
    SkipReason,
    apply_dynamic_partitions_requests,
    dedupe_run_requests,
    evaluate_sensor,
    sensor,
)

__all__ = [
    "AddDynamicPartitionsRequest",
    "AssetCheckKey",
    "AssetCheckResult",
    "AssetCheckSeverity",
    "AssetCheckSpec",
    "AssetChecksDefinition",
    "AssetFailure",
    "AssetIn",
    "AssetJob",
    "AssetKey",
    "AssetObservation",
    "AssetSpec",
    "AssetsDefinition",
    "ConfigurableResource",
    "DefaultScheduleStatus",
    "DefaultSensorStatus",
    "Definitions",
    "DeleteDynamicPartitionsRequest",
    "EnvVar",
    "FilesystemIOManager",
    "IOManager",
    "InMemoryIOManager",
    "InputContext",
    "MaterializeResult",
    "Output",
    "OutputContext",
    "RunRequest",
    "ScheduleDefinition",
    "ScheduleEvaluationContext",
    "SensorDefinition",
    "SensorEvaluationContext",
    "SensorEvaluationError",
    "SensorResult",
    "SkipReason",
    "apply_dynamic_partitions_requests",
    "asset",
    "asset_check",
    "build_schedule_from_partitioned_job",
    "dedupe_run_requests",
    "define_asset_job",
    "evaluate_schedule",
    "evaluate_sensor",
    "multi_asset",
    "observable_source_asset",
    "schedule",
    "sensor",
]
