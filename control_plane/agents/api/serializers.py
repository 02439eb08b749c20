from __future__ import annotations

from rest_framework import serializers


class ServingAgentSerializer(serializers.Serializer):
    agent_id = serializers.CharField()
    agent_version = serializers.CharField()
    last_heartbeat_at = serializers.DateTimeField()


class LocationCountsSerializer(serializers.Serializer):
    assets = serializers.IntegerField()
    checks = serializers.IntegerField()
    schedules = serializers.IntegerField()
    sensors = serializers.IntegerField()


class LocationStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "error", "not_loaded"])
    error = serializers.CharField(help_text="why it failed to load: message and traceback")
    snapshot_id = serializers.CharField(required=False)
    sdk_version = serializers.CharField(required=False)
    loaded_by_agent = serializers.CharField(required=False)
    loaded_at = serializers.DateTimeField(required=False)
    counts = LocationCountsSerializer(allow_null=True)
    agents = ServingAgentSerializer(many=True)


class ReloadAnswerSerializer(serializers.Serializer):
    agents = serializers.ListField(child=serializers.CharField())
