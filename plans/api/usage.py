"""REST API v1, usage: batches of usage events, idempotent per event.

Conventions are config.api's: the caller is an ApiCaller (a key restricted to one customer sees only
that customer, another customer's id answers 404), every POST is idempotent by its `Idempotency-Key`
header, input serializers refuse unknown fields, errors are problem+json.
"""

from __future__ import annotations

import json
from decimal import Decimal

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.auth import customer_scope
from config.api.idempotency import idempotent
from config.api.parsers import MAX_DEPTH, json_depth_exceeds
from config.api.schema import responses
from config.api.serializers import StrictInputSerializer
from plans.services.usage import MAX_BATCH, usage_ingest

# --- output ---------------------------------------------------------------------------------------


class UsageBatchOutputSerializer(serializers.Serializer):
    received = serializers.IntegerField(help_text="Events in the request.")
    recorded = serializers.IntegerField(help_text="Events recorded now.")
    duplicates = serializers.IntegerField(help_text="Events whose event_id was recorded before (not counted again).")


# --- input ----------------------------------------------------------------------------------------


class UsageEventInputSerializer(serializers.Serializer):
    """Documentation of one event; the batch is validated by plans.services.usage.parse_usage_events."""

    event_id = serializers.CharField(
        max_length=255, help_text="Your unique id of this event: a re-sent event is a duplicate, never counted twice."
    )
    customer_id = serializers.IntegerField()
    metric = serializers.SlugField(help_text="Usage metric code.")
    quantity = serializers.CharField(
        required=False, help_text="Non-negative, at most 6 decimals; a decimal string or a JSON number. Default 1."
    )
    timestamp = serializers.DateTimeField(
        help_text="ISO 8601 with a time zone (UTC offset within ±15:59), within the accepted window: not before "
        "the start of the customer's oldest open billing period (nor 2000-01-01), and at most "
        "USAGE_MAX_FUTURE_MINUTES (5 by default) minutes ahead of the server's clock."
    )
    properties = serializers.DictField(required=False, help_text="Free-form (e.g. the value a unique count counts).")


@extend_schema_field(UsageEventInputSerializer(many=True))
class UsageEventListField(serializers.Field):
    """The list of events, checked only for its shape and size here: the items are validated in bulk by
    parse_usage_events (no per-item serializer on this hot path)."""

    default_error_messages = {
        "not_a_list": "Expected a list of events.",
        "empty": "Send at least one event.",
        "too_many": "At most {max} events per request.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list")
        if not data:
            self.fail("empty")
        if len(data) > MAX_BATCH:
            self.fail("too_many", max=MAX_BATCH)
        return data

    def to_representation(self, value):
        return value


class UsageBatchInputSerializer(StrictInputSerializer):
    """`{"events": [...]}`: 1 to 1,000 events; any other top-level field is refused."""

    events = UsageEventListField(help_text=f"1 to {MAX_BATCH} events.")


class DecimalJSONParser(JSONParser):
    """JSON with numbers that have a fraction read as Decimal: a quantity of 0.1 is exactly 0.1, never a float.
    Nested no deeper than config.api.parsers.MAX_DEPTH, like every other body."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = json.loads(
                stream.read() if stream is not None else b"", parse_float=Decimal, parse_constant=_refuse_constant
            )
        except ValueError as exc:
            raise exceptions.ParseError(_("JSON parse error - %(error)s") % {"error": exc}) from exc
        except RecursionError as exc:
            raise exceptions.ParseError(
                _("JSON parse error - nested deeper than %(depth)s levels.") % {"depth": MAX_DEPTH}
            ) from exc
        if json_depth_exceeds(data, MAX_DEPTH):
            raise exceptions.ParseError(
                _("JSON parse error - nested deeper than %(depth)s levels.") % {"depth": MAX_DEPTH}
            )
        return data


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a valid JSON value")


# --- views ----------------------------------------------------------------------------------------


class UsageEventBatchApi(APIView):
    parser_classes = [DecimalJSONParser]

    @extend_schema(
        operation_id="usage_events_create",
        summary=f"Record a batch of up to {MAX_BATCH} usage events",
        description="Idempotent by `event_id`: an event sent again is counted in `duplicates`, never recorded "
        "twice. One invalid event (shape, unknown metric, unknown customer or one outside the key's "
        "scope) rejects the whole batch with an error per bad field (`events.<index>.<field>`) and "
        "nothing is recorded. 201 when at least one event was recorded, 200 when all were duplicates. "
        "A retry with the same `Idempotency-Key` must resend the same bytes: the key is bound to the "
        "body as sent (the same events written differently are another body, 422).",
        request=UsageBatchInputSerializer,
        responses=responses(
            {201: UsageBatchOutputSerializer, 200: UsageBatchOutputSerializer}, 400, 403, 409, 413, 422
        ),
    )
    @idempotent(raw_body=True)  # the batch's bytes are hashed as sent, not re-serialised
    def post(self, request):
        data = UsageBatchInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = usage_ingest(data.validated_data["events"], customer_scope=customer_scope(request))
        body = {"received": result.received, "recorded": result.accepted, "duplicates": result.duplicates}
        return Response(
            UsageBatchOutputSerializer(body).data,
            status=status.HTTP_201_CREATED if result.accepted else status.HTTP_200_OK,
        )
