"""A price is chosen by the subscription's currency (issue: a USD subscription pointing at a RUB-only price of
990.00 was charged 990.00 USD, to USD revenue)."""

from __future__ import annotations

import pytest
from moneyed import Money

from plans.errors import CurrencyMismatch
from plans.models import PlanPrice, Subscription
from plans.pricing.charges import LineKind, line
from plans.services.posting import charge_post
from plans.services.snapshots import load_snapshots
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import funded_customer, make_plan, make_product
from tests.plans.billing_run.helpers import FEB15, JAN15, charges, subscription_state
from tests.plans.support import D, run_billing
from tests.support.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db


def _usd_subscription_on_a_rub_price(*, usd_price: str | None, grandfathered: bool = False) -> Subscription:
    """A USD customer's subscription whose price row is the plan's RUB price (as an edit by hand left it); with
    `usd_price` None the plan keeps no USD price at all."""
    plan = make_plan("basic", "990.00", "RUB", product=make_product("crm"), grandfathered=grandfathered)
    since = plan.prices.get().valid_from
    usd = PlanPrice.objects.create(plan=plan, amount=Money(D(usd_price or "1.00"), "USD"), valid_from=since)
    sub = subscription_create(
        customer_id=funded_customer("1000.00", currency="USD").pk, plan_code="basic", currency="USD", at=JAN15
    )
    Subscription.objects.filter(pk=sub.pk).update(price=plan.prices.get(amount_currency="RUB"))
    if usd_price is None:
        usd.delete()
    return sub


def test_the_renewal_charges_the_price_in_the_subscriptions_currency(policy):
    # given a USD subscription pointing at the RUB price of a grandfathered plan (which keeps a subscription's
    # price version), the plan priced 15.00 in USD too
    sub = _usd_subscription_on_a_rub_price(usd_price="15.00", grandfathered=True)

    # when the run renews it
    run = run_billing(FEB15)

    # then February is charged 15.00 USD from the USD price, which the subscription now points at
    assert (run.processed, run.failed) == (1, 0)
    assert charges(sub)[-1][3] == D("15.00")
    sub.refresh_from_db()
    assert (sub.price.amount, sub.currency) == (Money(D("15.00"), "USD"), "USD")
    assert_ledger_consistent()


def test_no_price_in_the_subscriptions_currency_is_a_visible_failure(policy):
    # given a USD subscription pointing at the RUB price of a plan priced only in RUB
    sub = _usd_subscription_on_a_rub_price(usd_price=None)
    before = subscription_state(sub)

    # when the run comes
    run = run_billing(FEB15)

    # then it records the failure with its reason and charges nothing
    assert (run.processed, run.failed) == (0, 1)
    assert run.failures[0]["subscription_id"] == sub.pk
    assert "has no price in USD" in run.failures[0]["reason"]
    assert len(charges(sub)) == 1  # January, charged at creation
    assert subscription_state(sub) == before


def test_the_posting_path_refuses_a_line_in_another_currency(policy):
    # given a USD subscription
    sub = _usd_subscription_on_a_rub_price(usd_price="15.00")
    snap = load_snapshots([sub.pk], as_of=FEB15)[sub.pk]
    before = len(charges(sub))

    # when a RUB line is posted to it
    with pytest.raises(CurrencyMismatch):
        charge_post(
            snap=snap,
            kind="proration",
            period=snap.period,
            lines=[line(LineKind.PLAN, "Basic", D("990.00"), "RUB", ref="basic")],
            key="rub-line",
            effective_date=FEB15.date(),
        )

    # then nothing was written
    assert len(charges(sub)) == before
