"""Usage ingestion: batches of events recorded idempotently by the integrator's event id, with one
statement per batch; aggregation happens at billing time (plans.services.charging.load_usage).

This is the hottest write path of the platform (the API takes 1,000 events per request), so it is written
for throughput: the validation is a lean loop with no per-item serializer or error text unless an item is
bad, and the batch travels to PostgreSQL in ONE statement that checks the customers and metrics, inserts
only if every event names an existing active customer (in the caller's scope) and an existing metric, and
otherwise reports what is missing (see _RECORD_SQL)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.datetimes import utc_offset_in_range
from config.errors import ApplicationError

MAX_BATCH = 1000
MAX_QUANTITY = Decimal("1e12")
_MAX_QUANTITY_INT = 10**12
_BIGINT = range(-(2**63), 2**63)  # customer ids outside it cannot exist: "not found", not a database error


class InvalidUsageBatch(ApplicationError):
    code = "invalid_usage_batch"
    status = 400
    title = "The usage batch has invalid events"

    def __init__(self, errors: list[dict]):
        super().__init__(f"{len(errors)} event(s) are invalid; nothing was recorded.", extra={"errors": errors})
        self.errors = errors


class UsageEventIn(NamedTuple):
    """One event as validated by parse_usage_events (a named tuple: 1,000 of them are built per request)."""

    event_id: str
    customer_id: int
    metric: str
    quantity: Decimal
    timestamp: dt.datetime
    properties: dict


class UsageBatchResult(NamedTuple):
    received: int
    accepted: int
    duplicates: int


# One statement: the rows, the active customers (in scope) and the metrics they name, what is missing, and
# the insert, which happens only when nothing is missing. The insert joins billing_customer and
# plans_usagemetric, so an event can only be stored for a customer and a metric that exist (the model relies
# on this: see UsageEvent). An event id stored before is skipped and counted by the caller as a duplicate
# (received - inserted).
#
# The columns arrive as five array literals built with str.join (see _array), the cheapest form for both
# psycopg and PostgreSQL. Properties are rare, so they come as one JSON array aligned with the events, or
# NULL when all are empty.
#
# Rows are inserted in event-id order, whatever the batch's order, so two concurrent batches sharing ids take
# their unique-index entries in the same order and one waits for the other instead of deadlocking (inserting in
# batch order, [x, y] against [y, x] deadlocked). The row ids are still drawn in the batch's order, which the
# "last" aggregation uses to break timestamp ties.
#
# The fast form skips stored ids with NOT EXISTS and inserts plainly, without speculative insertion; a
# concurrent batch committing one of the same ids first makes it fail with a unique violation, and the batch
# is then recorded again with the ON CONFLICT form.
_RECORD_SQL = """
WITH r AS MATERIALIZED (
    SELECT *, nextval(pg_get_serial_sequence('plans_usageevent', 'id')) AS id  -- drawn in the batch's order
      FROM unnest(%(e)s::text[], %(c)s::bigint[], %(m)s::text[], %(q)s::numeric[], %(t)s::timestamptz[])
           WITH ORDINALITY AS r(e, c, m, q, t, i)
), cust AS MATERIALIZED (
    SELECT c.id, (SELECT min(s.current_period_start) FROM plans_subscription s
                   WHERE s.customer_id = c.id AND s.status IN ('trialing', 'active', 'paused', 'suspended')
                 )::timestamp AT TIME ZONE c.timezone AS opened
      FROM billing_customer c
     WHERE c.id = ANY(ARRAY(SELECT DISTINCT c FROM r)) AND c.status <> 'closed'
       AND (%(scope)s::bigint IS NULL OR c.id = %(scope)s::bigint)
), met AS MATERIALIZED (
    SELECT id, code FROM plans_usagemetric WHERE code = ANY(ARRAY(SELECT DISTINCT m FROM r))
), missing AS MATERIALIZED (
    SELECT ARRAY(SELECT DISTINCT c FROM r WHERE c NOT IN (SELECT id FROM cust)) AS customers,
           ARRAY(SELECT DISTINCT m FROM r WHERE m NOT IN (SELECT code FROM met)) AS metrics,
           ARRAY(SELECT r.i FROM r JOIN cust ON cust.id = r.c WHERE r.t < cust.opened) AS early
), ins AS (
    INSERT INTO plans_usageevent (id, event_id, customer_id, metric_id, quantity, timestamp, properties,
                                  received_at)
    SELECT r.id, r.e, cust.id, met.id, r.q, r.t, COALESCE(%(p)s::jsonb -> (r.i::int - 1), '{}'::jsonb), now()
      FROM r JOIN cust ON cust.id = r.c JOIN met ON met.code = r.m
     WHERE %(write)s AND (SELECT cardinality(customers) + cardinality(metrics) + cardinality(early) FROM missing) = 0
       {fast}
     ORDER BY r.e  -- one order of the unique index's entries for every batch: two batches never deadlock
    {safe}
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins), customers, metrics, early FROM missing
"""
_RECORD_FAST = _RECORD_SQL.replace(
    "{fast}", "AND NOT EXISTS (SELECT 1 FROM plans_usageevent u WHERE u.event_id = r.e)"
).replace("{safe}", "")
_RECORD_SAFE = _RECORD_SQL.replace("{fast}", "").replace("{safe}", "ON CONFLICT (event_id) DO NOTHING")


def usage_record_batch(*, events: list[UsageEventIn], customer_scope: int | None = None) -> UsageBatchResult:
    """Record up to 1,000 events at once. Any invalid event rejects the whole batch (nothing written),
    with one error per bad event; an event id seen before is a duplicate, not an error."""
    if not events:
        raise InvalidUsageBatch([{"field": "events", "code": "empty", "message": _("Send at least one event.")}])
    if len(events) > MAX_BATCH:
        raise InvalidUsageBatch(
            [
                {
                    "field": "events",
                    "code": "too_many",
                    "message": _("At most %(max)s events per request.") % {"max": MAX_BATCH},
                }
            ]
        )
    params = _params(events, customer_scope)
    try:
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            cursor.execute(_RECORD_FAST, params)
            accepted, missing_customers, missing_metrics, early = cursor.fetchone()
    except IntegrityError:  # a concurrent batch stored one of these ids first: skip what is stored now
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            cursor.execute(_RECORD_SAFE, params)
            accepted, missing_customers, missing_metrics, early = cursor.fetchone()
    if params["write"] and not missing_customers and not missing_metrics and not early:
        return UsageBatchResult(received=len(events), accepted=accepted, duplicates=len(events) - accepted)
    raise InvalidUsageBatch(_errors(events, set(missing_customers), set(missing_metrics), early={i - 1 for i in early}))


def _params(events: list[UsageEventIn], customer_scope: int | None) -> dict:
    event_ids = [e.event_id for e in events]
    properties = [e.properties for e in events]
    return {
        "e": _array(event_ids),
        "c": "{" + ",".join([str(e.customer_id) if e.customer_id in _BIGINT else "0" for e in events]) + "}",
        "m": _array([e.metric for e in events]),
        "q": "{" + ",".join([str(e.quantity) for e in events]) + "}",  # digits, '.', 'E', '+', '-'
        "t": "{" + ",".join([e.timestamp.isoformat() for e in events]) + "}",  # digits, '-', ':', 'T', '+', '.'
        "p": _json(properties) if any(properties) else None,
        "scope": customer_scope,
        "write": len(set(event_ids)) == len(events),  # an id twice in the batch: only look up what else is wrong
    }


def _reference_errors(events: list[UsageEventIn], indexes: list[int], customer_scope: int | None) -> list[dict]:
    """The errors only the database finds (unknown customer or metric, an event before the customer's oldest
    open period), at the events' indexes in the batch; writes nothing."""
    params = _params(events, customer_scope)
    params["write"] = False
    with connection.cursor() as cursor:
        cursor.execute(_RECORD_FAST, params)
        _accepted, missing_customers, missing_metrics, early = cursor.fetchone()
    return _errors(events, set(missing_customers), set(missing_metrics), early={i - 1 for i in early}, indexes=indexes)


