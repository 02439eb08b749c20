"""Partitions: how an asset is split (by day, by region, ...), and how splits relate.

Pure logic with no I/O: definitions, compact subsets with set algebra, mappings
between upstream and downstream partitions, and backfill policies.
"""

from assay.partitions.backfill_policy import BackfillPolicy
from assay.partitions.base import DynamicPartitionsStore, PartitionsDefinition
from assay.partitions.dynamic import DynamicPartitionsDefinition, InMemoryDynamicPartitionsStore
from assay.partitions.errors import (
    InvalidCronSchedule,
    InvalidPartitionsDefinition,
    InvalidTimezone,
    PartitionsDefinitionMismatch,
    PartitionsError,
    UnknownPartitionKey,
)
from assay.partitions.key_range import PartitionKeyRange
from assay.partitions.mapping import (
    AllPartitionMapping,
    DimensionPartitionMapping,
    IdentityPartitionMapping,
    LastPartitionMapping,
    MultiPartitionMapping,
    MultiToSingleDimensionPartitionMapping,
    PartitionMapping,
    StaticPartitionMapping,
    TimeWindowPartitionMapping,
    infer_partition_mapping,
)
from assay.partitions.multi import (
    MultiPartitionKey,
    MultiPartitionsDefinition,
    PartitionDimensionDefinition,
)
from assay.partitions.snapshot import partition_mapping_from_snapshot, partitions_def_from_snapshot
from assay.partitions.static import StaticPartitionsDefinition
from assay.partitions.subset import (
    KeysPartitionsSubset,
    MultiPartitionsSubset,
    PartitionsSubset,
    TimeWindowPartitionsSubset,
    subset_from_serializable,
)
from assay.partitions.time_window import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    TimeWindow,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
)

__all__ = [
    "AllPartitionMapping",
    "BackfillPolicy",
    "DailyPartitionsDefinition",
    "DimensionPartitionMapping",
    "DynamicPartitionsDefinition",
    "DynamicPartitionsStore",
    "HourlyPartitionsDefinition",
    "IdentityPartitionMapping",
    "InMemoryDynamicPartitionsStore",
    "InvalidCronSchedule",
    "InvalidPartitionsDefinition",
    "InvalidTimezone",
    "KeysPartitionsSubset",
    "LastPartitionMapping",
    "MonthlyPartitionsDefinition",
    "MultiPartitionKey",
    "MultiPartitionMapping",
    "MultiPartitionsDefinition",
    "MultiPartitionsSubset",
    "MultiToSingleDimensionPartitionMapping",
    "PartitionDimensionDefinition",
    "PartitionKeyRange",
    "PartitionMapping",
    "PartitionsDefinition",
    "PartitionsDefinitionMismatch",
    "PartitionsError",
    "PartitionsSubset",
    "StaticPartitionMapping",
    "StaticPartitionsDefinition",
    "TimeWindow",
    "TimeWindowPartitionMapping",
    "TimeWindowPartitionsDefinition",
    "TimeWindowPartitionsSubset",
    "UnknownPartitionKey",
    "WeeklyPartitionsDefinition",
    "infer_partition_mapping",
    "partition_mapping_from_snapshot",
    "partitions_def_from_snapshot",
    "subset_from_serializable",
]
