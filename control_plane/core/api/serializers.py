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


MAX_TAGS = 50
MAX_TAG_KEY_LENGTH = 100


class TagsField(serializers.DictField):
    """A ``{key: value}`` of tags, bounded in count and key length: tags are stored on each
    row and matched against on every launch, so an unbounded map is a cost for everyone."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "child",
            serializers.CharField(max_length=200, allow_blank=kwargs.pop("allow_blank", True)),
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if len(value) > MAX_TAGS:
            raise serializers.ValidationError(f"At most {MAX_TAGS} tags.")
        if any(len(key) > MAX_TAG_KEY_LENGTH for key in value):
            raise serializers.ValidationError(
                f"Tag keys are at most {MAX_TAG_KEY_LENGTH} characters."
            )
        return value
