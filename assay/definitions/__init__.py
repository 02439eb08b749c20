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
from assay.definitions.results import AssetObservation, MaterializeResult, Output

__all__ = [
    "AssetCheckKey",
    "AssetCheckResult",
    "AssetCheckSeverity",
    "AssetCheckSpec",
    "AssetChecksDefinition",
    "AssetIn",
    "AssetJob",
    "AssetKey",
    "AssetObservation",
    "AssetSpec",
    "AssetsDefinition",
    "ConfigurableResource",
    "Definitions",
    "EnvVar",
    "FilesystemIOManager",
    "IOManager",
    "InMemoryIOManager",
    "InputContext",
    "MaterializeResult",
    "Output",
    "OutputContext",
    "asset",
    "asset_check",
    "define_asset_job",
    "multi_asset",
    "observable_source_asset",
]
