"""The transactional outbox: write events with the change, deliver them after commit.

`event_emit` must run inside the caller's database transaction. `outbox_dispatch` claims
pending events with SKIP LOCKED under a short lease, calls each registered subscriber outside
any transaction (no lock is held across a subscriber's network call), records deliveries and
schedules retries with backoff. Delivery is at least once; subscribers are idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billing import events
from billing.models import Event, EventDelivery
from config.db import rows_json

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(hours=1)
_KICK_INTERVAL = 1.0
_last_kick = 0.0  # when the last dispatch of this process was sent, or when its trailing one is due
_trailing_due = 0.0  # when the trailing dispatch scheduled last runs
_kick_lock = threading.Lock()


def event_emit(*, type: str, payload, customer_id: int | None = None) -> Event:
    if not connection.in_atomic_block:
        raise RuntimeError("event_emit must run inside the transaction that makes the change")
    event = Event.objects.create(type=type, payload=events.payload_of(payload), customer_id=customer_id)
    outbox_kick()
    return event


def event_emit_many(*, type: str, items: list[tuple[int | None, object]]) -> list[Event]:
    """`event_emit` for many events of one type in one INSERT, for services that work in chunks with a fixed
    number of statements. `items`: (customer id, payload) pairs."""
    if not connection.in_atomic_block:
        raise RuntimeError("event_emit_many must run inside the transaction that makes the change")
    if not items:
        return []
    created = Event.objects.bulk_create(
        [
            Event(type=type, payload=events.payload_of(payload), customer_id=customer_id)
            for customer_id, payload in items
        ]
    )
    outbox_kick()
    return created


_INSERT_ROWS_SQL = """
INSERT INTO billing_event (type, payload, customer_id, created_at, attempts, last_error)
SELECT x.type, x.payload::jsonb, x.customer_id, now(), 0, ''
  FROM json_to_recordset(%s::json) AS x(type varchar, payload json, customer_id bigint)
"""


def event_emit_rows(rows: list[tuple[str, int | None, dict]]) -> None:
    """`event_emit` for a chunk in one statement and without model instances: `rows` are (type, customer id,
    payload) with JSON-ready payloads. For the billing run's chunks, which write up to thousands at once."""
    if not connection.in_atomic_block:
        raise RuntimeError("event_emit_rows must run inside the transaction that makes the change")
    if not rows:
        return
    document = rows_json([{"type": t, "customer_id": c, "payload": p} for t, c, p in rows])
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_ROWS_SQL, [document])
    outbox_kick()


def _send_dispatch() -> None:
    """Enqueue a dispatch after a commit: at once when none went out in the last _KICK_INTERVAL, else one
    trailing dispatch at the end of that interval (one for all the commits inside it), so a burst of commits
    is delivered within about a second without a task per commit."""
    global _last_kick, _trailing_due
    with _kick_lock:
        now = time.monotonic()
        if now - _last_kick >= _KICK_INTERVAL:
            countdown = None
            _last_kick = now
        elif _trailing_due > now:
            return  # the trailing dispatch still to come will see this commit's events
        else:
            _trailing_due = _last_kick = _last_kick + _KICK_INTERVAL
            countdown = _trailing_due - now
    try:
        from billing.tasks import outbox_dispatch

        outbox_dispatch.apply_async(countdown=countdown, retry=False)
    except Exception:
        logger.warning("could not enqueue outbox dispatch; beat will pick the events up", exc_info=True)


def outbox_kick() -> None:
    """Ask a worker to dispatch soon after this transaction commits (see _send_dispatch)."""
    if _trailing_due > time.monotonic() and not connection.in_atomic_block:
        return  # committed already (autocommit), and a dispatch is due in a moment: it will see the events
    if getattr(settings, "OUTBOX_KICK", True):
        transaction.on_commit(_send_dispatch)


def _claim(batch_size: int) -> list[Event]:
    with transaction.atomic():
        claimed = list(
            Event.objects.select_for_update(skip_locked=True)
            .filter(dispatched_at=None)
            .exclude(next_attempt_at__gt=timezone.now())
            .order_by("id")[:batch_size]
        )
        if claimed:
            Event.objects.filter(pk__in=[e.pk for e in claimed]).update(next_attempt_at=timezone.now() + LEASE)
    return claimed


def outbox_dispatch(*, batch_size: int | None = None, max_batches: int = 20) -> int:
    """Deliver pending events to their subscribers. Returns how many events were completed."""
    batch_size = batch_size or settings.OUTBOX_BATCH_SIZE
    completed = 0
    for _ in range(max_batches):
        claimed = _claim(batch_size)
        if not claimed:
            break
        ids = [e.pk for e in claimed]
        done: set[tuple[int, str]] = set(
            EventDelivery.objects.filter(event_id__in=ids).values_list("event_id", "subscriber")
        )
        new_deliveries: list[EventDelivery] = []
        finished: list[int] = []
        failed: dict[int, str] = {}
        for event in claimed:
            for sub in events.SUBSCRIBERS.values():
                if not sub.wants(event.type) or (event.pk, sub.name) in done:
                    continue
                try:
                    sub.handler(event)
                except Exception as exc:
                    logger.warning("subscriber %s failed on event %s", sub.name, event.pk, exc_info=True)
                    failed[event.pk] = f"{sub.name}: {type(exc).__name__}: {exc}"[:2000]
                else:
                    new_deliveries.append(EventDelivery(event_id=event.pk, subscriber=sub.name))
            if event.pk not in failed:
                finished.append(event.pk)
        with transaction.atomic():
            EventDelivery.objects.bulk_create(new_deliveries, ignore_conflicts=True)
            if finished:
                Event.objects.filter(pk__in=finished).update(dispatched_at=timezone.now(), last_error="")
            for event in claimed:
                if event.pk in failed:
                    attempts = event.attempts + 1
                    backoff = min(timedelta(seconds=2 ** min(attempts, 12)), MAX_BACKOFF)
                    Event.objects.filter(pk=event.pk).update(
                        attempts=attempts, last_error=failed[event.pk], next_attempt_at=timezone.now() + backoff
                    )
        completed += len(finished)
        if len(claimed) < batch_size:
            break
    return completed


def event_redeliver(*, event_id: int) -> None:
    """Admin action: deliver an event again to every subscriber (subscribers are idempotent)."""
    with transaction.atomic():
        EventDelivery.objects.filter(event_id=event_id).delete()
        Event.objects.filter(pk=event_id).update(dispatched_at=None, next_attempt_at=None, attempts=0, last_error="")
