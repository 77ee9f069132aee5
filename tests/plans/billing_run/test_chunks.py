"""One chunk of the billing run (plans.services.billing_chunk): queries per chunk."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Account, Customer, Seller
from billing.services.accounts import AccountResolver, account_system
from plans.models import BillingRun, Charge, Promotion, Subscription, SubscriptionDiscount, SubscriptionOption
from plans.services.billing_chunk import billing_run_chunk
from plans.services.billing_run import billing_run_start
from tests.support.billing_seed import AS_OF, seed
from tests.support.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db


def test_queries_per_chunk_do_not_depend_on_the_chunk_size(policy):
    # given 110 due subscriptions seeded set-based (mixed plans in advance and in arrears, quarterly, options,
    # usage, customers without money), the revenue, promo and VAT payable accounts in place as after any earlier
    # run ...
    seed(cohort=1, n=110)
    for code in [f"revenue:bench-p{i}" for i in range(5)]:
        account_system(kind=Account.Kind.REVENUE, currency="RUB", code=code)
    account_system(kind=Account.Kind.PROMO, currency="RUB")
    AccountResolver().vat_payable(Seller.objects.get(is_default=True).pk, "RUB")  # the seed's VAT-paying seller
    ids = list(Subscription.objects.order_by("id").values_list("id", flat=True))
    small, big = ids[:10], ids[10:]
    # ... and in each of the two chunks a discounted one, one canceling at period end and one suspending
    promo = Promotion.objects.get(code="bench-10")
    for group in (small, big):
        SubscriptionDiscount.objects.get_or_create(subscription_id=group[1], promotion=promo)
        Subscription.objects.filter(pk=group[2]).update(cancel_at_period_end=True)
        Customer.objects.filter(subscriptions=group[3]).update(past_due_since=AS_OF - dt.timedelta(days=30))
    assert Subscription.objects.filter(plan__code="bench-usage", pk__in=small).exists()
    assert SubscriptionOption.objects.filter(subscription_id__in=small).exists()

    # when one chunk of 10 and then one chunk of 100 are billed
    small_run = billing_run_start(as_of=AS_OF, triggered_by="test", chunk_size=10)
    with CaptureQueriesContext(connection) as small_queries:
        small_result = billing_run_chunk(run=small_run)
    BillingRun.objects.filter(pk=small_run.pk).update(status=BillingRun.Status.COMPLETED)  # one live run at a time
    big_run = billing_run_start(as_of=AS_OF, triggered_by="test", chunk_size=100)
    with CaptureQueriesContext(connection) as big_queries:
        big_result = billing_run_chunk(run=big_run)

    # then both did all their work with the same, fixed number of statements
    assert (small_result.claimed, small_result.failed, small_result.canceled, small_result.suspended) == (10, 0, 1, 1)
    assert (big_result.claimed, big_result.failed, big_result.canceled, big_result.suspended) == (100, 0, 1, 1)
    assert len(small_queries) == len(big_queries) == small_result.queries == big_result.queries
    assert len(big_queries) < 50  # far below one per subscription of the chunk of 100
    assert not Subscription.objects.filter(status="active", next_billing_at__lte=AS_OF).exists()
    renewed = list(Subscription.objects.filter(status="active").values_list("id", flat=True))
    assert len(renewed) == 110 - 2 - 2
    assert Charge.objects.filter(kind="recurring", subscription_id__in=renewed).count() == len(renewed)
    assert_ledger_consistent()
