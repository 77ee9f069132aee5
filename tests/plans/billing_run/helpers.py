"""Helpers shared by the billing run tests: the first period's instants, charges, ledger and event read-backs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from billing.models import Account, Customer, Entry, Event, Transaction
from plans.models import BillingRun, Charge, Subscription
from plans.services.subscriptions import subscription_create
from plans.services.usage import UsageEventIn, usage_record_batch
from tests.factories.catalog import funded_customer, make_metric, make_plan, make_product, make_usage_charge
from tests.plans.support import D, msk
from tests.plans.support import msk_midnight as midnight

JAN15 = msk(2026, 1, 15)  # subscriptions start here: first period [Jan 15, Feb 15)
FEB15 = midnight(2026, 2, 15)  # the first boundary, when the run renews them


def charges(sub: Subscription) -> list[tuple[str, dt.date, dt.date, Decimal]]:
    """(kind, period start, period end, amount) of the subscription's charges, but for the zero setup-fee row that
    subscription_create records for a plan without a setup fee."""
    return [
        (c.kind, c.period_start, c.period_end, c.amount.amount)
        for c in Charge.objects.filter(subscription=sub).order_by("period_start", "kind")
        if not (c.kind == Charge.Kind.SETUP and c.amount.amount == 0)
    ]


def charge(sub: Subscription, kind: str, period_start: dt.date) -> Charge:
    return Charge.objects.get(subscription=sub, kind=kind, period_start=period_start)


def lines(c: Charge) -> list[tuple[str, str, Decimal, Decimal]]:
    """(line kind, ref, amount, quantity) of a charge's recorded lines."""
    return [(x["kind"], x["ref"], D(x["amount"]), D(x["quantity"])) for x in c.lines]


def entries(c: Charge) -> list[tuple[str, Decimal]]:
    """(account code, signed amount) of the charge's ledger transaction, in posting order."""
    return list(
        Entry.objects.filter(transaction_id=c.transaction_id).order_by("pk").values_list("account__code", "amount")
    )


def funds(customer: Customer) -> Decimal:
    """Money available on the customer's balance (the account is credit-normal: minus its debit balance)."""
    return -Account.objects.get(code=f"customer:{customer.pk}", balance_currency="RUB").balance.amount


def written() -> dict[str, int]:
    return {
        "runs": BillingRun.objects.count(),
        "charges": Charge.objects.count(),
        "transactions": Transaction.objects.count(),
        "entries": Entry.objects.count(),
        "events": Event.objects.count(),
    }


def subscription_state(sub: Subscription) -> tuple:
    sub.refresh_from_db()
    return sub.status, sub.current_period_start, sub.current_period_end, sub.next_billing_at


def events_of(type_: str, **payload) -> list[Event]:
    return list(Event.objects.filter(type=type_, **{f"payload__{k}": v for k, v in payload.items()}).order_by("pk"))


def _usage_subscription(
    aggregation: str, model: str, pricing: dict, *, minimum: str | None = None, balance: str = "10000.00"
):
    product = make_product("api")
    plan = make_plan("metered", "500.00", product=product, charge_timing="in_arrears", minimum_commitment=minimum)
    metric = make_metric(
        "seats", aggregation=aggregation, unique_property="user" if aggregation == "unique_count" else ""
    )
    make_usage_charge(plan, metric, model, **pricing)
    customer = funded_customer(balance)
    other = funded_customer("10000.00", name="Other")
    # an event before the period (sent while the customer had no open period: once it has one, an event before
    # it is refused) is never counted in it
    usage_record_batch(
        events=[UsageEventIn("before", customer.pk, "seats", D("100"), msk(2026, 1, 14, 23, 59), {"user": "z"})]
    )
    sub = subscription_create(customer_id=customer.pk, plan_code="metered", at=JAN15)
    usage_record_batch(
        events=[
            UsageEventIn("e1", customer.pk, "seats", D("5"), midnight(2026, 1, 15), {"user": "a"}),
            UsageEventIn("e2", customer.pk, "seats", D("12"), msk(2026, 2, 1), {"user": "b"}),
            UsageEventIn("e3", customer.pk, "seats", D("3"), msk(2026, 2, 14, 23, 59, 59), {"user": "a"}),
            UsageEventIn("at-end", customer.pk, "seats", D("1000"), FEB15, {"user": "y"}),
            UsageEventIn("other", other.pk, "seats", D("50"), msk(2026, 2, 1), {"user": "x"}),
        ]
    )
    return customer, sub
