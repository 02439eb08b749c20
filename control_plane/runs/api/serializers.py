from __future__ import annotations

from rest_framework import serializers

from control_plane.core.api.serializers import StrictSerializer, TagsField


class PartitionRangeSerializer(StrictSerializer):
    start = serializers.CharField(max_length=255)
    end = serializers.CharField(max_length=255)


class RunLaunchSerializer(StrictSerializer):
    location = serializers.CharField(max_length=100)
    selection = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    partition_key = serializers.CharField(max_length=255, required=False, default="")
    partition_range = PartitionRangeSerializer(required=False, allow_null=True, default=None)
    tags = TagsField(required=False, default=dict)
    priority = serializers.IntegerField(min_value=-1000, max_value=1000, required=False, default=0)


class RunTerminateSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RunSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    deployment = serializers.CharField(source="deployment.name", read_only=True)
    location = serializers.CharField(source="code_location.name", read_only=True)
    selection = serializers.CharField(read_only=True)
    asset_keys = serializers.JSONField(read_only=True)
    partition_key = serializers.CharField(read_only=True)
    partition_range = serializers.SerializerMethodField()
    tags = serializers.JSONField(read_only=True)
    priority = serializers.IntegerField(read_only=True)
    status = serializers.CharField(read_only=True)
    reason = serializers.CharField(read_only=True)
    retry_count = serializers.IntegerField(read_only=True)
    parent_run_id = serializers.UUIDField(read_only=True, allow_null=True)
    launched_by = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    ended_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_partition_range(self, run) -> dict | None:
        if not run.partition_range_start:
            return None
        return {"start": run.partition_range_start, "end": run.partition_range_end}


class EventSerializer(serializers.Serializer):
    event_id = serializers.CharField(read_only=True)
    sequence = serializers.IntegerField(read_only=True)
    event_type = serializers.CharField(read_only=True)
    asset_key = serializers.CharField(read_only=True)
    partition = serializers.CharField(read_only=True)
    timestamp = serializers.DateTimeField(read_only=True)
    payload = serializers.JSONField(read_only=True)
