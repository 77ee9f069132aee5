"""Benchmark group `api`: GET /api/v1/customers/<id>/balance/ against the production server, 50 clients at once.

The server is the one production runs (`python -m config.serve`: Granian, WEB_WORKERS and WEB_THREADS from the
environment, their defaults otherwise), started as a subprocess on a free port of 127.0.0.1 with the benchmark's
own database and stopped at the end. 100 customers, each with a balance posted through the ledger, and a read-scope
API key are seeded first. The load comes from 50 real HTTP/1.1 clients (keep-alive connections, one request in
flight each, as a pool of API integrators would send them), run by asyncio in a process of their own so that they
do not share a GIL with anything: each client asks for the customers' balances in turn. After a warm-up
(BENCH_API_WARMUP seconds: the threads open their database connections), the clock runs for a fixed time;
every answer must be a 200 with the customer's balance, or the group fails.

Figures: api.balance_rps (answers per second over the measured window) and api.balance_p95_ms (95th percentile of
the time from sending a request to reading its whole answer), and two diagnostics counted in-process through
Django's WSGI handler with the same settings, which a busy machine does not change: api.balance_queries
(database queries one such request runs; the health check of a reused connection, one `SELECT 1` per request,
comes on top) and api.balance_python_calls (Python function calls one request makes, by cProfile over 200).

The clients, the server and PostgreSQL share the machine's cores, so the figures are for the whole system on one
machine. What each takes is printed to stderr: the CPU time per request of the server's processes, of the
PostgreSQL backends serving them and of the clients, so a slow figure on a busy machine can be told from a
slower server.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import sys
import time
from decimal import Decimal

CLIENTS = 50
CUSTOMERS = 100
WARMUP_SECONDS = float(os.environ.get("BENCH_API_WARMUP", "3"))
SECONDS = float(os.environ.get("BENCH_API_SECONDS", "10"))
HOST = "127.0.0.1"


def _seed() -> tuple[dict[int, str], str]:
    """CUSTOMERS customers with a top-up each ({id: expected balance as the API shows it}) and a read key."""
    from billing.models import Account, Transaction
    from billing.services.accounts import account_for_customer, account_system
    from billing.services.api_keys import api_key_create
    from billing.services.customers import customer_create
    from billing.services.ledger import Leg, ledger_post

    clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="RUB", code="clearing:bench-api").pk
    expected = {}
    for n in range(CUSTOMERS):
        customer = customer_create(name=f"API bench {n}", currency="RUB")
        amount = Decimal(1000 + n) + Decimal("0.25")
        account = account_for_customer(customer=customer).pk
        ledger_post(
            kind=Transaction.Kind.PAYMENT,
            key=f"bench-api:{n}",
            legs=[Leg(account, -amount, "RUB", "Top-up"), Leg(clearing, amount, "RUB", "Top-up")],
            customer=customer.pk,
            source_type="bench",
        )
        expected[customer.pk] = f"{amount:.2f}"
    _, raw_key = api_key_create(name="api benchmark", scope="read")
    return expected, raw_key


def _in_process(customer_id: int, raw_key: str) -> tuple[int, float]:
    """(database queries, Python function calls) of one balance request, in-process through the whole stack
    (Django's WSGI handler, as Granian calls it: middleware, auth, view, rendering). Unlike the timings, both are
    the same on a busy machine."""
    import cProfile
    import io
    import pstats

    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    handler = WSGIHandler()
    path = f"/api/v1/customers/{customer_id}/balance/"
    base = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": HOST,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": HOST,
        "HTTP_AUTHORIZATION": f"Bearer {raw_key}",
        "HTTP_ACCEPT": "application/json",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    answer = {}

    def request() -> bytes:
        body = b"".join(handler({**base, "wsgi.input": io.BytesIO()}, lambda status, *_: answer.update(status=status)))
        if not answer["status"].startswith("200"):
            raise AssertionError(f"GET {path} answered {answer['status']}: {body[:300]!r}")
        return body

    request()  # the key's last_used_at is written once a minute: not counted
    queries = []  # every statement sent through Django's cursors (the handler's request signals reset its query log)
    with connection.execute_wrapper(lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)):
        request()
    repeat = 200
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(repeat):
        request()
    profile.disable()
    return len(queries), pstats.Stats(profile).total_calls / repeat


# --- the clients --------------------------------------------------------------------------------------------------


class BadAnswer(Exception):
    pass


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep the connection) of one HTTP/1.1 answer with a Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, keep = None, True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            keep = False
        elif name == "transfer-encoding":
            raise BadAnswer(f"unexpected Transfer-Encoding: {value.strip()}")
    if length is None:
        raise BadAnswer("an answer without Content-Length")
    return status, await reader.readexactly(length), keep


async def _client(
    n: int, port: int, requests: list[tuple[bytes, int, str]], measure_from: float, stop: float
) -> tuple[list[float], int]:
    """Send requests one after another until `stop`: (latencies of those sent from `measure_from` on, how many)."""
    latencies = []
    reader = writer = None
    i = n  # each client starts at another customer
    loop_time = time.perf_counter
    while True:
        now = loop_time()
        if now >= stop:
            break
        if writer is None:
            reader, writer = await asyncio.open_connection(HOST, port)
        request, customer_id, balance = requests[i % len(requests)]
        i += 1
        sent = loop_time()
        writer.write(request)
        status, body, keep = await _read_answer(reader)
        took = loop_time() - sent
        if status != 200:
            raise BadAnswer(f"status {status}: {body[:300]!r}")
        answer = json.loads(body)
        if answer["customer_id"] != customer_id or answer["balances"][0]["amount"] != balance:
            raise BadAnswer(f"wrong balance for customer {customer_id}: {answer}")
        if sent >= measure_from:
            latencies.append(took)
        if not keep:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()
    return latencies, i - n


async def _load(port: int, requests: list[tuple[bytes, int, str]]) -> tuple[list[float], int]:
    measure_from = time.perf_counter() + WARMUP_SECONDS
    stop = measure_from + SECONDS
    per_client = await asyncio.gather(*(_client(n, port, requests, measure_from, stop) for n in range(CLIENTS)))
    return [latency for latencies, _ in per_client for latency in latencies], sum(sent for _, sent in per_client)


def _load_process(port: int, expected: dict[int, str], raw_key: str, results) -> None:
    try:
        requests = [
            (
                (
                    f"GET /api/v1/customers/{customer_id}/balance/ HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                    f"Authorization: Bearer {raw_key}\r\nAccept: application/json\r\n\r\n"
                ).encode(),
                customer_id,
                balance,
            )
            for customer_id, balance in expected.items()
        ]
        cpu = time.process_time()
        latencies, sent = asyncio.run(_load(port, requests))
        results.put((latencies, sent, time.process_time() - cpu))
    except BaseException as exc:
        results.put(exc)
        raise


def _run_load(port: int, expected: dict[int, str], raw_key: str) -> tuple[list[float], int, float]:
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    process = ctx.Process(target=_load_process, args=(port, expected, raw_key, results))
    process.start()
    outcome = results.get(timeout=WARMUP_SECONDS + SECONDS + 120)
    process.join(30)
    if isinstance(outcome, BaseException):
        raise RuntimeError("the load clients failed") from outcome
    return outcome


def _p95(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of these processes (those gone since are left out)."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _server_pids(server) -> list[int]:
    import psutil

    root = psutil.Process(server.process.pid)
    return [root.pid, *(child.pid for child in root.children(recursive=True))]


def _database_pids() -> list[int]:
    """The PostgreSQL backends connected to the benchmark's database (the server's persistent connections)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    connection.close()
    return pids


