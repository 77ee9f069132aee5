"""Input serializers that refuse what they do not know: a typo in a field name must not be silently ignored."""

from __future__ import annotations

from rest_framework import serializers


class StrictInputSerializer(serializers.Serializer):
    """An input serializer that refuses fields it does not know (a typo must not be silently ignored)."""

    read_only_fields: dict[str, str] = {}

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, dict):
            for name in data:
                if name in self.read_only_fields:
                    unknown[name] = [serializers.ErrorDetail(self.read_only_fields[name], code="read_only")]
                elif name not in self.fields:
                    unknown[name] = [serializers.ErrorDetail("Unknown field.", code="unknown_field")]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


# the body of an action that takes no input: `{}` or nothing; any field is refused (no docstring: it would
# become the schema component's description)
class EmptyInputSerializer(StrictInputSerializer):
    pass