def _array(values: list[str]) -> str:
    """A PostgreSQL array literal of strings, every element double-quoted (so commas, braces, spaces and
    the word NULL are plain text); inside quotes only a double quote and a backslash need a backslash."""
    body = '","'.join(values)
    if "\\" in body or body.count('"') != 2 * (len(values) - 1):
        body = '","'.join([v.replace("\\", "\\\\").replace('"', '\\"') for v in values])
    return '{"' + body + '"}'


def _errors(
    events: list[UsageEventIn],
    missing_customers: set[int],
    missing_metrics: set[str],
    *,
    early: set[int] = frozenset(),
    indexes: list[int] | None = None,
) -> list[dict]:
    """One error per bad field; `early` holds the positions (in `events`) of events before the oldest open period,
    `indexes` the events' indexes in the batch when they differ from their positions."""
    errors, seen = [], set()
    for position, event in enumerate(events):
        index = indexes[position] if indexes is not None else position
        if position in early:
            errors.append(
                {
                    "field": f"events.{index}.timestamp",
                    "code": "before_open_period",
                    "message": _("timestamp is before the start of the customer's oldest open billing period."),
                }
            )
        if event.metric in missing_metrics:
            errors.append(
                {
                    "field": f"events.{index}.metric",
                    "code": "unknown_metric",
                    "message": _("Unknown metric %(metric)r.") % {"metric": event.metric},
                }
            )
        if event.customer_id not in _BIGINT or event.customer_id in missing_customers:
            errors.append(
                {
                    "field": f"events.{index}.customer_id",
                    "code": "not_found",
                    "message": _("Customer %(customer_id)s not found.") % {"customer_id": event.customer_id},
                }
            )
        if event.event_id in seen:
            errors.append(
                {
                    "field": f"events.{index}.event_id",
                    "code": "duplicate_in_batch",
                    "message": _("Event id %(event_id)r appears twice in the batch.") % {"event_id": event.event_id},
                }
            )
        seen.add(event.event_id)
    return errors


