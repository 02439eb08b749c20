"""Serializers of the declarative automation endpoints: settings and evaluations."""

from __future__ import annotations

from rest_framework import serializers

from control_plane.automation.api.serializers import TickSerializer
from control_plane.core.api.serializers import StrictSerializer


class AutomationSettingsSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(read_only=True)
    last_tick = TickSerializer(read_only=True, allow_null=True)


class AutomationUpdateSerializer(StrictSerializer):
    enabled = serializers.BooleanField()


class EvaluationSerializer(serializers.Serializer):
    """Why one asset was or was not requested by one tick."""

    id = serializers.IntegerField(read_only=True)
    asset_key = serializers.CharField(read_only=True)
    tick_id = serializers.IntegerField(read_only=True)
    tick_status = serializers.CharField(source="tick.status", read_only=True)
    evaluation_time = serializers.DateTimeField(read_only=True)
    num_requested = serializers.IntegerField(read_only=True)
    requested = serializers.JSONField(read_only=True, help_text="the requested partitions")
    run_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    explanation = serializers.JSONField(
        read_only=True,
        help_text="the condition's tree: label, true/candidate counts, sample partitions, children",
    )
