"""Input serializers that refuse what they do not know: a typo in a field name must not be silently ignored."""

from __future__ import annotations

import json

from django.utils.translation import gettext as _
from rest_framework import serializers


class StrictInputSerializer(serializers.Serializer):
    """An input serializer that refuses fields it does not know (a typo must not be silently ignored)."""

    read_only_fields: dict[str, str] = {}  # field -> message (gettext_lazy)

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, dict):
            for name in data:
                if name in self.read_only_fields:
                    unknown[name] = [serializers.ErrorDetail(str(self.read_only_fields[name]), code="read_only")]
                elif name not in self.fields:
                    unknown[name] = [serializers.ErrorDetail(_("Unknown field."), code="unknown_field")]
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


class JSONObjectField(serializers.DictField):
    """A free-form JSON object (metadata, properties): PostgreSQL's jsonb cannot hold a NUL character in a key or a
    string, so one anywhere is a field error (the rule of every other string field); and it is bounded in size."""

    default_error_messages = {
        "null_characters_not_allowed": "Null characters are not allowed (in a key or a value).",
        "too_large": "At most {max_bytes} bytes of JSON.",
    }

    def __init__(self, *, max_bytes: int = 16_384, **kwargs):
        self.max_bytes = max_bytes
        kwargs.setdefault("help_text", f"A JSON object of at most {max_bytes} bytes.")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        stack = [value]
        while stack:  # iterative: the parser bounds the depth, this walk does not recurse anyway
            item = stack.pop()
            if isinstance(item, str):
                if "\x00" in item:
                    self.fail("null_characters_not_allowed")
            elif isinstance(item, dict):
                for key, child in item.items():
                    if "\x00" in str(key):
                        self.fail("null_characters_not_allowed")
                    stack.append(child)
            elif isinstance(item, list):
                stack.extend(item)
        if len(json.dumps(value, ensure_ascii=False, default=str).encode()) > self.max_bytes:
            self.fail("too_large", max_bytes=self.max_bytes)
        return value
