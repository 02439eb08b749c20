"""Response shapes of the catalog endpoints (for the OpenAPI schema)."""

from __future__ import annotations

from rest_framework import serializers


class LatestMaterializationSerializer(serializers.Serializer):
    run_id = serializers.UUIDField()
    partition = serializers.CharField(allow_null=True)
    timestamp = serializers.DateTimeField()


class PartitionSummarySerializer(serializers.Serializer):
    """Counts by latest outcome; ``total`` and ``missing`` are null when the partition keys
    are not known here (dynamic partitions)."""

    total = serializers.IntegerField(allow_null=True)
    materialized = serializers.IntegerField()
    failed = serializers.IntegerField()
    missing = serializers.IntegerField(allow_null=True)
    failed_keys = serializers.ListField(child=serializers.CharField())


class CheckStatusSerializer(serializers.Serializer):
    name = serializers.CharField()
    passed = serializers.BooleanField()
    severity = serializers.CharField()
    run_id = serializers.UUIDField()
    timestamp = serializers.DateTimeField()


class FreshnessSerializer(serializers.Serializer):
    """The asset's freshness policy judged now (see docs/alerts.md)."""

    status = serializers.ChoiceField(choices=["fresh", "stale", "unknown"])
    overdue_minutes = serializers.FloatField(allow_null=True)
    stale_at = serializers.DateTimeField(allow_null=True)
    last_materialization_time = serializers.DateTimeField(allow_null=True)
    partition = serializers.CharField(allow_null=True)
    maximum_lag_minutes = serializers.FloatField()
    cron_schedule = serializers.CharField(allow_null=True)


class AssetSerializer(serializers.Serializer):
    key = serializers.CharField()
    code_location = serializers.CharField()
    group = serializers.CharField()
    deps = serializers.ListField(child=serializers.CharField())
    is_external = serializers.BooleanField()
    is_partitioned = serializers.BooleanField()
    code_version = serializers.CharField(allow_null=True)
    latest_materialization = LatestMaterializationSerializer(allow_null=True)
    partitions = PartitionSummarySerializer(allow_null=True)
    checks = CheckStatusSerializer(many=True)
    freshness = FreshnessSerializer(allow_null=True)


class AssetListSerializer(serializers.Serializer):
    results = AssetSerializer(many=True)


class UpstreamColumnSerializer(serializers.Serializer):
    asset = serializers.CharField(help_text="The upstream asset's key.")
    column = serializers.CharField(help_text="Its column.")


class ColumnLineageSerializer(serializers.Serializer):
    """One column of the asset and the upstream columns that feed it (none: a literal or
    ``count(*)``)."""

    column = serializers.CharField()
    upstream = UpstreamColumnSerializer(many=True)


class AssetLineageSerializer(AssetSerializer):
    upstream = serializers.ListField(child=serializers.CharField())
    downstream = serializers.ListField(child=serializers.CharField())
    column_lineage = ColumnLineageSerializer(
        many=True,
        help_text="Per column, in the asset's column order; empty when none is declared.",
    )


class AssetSearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=500, help_text="Words to find; each must match.")
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)
    offset = serializers.IntegerField(min_value=0, default=0)


class AssetSearchResultSerializer(serializers.Serializer):
    key = serializers.CharField()
    code_location = serializers.CharField()
    group = serializers.CharField()
    description = serializers.CharField()
    owners = serializers.ListField(child=serializers.CharField())
    kinds = serializers.ListField(child=serializers.CharField())
    tags = serializers.DictField(child=serializers.CharField())
    is_external = serializers.BooleanField()
    rank = serializers.FloatField(help_text="Higher is better; key matches weigh most.")


class AssetSearchPageSerializer(serializers.Serializer):
    """One page of ranked matches; ``next_offset`` is null on the last page."""

    count = serializers.IntegerField()
    next_offset = serializers.IntegerField(allow_null=True)
    results = AssetSearchResultSerializer(many=True)
