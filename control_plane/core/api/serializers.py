from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not declare, so typos are errors rather than silently ignored.

    Unknown fields are reported together with every other field's error, so one answer
    lists everything wrong with a request.
    """

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = {name: ["Unknown field."] for name in sorted(set(data) - writable)}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if unknown and isinstance(error.detail, dict):
                raise serializers.ValidationError({**error.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value
