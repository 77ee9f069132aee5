"""The query plans of a billing chunk: a chunk reads and writes its own thousand rows by key, whatever the size of
the tables (issue 9: a chunk's discount load hashed the whole subscription table, its option load scanned every
option, so a chunk's cost grew with the installation)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from plans.models import BillingRun, Promotion, Subscription, SubscriptionDiscount
from plans.services.billing_chunk import billing_run_chunk
from plans.services.billing_run import billing_run_start
from tests.support.billing_seed import AS_OF, seed

pytestmark = pytest.mark.django_db

# tables that grow with the installation's customers and subscriptions
GROWING = {
    "billing_customer",
    "billing_account",
    "billing_transaction",
    "billing_entry",
    "plans_subscription",
    "plans_subscriptionoption",
    "plans_subscriptiondiscount",
    "plans_charge",
}

SCAN = re.compile(r"(?:Parallel )?Seq Scan on (\w+)")


def test_a_chunk_reads_its_rows_by_key_instead_of_scanning_tables_that_grow(policy):
    # given an installation of 12,000 subscriptions (options on some, a discount on at least every tenth), its
    # statistics up to date
    seed(cohort=1, n=12_000)
    promo = Promotion.objects.get(code="bench-10")
    SubscriptionDiscount.objects.bulk_create(
        [
            SubscriptionDiscount(subscription_id=pk, promotion=promo)
            for pk in Subscription.objects.order_by("id").values_list("id", flat=True)[::10]
        ],
        ignore_conflicts=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    # when one chunk of 1,000 is billed, and each of its statements is explained afterwards
    run = billing_run_start(as_of=AS_OF, triggered_by="test", chunk_size=1000)
    with CaptureQueriesContext(connection) as captured:
        result = billing_run_chunk(run=run)
    BillingRun.objects.filter(pk=run.pk).update(status=BillingRun.Status.COMPLETED)
    assert result.claimed == 1000 and result.failed == 0
    scanned = {}
    with connection.cursor() as cursor:
        # a table of a few thousand rows may well be read whole (a sequential scan is then the cheaper plan)
        cursor.execute("SELECT relname FROM pg_class WHERE relname = ANY(%s) AND reltuples > 5000", [list(GROWING)])
        big = {row[0] for row in cursor.fetchall()}
        assert {"plans_subscription", "billing_customer", "billing_account"} <= big
        for query in captured.captured_queries:
            sql = query["sql"]
            if not re.match(r"\s*(SELECT|WITH|INSERT|UPDATE)", sql, re.I):
                continue
            cursor.execute("EXPLAIN " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            for table in SCAN.findall(plan):
                if table in big:
                    scanned.setdefault(table, sql[:200])

    # then no statement reads a whole large growing table: each finds the chunk's rows through an index
    assert scanned == {}