def run():
    from django.db import connection

    from tests.support.webserver import WebServer

    expected, raw_key = _seed()
    queries, calls = _in_process(next(iter(expected)), raw_key)
    connection.close()
    with WebServer() as server:  # the environment names the benchmark's database (tests.benchmarks.__main__)
        print(f"# api: {' '.join(server.argv[1:])}", file=sys.stderr, flush=True)
        server_pids = _server_pids(server)
        server_cpu = _cpu_seconds(server_pids)
        latencies, sent, client_cpu = _run_load(server.port, expected, raw_key)
        server_cpu = _cpu_seconds(server_pids) - server_cpu
        # the backends are known only once the threads have connected; their CPU before that (connecting, the
        # first requests) is counted too, which overstates the per-request figure a little
        database_cpu = _cpu_seconds(_database_pids())
    if not latencies:
        raise AssertionError("no request was answered in the measured window")
    print(
        f"# api: {len(latencies)} answers in {SECONDS:.0f}s, {sent} with the warm-up; CPU per request: server "
        f"{server_cpu / sent * 1e6:.0f} µs, PostgreSQL {database_cpu / sent * 1e6:.0f} µs, clients "
        f"{client_cpu / sent * 1e6:.0f} µs",
        file=sys.stderr,
        flush=True,
    )
    yield "api.balance_rps", len(latencies) / SECONDS, "req/s"
    yield "api.balance_p95_ms", _p95(latencies) * 1000, "ms"
    yield "api.balance_queries", queries, "queries"
    yield "api.balance_python_calls", calls, "calls"
