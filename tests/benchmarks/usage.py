"""Benchmark group `usage`: usage events ingested through the batch endpoint POST /api/v1/usage-events/.

Requests go through the whole stack in-process (django.test.Client: middleware, API key authentication and scope,
Idempotency-Key, JSON parsing, validation, the insert), 1,000 events per request over 1,000 customers and two
metrics, each request with its own Idempotency-Key. The JSON bodies are built before the clock starts. One client
sends 100 batches after a warm-up; then two client processes send 50 batches each at the same time. Afterwards
exactly the events sent must be stored.

Figures: usage.events_per_s_1_client, usage.events_per_s_2_clients, and usage.events_per_s, the better of the two.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import queue
import time

PATH = "/api/v1/usage-events/"
BATCH = 1000
BATCHES = int(os.environ.get("BENCH_USAGE_BATCHES", "100"))
WARMUP = 2  # batches per client before the clock starts
CUSTOMERS = 1000
METRICS = ("bench-usage-calls", "bench-usage-storage")
EVENT_PREFIX = "bench-usage"
SINCE = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _seed() -> tuple[list[int], str]:
    """1,000 active customers with their balance accounts (set-based SQL), the metrics and a read-write API key."""
    from django.db import connection, transaction

    from billing.services.api_keys import api_key_create
    from plans.models import UsageMetric

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO billing_customer (kind, name, legal_name, country, inn, kpp, ogrn, legal_address,
                billing_emails, phone, currency, timezone, status, credit_limit, credit_limit_currency, tags,
                external_id, metadata, created_at, updated_at, billing_model)
            SELECT 'individual', 'Usage bench ' || g, '', 'RU', '', '', '', '', '{}', '', 'RUB', 'UTC', 'active',
                   0, 'RUB', '{}', 'bench-usage-' || g, '{}', now(), now(), 'prepaid'
              FROM generate_series(1, %s) g
            RETURNING id
            """,
            [CUSTOMERS],
        )
        customers = sorted(row[0] for row in cur.fetchall())
        cur.execute(
            """
            INSERT INTO billing_account (kind, code, name, customer_id, balance, balance_currency, created_at)
            SELECT 'customer', 'customer:' || id, 'Balance of ' || name, id, 0, 'RUB', now()
              FROM billing_customer WHERE id = ANY(%s)
            """,
            [customers],
        )
        cur.execute("ANALYZE billing_customer")
    UsageMetric.objects.get_or_create(code=METRICS[0], defaults={"name": "API calls", "aggregation": "sum"})
    UsageMetric.objects.get_or_create(
        code=METRICS[1], defaults={"name": "Storage GB", "unit": "GB", "aggregation": "max"}
    )
    _, raw_key = api_key_create(name="usage benchmark", scope="read_write")
    return customers, raw_key


def _bodies(*, client: str, batches: int, customers: list[int]) -> list[tuple[str, bytes]]:
    """(Idempotency-Key, JSON body) per request; event ids are unique across the whole group."""
    requests = []
    for b in range(batches):
        events = []
        for i in range(BATCH):
            n = b * BATCH + i
            events.append(
                {
                    "event_id": f"{EVENT_PREFIX}-{client}-{b}-{i}",
                    "customer_id": customers[n % len(customers)],
                    "metric": METRICS[n % len(METRICS)],
                    "quantity": 1 + n % 7 if n % 10 else 2.5,  # mostly integers, some with a fraction
                    "timestamp": (SINCE + dt.timedelta(seconds=n)).isoformat(),
                }
            )
        requests.append((f"{EVENT_PREFIX}-{client}-{b}", json.dumps({"events": events}).encode()))
    return requests


def _send(client, raw_key: str, requests: list[tuple[str, bytes]]) -> int:
    recorded = 0
    for key, body in requests:
        response = client.post(
            PATH,
            data=body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {raw_key}", "Idempotency-Key": key},
        )
        if response.status_code != 201:
            raise AssertionError(f"POST {PATH} answered {response.status_code}: {response.content[:500]!r}")
        recorded += response.json()["recorded"]
    return recorded


def _client(name: str, batches: int, customers: list[int], raw_key: str, start=None) -> tuple[float, float, int]:
    """Warm up, (wait for the start signal,) send `batches` requests; returns (start, end, events recorded)."""
    from django.test import Client

    client = Client()
    recorded = _send(client, raw_key, _bodies(client=f"{name}w", batches=WARMUP, customers=customers))
    requests = _bodies(client=name, batches=batches, customers=customers)
    if start is not None:
        start.wait()
    started = time.time()
    recorded += _send(client, raw_key, requests)
    return started, time.time(), recorded


def _client_process(name: str, batches: int, customers: list[int], raw_key: str, start, results) -> None:
    import django

    django.setup()
    try:
        results.put(_client(name, batches, customers, raw_key, start))
    except BaseException as exc:
        start.abort()
        results.put(exc)
        raise


def _in_processes(clients: int, customers: list[int], raw_key: str) -> tuple[float, int]:
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(clients), ctx.Queue()
    per_client = BATCHES // clients
    procs = [
        ctx.Process(target=_client_process, args=(f"p{c}", per_client, customers, raw_key, start, results))
        for c in range(clients)
    ]
    for p in procs:
        p.start()
    outcomes = []
    while len(outcomes) < clients:
        try:
            outcomes.append(results.get(timeout=5))
        except queue.Empty:
            if not any(p.is_alive() for p in procs) and results.empty():
                break  # a client died without reporting
    for p in procs:
        p.join()
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    if failures or len(outcomes) < clients or any(p.exitcode for p in procs):
        raise RuntimeError(f"usage client process failed: {failures or [p.exitcode for p in procs]}")
    elapsed = max(end for _, end, _ in outcomes) - min(begin for begin, _, _ in outcomes)
    return clients * per_client * BATCH / elapsed, sum(recorded for _, _, recorded in outcomes)


def _check(sent: int, recorded: int) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM plans_usageevent WHERE event_id LIKE %s", [f"{EVENT_PREFIX}-%"])
        stored = cur.fetchone()[0]
    if not stored == recorded == sent:
        raise AssertionError(f"usage check failed: {sent} events sent, {recorded} reported recorded, {stored} stored")


def run():
    from django.db import connection

    customers, raw_key = _seed()
    connection.close()  # the client processes start from a clean slate; this one reconnects on demand

    started, ended, recorded = _client("c", BATCHES, customers, raw_key)
    one = BATCHES * BATCH / (ended - started)
    sent = (WARMUP + BATCHES) * BATCH
    yield "usage.events_per_s_1_client", one, "events/s"

    two, recorded_2 = _in_processes(2, customers, raw_key)
    sent += 2 * (WARMUP + BATCHES // 2) * BATCH
    yield "usage.events_per_s_2_clients", two, "events/s"
    yield "usage.events_per_s", max(one, two), "events/s"
    _check(sent, recorded + recorded_2)
