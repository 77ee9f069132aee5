"""Usage ingestion: batches of events recorded idempotently by the integrator's event id, with one
statement per batch; aggregation happens at billing time (plans.services.charging.load_usage)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction

from billing.models import Customer
from config.errors import ApplicationError
from plans.models import UsageMetric

MAX_BATCH = 1000
MAX_QUANTITY = Decimal("1e12")


class InvalidUsageBatch(ApplicationError):
    code = "invalid_usage_batch"
    status = 400
    title = "The usage batch has invalid events"

    def __init__(self, errors: list[dict]):
        super().__init__(f"{len(errors)} event(s) are invalid; nothing was recorded.", extra={"errors": errors})
        self.errors = errors


@dataclass(frozen=True)
class UsageEventIn:
    event_id: str
    customer_id: int
    metric: str
    quantity: Decimal
    timestamp: dt.datetime
    properties: dict


@dataclass(frozen=True)
class UsageBatchResult:
    received: int
    accepted: int
    duplicates: int


_INSERT_SQL = """
INSERT INTO plans_usageevent (event_id, customer_id, metric_id, quantity, timestamp, properties, received_at)
SELECT * , now() FROM unnest(%s::varchar[], %s::bigint[], %s::bigint[], %s::numeric[], %s::timestamptz[],
                             %s::jsonb[])
ON CONFLICT (event_id) DO NOTHING
"""


def usage_record_batch(*, events: list[UsageEventIn], customer_scope: int | None = None) -> UsageBatchResult:
    """Record up to 1,000 events at once. Any invalid event rejects the whole batch (nothing written),
    with one error per bad event; an event id seen before is a duplicate, not an error."""
    if not events:
        raise InvalidUsageBatch([{"field": "events", "code": "empty", "message": "Send at least one event."}])
    if len(events) > MAX_BATCH:
        raise InvalidUsageBatch([{"field": "events", "code": "too_many",
                                  "message": f"At most {MAX_BATCH} events per request."}])
    metrics = dict(UsageMetric.objects.filter(code__in={e.metric for e in events}).values_list("code", "id"))
    customers = Customer.objects.filter(pk__in={e.customer_id for e in events}).exclude(status="closed")
    if customer_scope is not None:
        customers = customers.filter(pk=customer_scope)
    known_customers = set(customers.values_list("id", flat=True))
    errors, seen = [], set()
    for index, event in enumerate(events):
        if event.metric not in metrics:
            errors.append({"field": f"events.{index}.metric", "code": "unknown_metric",
                           "message": f"Unknown metric {event.metric!r}."})
        if event.customer_id not in known_customers:
            errors.append({"field": f"events.{index}.customer_id", "code": "not_found",
                           "message": f"Customer {event.customer_id} not found."})
        if event.event_id in seen:
            errors.append({"field": f"events.{index}.event_id", "code": "duplicate_in_batch",
                           "message": f"Event id {event.event_id!r} appears twice in the batch."})
        seen.add(event.event_id)
    if errors:
        raise InvalidUsageBatch(errors)
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, [
            [e.event_id for e in events], [e.customer_id for e in events], [metrics[e.metric] for e in events],
            [e.quantity for e in events], [e.timestamp for e in events],
            [json.dumps(e.properties, separators=(",", ":")) for e in events],
        ])
        accepted = cursor.rowcount
    return UsageBatchResult(received=len(events), accepted=accepted, duplicates=len(events) - accepted)


def parse_usage_events(raw) -> list[UsageEventIn]:
    """Validate the shape of a JSON batch quickly (this endpoint takes 1,000 events per request).
    Raises InvalidUsageBatch listing every bad field with its index."""
    from django.utils.dateparse import parse_datetime

    from billing.money import parse_amount

    if not isinstance(raw, list):
        raise InvalidUsageBatch([{"field": "events", "code": "not_a_list", "message": "`events` must be a list."}])
    out, errors = [], []
    for index, item in enumerate(raw):
        where = f"events.{index}"
        if not isinstance(item, dict):
            errors.append({"field": where, "code": "invalid", "message": "Each event must be an object."})
            continue
        event_id, customer_id, metric = item.get("event_id"), item.get("customer_id"), item.get("metric")
        if not isinstance(event_id, str) or not 1 <= len(event_id) <= 255:
            errors.append({"field": f"{where}.event_id", "code": "invalid",
                           "message": "event_id must be a string of 1 to 255 characters."})
        if not isinstance(customer_id, int) or isinstance(customer_id, bool):
            errors.append({"field": f"{where}.customer_id", "code": "invalid",
                           "message": "customer_id must be an integer."})
        if not isinstance(metric, str) or not metric:
            errors.append({"field": f"{where}.metric", "code": "invalid", "message": "metric must be a metric code."})
        quantity = None
        try:
            quantity = parse_amount(item.get("quantity", 1))
            if quantity < 0 or quantity > MAX_QUANTITY or quantity.as_tuple().exponent < -6:
                raise ValueError("out of range")
        except ValueError:
            errors.append({"field": f"{where}.quantity", "code": "invalid",
                           "message": "quantity must be a non-negative number with at most 6 decimals."})
        timestamp = item.get("timestamp")
        try:
            parsed = parse_datetime(timestamp) if isinstance(timestamp, str) else None
        except ValueError:  # well formed but not a real date or time, e.g. 2026-02-30 or 25:00
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            errors.append({"field": f"{where}.timestamp", "code": "invalid",
                           "message": "timestamp must be an ISO 8601 datetime with a time zone."})
        properties = item.get("properties", {})
        if not isinstance(properties, dict):
            errors.append({"field": f"{where}.properties", "code": "invalid",
                           "message": "properties must be an object."})
        if not errors:
            out.append(UsageEventIn(event_id, customer_id, metric, quantity, parsed, properties))
    if errors:
        raise InvalidUsageBatch(errors)
    return out
