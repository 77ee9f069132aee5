"""The API's JSON parser: a body nested deeper than any request needs is malformed (a 5,000-level body made the
Idempotency-Key hashing recurse until RecursionError), and an over-size body is a 413 problem."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def json_depth_exceeds(value, limit: int) -> bool:
    """Whether `value` nests lists/objects deeper than `limit` (iterative: no recursion on hostile input)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(
                _("JSON parse error - nested deeper than %(depth)s levels.") % {"depth": MAX_DEPTH}
            ) from exc
        if json_depth_exceeds(data, MAX_DEPTH):
            raise ParseError(_("JSON parse error - nested deeper than %(depth)s levels.") % {"depth": MAX_DEPTH})
        return data