def _json(rows: list[dict]) -> str:
    """The events' properties as one JSON array. They come from a JSON request, where a number with a fraction
    is a Decimal: those are written as JSON numbers with all their digits (never through a float)."""
    try:
        return json.dumps(rows, separators=(",", ":"), ensure_ascii=False)
    except TypeError:  # a Decimal (or another non-JSON value) in some event's properties
        return "[" + ",".join(_json_value(row) for row in rows) + "]"


def _json_value(value) -> str:
    if isinstance(value, dict):
        return (
            "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{_json_value(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json_value(v) for v in value) + "]"
    if isinstance(value, Decimal) and value.is_finite():
        return str(value)  # a valid JSON number: 1.5, -0.25, 1E+30
    return json.dumps(value, ensure_ascii=False)  # anything else that is not JSON fails here


_EVENT_ID_ERROR = gettext_lazy("event_id must be a string of 1 to 255 characters (no NUL).")
_CUSTOMER_ERROR = gettext_lazy("customer_id must be an integer.")
_METRIC_ERROR = gettext_lazy("metric must be a metric code.")
_QUANTITY_ERROR = gettext_lazy("quantity must be a non-negative number with at most 6 decimals.")
_TIMESTAMP_ERROR = gettext_lazy("timestamp must be an ISO 8601 datetime with a time zone (UTC offset within ±15:59).")
_TIMESTAMP_WINDOW_ERROR = gettext_lazy(
    "timestamp must be within the accepted window: from 2000-01-01 to at most %(future)s minutes ahead of the "
    "server's clock (and not before the customer's oldest open billing period)."
)
_EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_PROPERTIES_ERROR = gettext_lazy("properties must be an object (with no NUL character in a key or a value).")


def _no_nul(value) -> bool:
    """PostgreSQL's jsonb cannot hold a NUL character (\\u0000) in a key or a string."""
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, dict):
        return all(_no_nul(k) and _no_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_no_nul(v) for v in value)
    return True


_ONE = Decimal(1)


def _quantity(value) -> Decimal | None:
    """A non-negative Decimal of at most 1e12 with at most 6 decimals, or None. An integer (the common case)
    skips the Decimal parsing; floats (never produced by the decimal JSON parser) and booleans are refused,
    as billing.money.parse_amount does."""
    if type(value) is int:
        return Decimal(value) if 0 <= value <= _MAX_QUANTITY_INT else None
    if isinstance(value, float | bool):
        return None
    try:
        quantity = Decimal(str(value))
    except (InvalidOperation, TypeError):
        return None
    if not quantity.is_finite() or quantity < 0 or quantity > MAX_QUANTITY or quantity.as_tuple().exponent < -6:
        return None
    return quantity


