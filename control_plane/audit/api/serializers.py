from rest_framework import serializers

from control_plane.core.api.serializers import StrictSerializer


class AuditEventSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    actor_type = serializers.CharField()
    actor_id = serializers.CharField()
    actor_label = serializers.CharField()
    action = serializers.CharField()
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    target_label = serializers.CharField()
    before = serializers.JSONField()
    after = serializers.JSONField()
    ip = serializers.CharField(allow_null=True)
    user_agent = serializers.CharField()
    hash = serializers.CharField()


class AuditFilterSerializer(StrictSerializer):
    actor = serializers.CharField(max_length=254, required=False)
    action = serializers.CharField(max_length=64, required=False)
    target_type = serializers.CharField(max_length=64, required=False)
    target = serializers.CharField(max_length=254, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    # Pagination and export parameters are accepted beside the filters.
    cursor = serializers.CharField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500)
    format = serializers.ChoiceField(choices=["csv", "jsonl"], required=False)
