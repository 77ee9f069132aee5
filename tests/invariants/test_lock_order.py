"""One lock order everywhere (customer row, then subscription rows, then account rows in id order): plan changes,
option purchases, top-ups and a billing run on the same 50 customers from 16 threads never deadlock and lose no
update. Real transactions, one database connection per thread."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from decimal import Decimal

import pytest
from django.db import OperationalError
from django.db.models import Sum
from django.utils import timezone

from billing.models import Account, Entry, Transaction
from config.errors import ApplicationError
from plans.models import Charge, Subscription
from plans.services.billing_run import billing_run_execute
from plans.services.subscriptions import subscription_change_plan, subscription_create, subscription_option_add
from tests.factories.catalog import funded_customer, make_option, make_plan, make_product, top_up
from tests.support.threads import run_threads

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CUSTOMERS = 50
THREADS = 16
OPS_PER_THREAD = 40
TOP_UP = Decimal("500.00")
# refusals a racing action may meet (a state another thread changed, the prepaid rule): answers, not failures
BENIGN = {
    "renewal_pending",
    "invalid_subscription_state",
    "option_not_allowed",
    "insufficient_funds",
    "customer_suspended",
}


@pytest.mark.parametrize(
    "with_run",
    [
        False,
        True,  # the chunk claims each subscription with its customer row locked (FOR NO KEY UPDATE OF s, c)
    ],
    ids=["services", "services_and_billing_run"],
)
def test_changes_options_top_ups_and_a_billing_run_on_the_same_customers_never_deadlock(with_run):
    # given 50 prepaid customers with a little money, each on a monthly plan (some go beyond the credit limit
    # under the load below, so the charges also mark them past due: an update of the customer row)
    now = timezone.now()
    product = make_product("lockorder")
    plan = make_plan("lockorder-basic", "300.00", product=product)
    options = [make_option(f"lockorder-opt{i}", "50.00", product=product, kind="one_time") for i in range(6)]
    subs = []
    for n in range(CUSTOMERS):
        customer = funded_customer("400.00", name=f"Lock {n}")
        subs.append(subscription_create(customer_id=customer.pk, plan_code=plan.code, at=now))
    # with the run: past every first period, the run renews each and the actions follow it; without: mid-period
    later = now + dt.timedelta(days=35 if with_run else 10)

    outcomes: Counter = Counter()
    failures: list[str] = []
    topped: Counter = Counter()

    def work(i: int) -> None:
        rng = random.Random(9000 + i)
        if i == 0 and with_run:
            try:
                billing_run_execute(as_of=later, triggered_by="test")
            except OperationalError as exc:
                failures.append(f"billing run: {exc}")
        for n in range(OPS_PER_THREAD):
            sub = rng.choice(subs)
            op = rng.choice(["change", "option", "top_up"])
            try:
                if op == "change":
                    subscription_change_plan(subscription_id=sub.pk, quantity=rng.randint(1, 4), at=later)
                elif op == "option":
                    subscription_option_add(subscription_id=sub.pk, option_code=rng.choice(options).code, at=later)
                else:
                    top_up(sub.customer_id, TOP_UP, key=f"lockorder:{i}:{n}")
                    topped[sub.customer_id] += 1
                outcomes[op] += 1
            except ApplicationError as exc:
                if exc.code not in BENIGN:
                    failures.append(f"{op}: {exc.code}: {exc}")
                outcomes[exc.code] += 1
            except OperationalError as exc:
                failures.append(f"{op}: {exc}")

    # when
    run_threads(work, threads=THREADS, name="locker")

    # then nothing deadlocked, nothing else failed
    deadlocks = [f for f in failures if "deadlock detected" in f]
    assert deadlocks == [], f"{len(deadlocks)} deadlocks: {deadlocks[:3]}"
    assert failures == []
    assert outcomes["change"] and outcomes["option"] and outcomes["top_up"], outcomes
    if with_run:
        assert Charge.objects.filter(kind=Charge.Kind.RECURRING, period_start__gt=now.date()).exists()
    # and the ledger is balanced: every transaction sums to zero, every cached balance is the sum of its entries
    assert not Entry.objects.values("transaction_id").annotate(s=Sum("amount")).exclude(s=0).exists()
    for account in Account.objects.all():
        entries = Entry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or Decimal(0)
        assert account.total_balance.amount == entries, account.code
    # and no update was lost: each customer owes exactly its charges less its top-ups
    for sub in subs:
        account = Account.objects.get(customer_id=sub.customer_id, kind=Account.Kind.CUSTOMER)
        charged = Charge.objects.filter(subscription__customer_id=sub.customer_id, transaction__isnull=False).aggregate(
            s=Sum("amount")
        )["s"] or Decimal(0)
        credited = Decimal("400.00") + TOP_UP * topped[sub.customer_id]
        assert account.balance.amount == charged - credited, sub.customer_id
    assert Transaction.objects.filter(kind=Transaction.Kind.ADJUSTMENT).count() == CUSTOMERS + sum(topped.values())
    assert Subscription.objects.count() == CUSTOMERS