def usage_ingest(raw, *, customer_scope: int | None = None) -> UsageBatchResult:
    """A JSON batch as received: validated, then recorded (usage_record_batch). A bad batch is refused whole with
    every error of every event, those of its shape and those only the database can find (unknown customer or
    metric) together, each at its index."""
    events, indexes, errors = _parse(raw)
    if not errors:
        return usage_record_batch(events=events, customer_scope=customer_scope)
    if events:
        errors += _reference_errors(events, indexes, customer_scope)
        errors.sort(key=lambda error: int(error["field"].split(".")[1]))
    raise InvalidUsageBatch(errors)


def parse_usage_events(raw) -> list[UsageEventIn]:
    """Validate the shape of a JSON batch quickly (this endpoint takes 1,000 events per request).
    Raises InvalidUsageBatch listing every bad field with its index."""
    events, _indexes, errors = _parse(raw)
    if errors:
        raise InvalidUsageBatch(errors)
    return events


def _parse(raw) -> tuple[list[UsageEventIn], list[int], list[dict]]:
    """The well-formed events, their indexes in the batch, and the errors of the others."""
    if not isinstance(raw, list):
        raise InvalidUsageBatch([{"field": "events", "code": "not_a_list", "message": _("`events` must be a list.")}])
    out, indexes, errors = [], [], []
    now = timezone.now()
    earliest = _EARLIEST
    latest = now + dt.timedelta(minutes=settings.USAGE_MAX_FUTURE_MINUTES)
    window_error = str(_TIMESTAMP_WINDOW_ERROR) % {"future": settings.USAGE_MAX_FUTURE_MINUTES}
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            errors.append(
                {"field": f"events.{index}", "code": "invalid", "message": _("Each event must be an object.")}
            )
            continue
        get = item.get
        event_id, customer_id, metric, timestamp = get("event_id"), get("customer_id"), get("metric"), get("timestamp")
        properties = get("properties", {})
        quantity = _quantity(get("quantity")) if "quantity" in item else _ONE
        try:
            parsed = parse_datetime(timestamp) if isinstance(timestamp, str) else None
        except ValueError:  # well formed but not a real date or time, e.g. 2026-02-30 or 25:00
            parsed = None
        # PostgreSQL text cannot hold NUL: refused here as a field error, not at the insert as a 500
        event_id_ok = isinstance(event_id, str) and 1 <= len(event_id) <= 255 and "\x00" not in event_id
        customer_ok = isinstance(customer_id, int) and not isinstance(customer_id, bool)
        metric_ok = isinstance(metric, str) and metric != "" and "\x00" not in metric
        timestamp_ok = parsed is not None and parsed.tzinfo is not None and utc_offset_in_range(parsed)
        in_window = timestamp_ok and earliest <= parsed <= latest
        properties_ok = isinstance(properties, dict) and (not properties or _no_nul(properties))
        if event_id_ok and customer_ok and metric_ok and quantity is not None and in_window and properties_ok:
            out.append(UsageEventIn(event_id, customer_id, metric, quantity, parsed, properties))
            indexes.append(index)
            continue
        where = f"events.{index}"  # error messages are built only for a bad item
        for ok, field, message in (
            (event_id_ok, "event_id", _EVENT_ID_ERROR),
            (customer_ok, "customer_id", _CUSTOMER_ERROR),
            (metric_ok, "metric", _METRIC_ERROR),
            (quantity is not None, "quantity", _QUANTITY_ERROR),
            (timestamp_ok, "timestamp", _TIMESTAMP_ERROR),
            (properties_ok, "properties", _PROPERTIES_ERROR),
        ):
            if not ok:
                errors.append({"field": f"{where}.{field}", "code": "invalid", "message": str(message)})
        if timestamp_ok and not in_window:
            errors.append({"field": f"{where}.timestamp", "code": "out_of_window", "message": window_error})
    return out, indexes, errors
