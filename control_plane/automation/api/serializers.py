from __future__ import annotations

from rest_framework import serializers

from control_plane.automation.models import DaemonTick, InstigatorState
from control_plane.core.api.serializers import StrictSerializer


class TickSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    loop = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    location = serializers.CharField(source="location_name", read_only=True)
    scheduled_time = serializers.DateTimeField(read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=DaemonTick.Status.choices, read_only=True)
    started_at = serializers.DateTimeField(read_only=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    duration_ms = serializers.FloatField(read_only=True, allow_null=True)
    error = serializers.CharField(read_only=True)
    skip_reason = serializers.CharField(read_only=True)
    run_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    details = serializers.JSONField(read_only=True)


class _InstigatorSerializer(serializers.Serializer):
    name = serializers.CharField(source="spec.name", read_only=True)
    location = serializers.CharField(source="spec.location_name", read_only=True)
    selection = serializers.CharField(source="spec.selection", read_only=True)
    status = serializers.ChoiceField(choices=InstigatorState.Status.choices, read_only=True)
    default_status = serializers.CharField(source="spec.default_status", read_only=True)
    status_set_by = serializers.SerializerMethodField()
    next_tick_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_tick = TickSerializer(read_only=True, allow_null=True)

    def get_status_set_by(self, instigator) -> str:
        """``code`` (its default_status) until a person starts or stops it, then ``user``."""
        return "user" if instigator.state.status else "code"


class ScheduleSerializer(_InstigatorSerializer):
    cron_schedule = serializers.CharField(source="spec.cron_schedule", read_only=True)
    execution_timezone = serializers.CharField(source="spec.execution_timezone", read_only=True)
    catchup = serializers.CharField(source="state.catchup", read_only=True)
    evaluated_by = serializers.SerializerMethodField()

    def get_evaluated_by(self, instigator) -> str:
        """``agent`` for a schedule function (it runs in the code location), else
        ``control_plane``."""
        return "agent" if instigator.spec.has_function else "control_plane"


class SensorSerializer(_InstigatorSerializer):
    minimum_interval_seconds = serializers.IntegerField(
        source="spec.minimum_interval_seconds", read_only=True
    )
    cursor = serializers.CharField(source="state.cursor", read_only=True, allow_null=True)


class ScheduleUpdateSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=InstigatorState.Status.choices, required=False)
    catchup = serializers.ChoiceField(choices=InstigatorState.Catchup.choices, required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give status or catchup.")
        return attrs


class SensorUpdateSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=InstigatorState.Status.choices, required=False)
    cursor = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=64 * 1024
    )

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give status or cursor (null resets it).")
        return attrs
