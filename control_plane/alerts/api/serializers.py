"""Input and output shapes of the alert endpoints. Webhook URLs are write-only secrets:
answers show them masked."""

from __future__ import annotations

from rest_framework import serializers

from control_plane.alerts.masking import mask_url
from control_plane.alerts.models import CheckSeverity, IncidentKind
from control_plane.core.api.serializers import StrictSerializer, TagsField


class WebhookSerializer(StrictSerializer):
    url = serializers.URLField(max_length=2000)
    format = serializers.ChoiceField(choices=["json", "slack"], default="json")


class MaskedWebhookSerializer(serializers.Serializer):
    url = serializers.CharField(read_only=True)
    format = serializers.CharField(read_only=True)

    def to_representation(self, instance):
        return {"url": mask_url(instance["url"]), "format": instance.get("format", "json")}


class AlertPolicySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    kinds = serializers.ListField(child=serializers.CharField(), read_only=True)
    min_check_severity = serializers.CharField(read_only=True)
    selection = serializers.CharField(read_only=True)
    tags = serializers.DictField(child=serializers.CharField(), read_only=True)
    emails = serializers.ListField(child=serializers.EmailField(), read_only=True)
    webhooks = MaskedWebhookSerializer(many=True, read_only=True)
    enabled = serializers.BooleanField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class AlertPolicyWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=IncidentKind.values),
        min_length=1,
        max_length=len(IncidentKind.values),
    )
    min_check_severity = serializers.ChoiceField(
        choices=CheckSeverity.values, default=CheckSeverity.WARN
    )
    selection = serializers.CharField(max_length=1000, allow_blank=True, default="")
    tags = TagsField(allow_blank=False, default=dict, allow_empty=True)
    emails = serializers.ListField(child=serializers.EmailField(), default=list, max_length=50)
    webhooks = WebhookSerializer(many=True, default=list, max_length=20)  # type: ignore[call-arg]
    enabled = serializers.BooleanField(default=True)


class AlertPolicyUpdateSerializer(AlertPolicyWriteSerializer):
    """Every field optional; ``webhooks``, when given, replaces the whole list."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
            field.default = serializers.empty

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give at least one field to change.")
        return attrs


class AlertDeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    policy_id = serializers.IntegerField(read_only=True, allow_null=True)
    channel = serializers.CharField(read_only=True)
    target = serializers.SerializerMethodField()
    payload_format = serializers.CharField(read_only=True)
    notice = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    attempts = serializers.IntegerField(read_only=True)
    next_attempt_at = serializers.DateTimeField(read_only=True)
    last_error = serializers.CharField(read_only=True)
    sent_at = serializers.DateTimeField(read_only=True)

    def get_target(self, delivery) -> str:
        return mask_url(delivery.target) if delivery.channel == "webhook" else delivery.target


class IncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.CharField(read_only=True)
    key = serializers.CharField(read_only=True)
    opened_at = serializers.DateTimeField(read_only=True)
    resolved_at = serializers.DateTimeField(read_only=True)
    details = serializers.JSONField(read_only=True)
    deliveries = AlertDeliverySerializer(many=True, read_only=True)
