"""Benchmark group `portal`: the dashboard and the history of a customer with years of history.

Seed: one customer whose balance account holds 100,000 entries (50,000 top-ups and 50,000 charges, posted by the
ledger's batch writer in chunks, spread over four years of effective dates), a live subscription (the dashboard
asks the engine for the next charge), a saved card, a portal owner; and a second customer with ten entries; then
ANALYZE, as autovacuum would after such a load.

Measured in-process through Django's whole stack (django.test.Client, signed in with a password: sessions, the
portal's access check, templates), DEBUG off: REQUESTS requests per page after a warm-up, timed one by one.

Figures: portal.dashboard_p95_ms and portal.history_p95_ms (target ≤ 150 ms each); portal.history_deep_p95_ms (a
page far back, `?before=` the middle of the history) and portal.history_filtered_p95_ms (charges of one year);
portal.csv_entries_per_s (the whole history exported); portal.dashboard_queries and portal.history_queries
(queries per request), which must equal those of the customer with ten entries, or the group fails: the count is
constant in the size of the history.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from decimal import Decimal

ENTRIES = 100_000
CHUNK = 5_000
REQUESTS = 200
PASSWORD = "Bench-portal-2026"


def _seed_history(customer, n: int) -> None:
    from django.db import transaction

    from billing.models import Account, Transaction
    from billing.services.accounts import account_for_customer, account_system
    from billing.services.ledger import Leg
    from billing.services.ledger_batch import Posting, ledger_batch_close, ledger_batch_post

    own = account_for_customer(customer=customer).pk
    clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="RUB", code="clearing:bench-portal").pk
    revenue = account_system(kind=Account.Kind.REVENUE, currency="RUB", code="revenue:bench-portal").pk
    start = dt.date(2022, 12, 1)
    for first in range(0, n, CHUNK):
        postings = []
        for i in range(first, min(n, first + CHUNK)):
            day = start + dt.timedelta(days=i * 1460 // n)
            if i % 2 == 0:
                amount, kind, other, what = Decimal("120.00"), Transaction.Kind.PAYMENT, clearing, "Top-up"
            else:
                amount, kind, other, what = Decimal("-100.00"), Transaction.Kind.CHARGE, revenue, "Plan"
            legs = [Leg(own, -amount, "RUB", what), Leg(other, amount, "RUB", what)]
            postings.append(
                Posting(
                    kind=kind,
                    key=f"bench-portal:{customer.pk}:{i}",
                    legs=legs,
                    effective_date=day,
                    customer_id=customer.pk,
                    source_type="bench",
                    description=what,
                    event_type=None,
                )
            )
        with transaction.atomic():
            ledger_batch_close(ledger_batch_post(postings))


def _seed():
    from billing.models import Customer, PaymentMethod
    from billing.services.customers import customer_create
    from billing.services.portal_access import customer_user_add
    from plans.models import Plan, PlanPrice, Product
    from plans.services.subscriptions import subscription_create

    product = Product.objects.create(code="bench-portal", name="Bench portal")
    plan = Plan.objects.create(product=product, code="bench-portal-pro", name="Pro", is_public=True)
    from moneyed import Money

    PlanPrice.objects.create(
        plan=plan, amount=Money(Decimal("990.00"), "RUB"), valid_from=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )
    customers = {}
    for name, entries in (("big", ENTRIES), ("small", 10)):
        customer = customer_create(name=f"Portal bench {name}", currency="RUB", credit_limit=Decimal("1000000"))
        _seed_history(customer, entries)
        subscription_create(customer_id=customer.pk, plan_code=plan.code)
        PaymentMethod.objects.create(
            customer=customer,
            provider="test",
            provider_method_id=f"pm-{name}",
            title="Visa •••• 4242",
            expires_on=dt.date(2030, 1, 31),
        )
        customer_user_add(customer_id=customer.pk, email=f"{name}@bench.test", role="owner", password=PASSWORD)
        customers[name] = Customer.objects.get(pk=customer.pk)
    return customers


def _client(email: str):
    from django.test import Client

    client = Client()
    response = client.post("/portal/login/", {"email": email, "password": PASSWORD})
    if response.status_code != 302:
        raise AssertionError(f"sign-in failed: {response.status_code}")
    return client


def _timed(client, url: str, check) -> list[float]:
    for _ in range(10):
        check(client.get(url))
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        check(response)
    return times


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=100)[94]


def _queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    if response.status_code != 200:
        raise AssertionError(f"{url}: {response.status_code}")
    return len(captured.captured_queries)


def run():
    from django.db import connection

    from billing.models import Entry

    customers = _seed()
    with connection.cursor() as cursor:  # what autovacuum does after such a load: statistics for the planner
        cursor.execute("ANALYZE")
    big = _client("big@bench.test")
    small = _client("small@bench.test")
    entries = Entry.objects.filter(account__customer=customers["big"], account__kind="customer").count()
    if entries < ENTRIES:
        raise AssertionError(f"the big customer has {entries} entries")

    def ok(response):
        if response.status_code != 200:
            raise AssertionError(f"{response.status_code}")

    def page_of_50(response):
        ok(response)
        rows = response.content.count(b'<td class="num ')  # one amount cell per row of the history's table
        if rows != 50:
            raise AssertionError(f"a history page of {rows} rows")

    yield "portal.dashboard_p95_ms", _p95(_timed(big, "/portal/", ok)), "ms"
    yield "portal.history_p95_ms", _p95(_timed(big, "/portal/history/", page_of_50)), "ms"
    middle = (
        Entry.objects.filter(account__customer=customers["big"])
        .order_by("id")
        .values_list("id", flat=True)[entries // 2]
    )
    yield "portal.history_deep_p95_ms", _p95(_timed(big, f"/portal/history/?before={middle}", page_of_50)), "ms"
    filtered = "/portal/history/?kind=charges&date_from=2024-01-01&date_to=2024-12-31"
    yield "portal.history_filtered_p95_ms", _p95(_timed(big, filtered, page_of_50)), "ms"

    started = time.perf_counter()
    response = big.get("/portal/history.csv")
    lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
    elapsed = time.perf_counter() - started
    if lines != entries + 1:
        raise AssertionError(f"the CSV has {lines} lines for {entries} entries")
    yield "portal.csv_entries_per_s", entries / elapsed, "entries/s"

    for page in ("dashboard", "history"):
        url = "/portal/" if page == "dashboard" else "/portal/history/"
        many, few = _queries(big, url), _queries(small, url)
        if many != few:
            raise AssertionError(f"{page}: {many} queries for 100,000 entries, {few} for ten")
        yield f"portal.{page}_queries", many, "queries"
