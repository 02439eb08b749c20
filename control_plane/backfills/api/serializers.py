from __future__ import annotations

from rest_framework import serializers

from assay.backfill import BackfillStatus
from control_plane.backfills.planning import DEFAULT_MAX_CONCURRENT_RUNS, MAX_CONCURRENT_RUNS
from control_plane.core.api.serializers import StrictSerializer, TagsField
from control_plane.runs.api.serializers import PartitionRangeSerializer

PARTITION_STATUSES = "one of " + ", ".join(s.value for s in BackfillStatus)


class BackfillLaunchSerializer(StrictSerializer):
    location = serializers.CharField(max_length=100, required=False, default="")
    selection = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    partition_range = PartitionRangeSerializer(required=False, allow_null=True, default=None)
    partition_keys = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        allow_null=True,
        default=None,
        min_length=1,
        max_length=10_000,
    )
    all_missing = serializers.BooleanField(required=False, default=False)
    max_concurrent_runs = serializers.IntegerField(
        min_value=1,
        max_value=MAX_CONCURRENT_RUNS,
        required=False,
        default=DEFAULT_MAX_CONCURRENT_RUNS,
    )
    tags = TagsField(required=False, default=dict)

    def validate(self, attrs):
        given = [
            name for name in ("partition_range", "partition_keys") if attrs.get(name) is not None
        ] + (["all_missing"] if attrs.get("all_missing") else [])
        if len(given) != 1:
            message = "Give exactly one of partition_range, partition_keys or all_missing: true" + (
                f" (got {', '.join(given)})." if given else "."
            )
            raise serializers.ValidationError(
                {name: [message] for name in given or ["partition_range"]}
            )
        return attrs


class BackfillSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    deployment = serializers.CharField(source="deployment.name", read_only=True)
    status = serializers.CharField(read_only=True)
    waiting_reason = serializers.CharField(read_only=True)
    location = serializers.CharField(source="location_name", read_only=True)
    selection = serializers.CharField(read_only=True)
    partition_range = serializers.SerializerMethodField()
    partition_keys = serializers.JSONField(read_only=True)
    all_missing = serializers.BooleanField(read_only=True)
    max_concurrent_runs = serializers.IntegerField(read_only=True)
    tags = serializers.JSONField(read_only=True)
    launched_by = serializers.CharField(read_only=True)
    run_counts = serializers.JSONField(read_only=True)
    partition_counts = serializers.JSONField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_partition_range(self, backfill) -> dict | None:
        if not backfill.partition_range_start:
            return None
        return {"start": backfill.partition_range_start, "end": backfill.partition_range_end}


class PlannedRunSerializer(serializers.Serializer):
    index = serializers.IntegerField(read_only=True)
    description = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True, help_text=PARTITION_STATUSES)
    reason = serializers.CharField(read_only=True, allow_null=True)
    attempts = serializers.IntegerField(read_only=True)
    run_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    asset_statuses = serializers.DictField(child=serializers.CharField(), read_only=True)


class BackfillDetailSerializer(BackfillSerializer):
    """A backfill with its problems: the planned runs that failed, were skipped or canceled
    (the first ``PROBLEMS_SHOWN``), each with its reason."""

    num_runs = serializers.IntegerField(read_only=True)
    problems = PlannedRunSerializer(many=True, read_only=True)
    problem_count = serializers.IntegerField(read_only=True)


class PartitionSerializer(serializers.Serializer):
    asset_key = serializers.CharField(read_only=True)
    partition = serializers.CharField(read_only=True, allow_null=True)
    status = serializers.CharField(read_only=True, help_text=PARTITION_STATUSES)
    reason = serializers.CharField(read_only=True, allow_null=True)
    run_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
