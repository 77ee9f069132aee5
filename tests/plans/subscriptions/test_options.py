"""Options (add-ons) on a subscription: prorated adds and removes, recurring options renewed with the plan."""

from __future__ import annotations

import pytest

from plans.services.subscriptions import subscription_create, subscription_option_add, subscription_option_remove
from tests.factories.catalog import funded_customer, make_option, make_plan
from tests.plans.subscriptions.helpers import money_charges
from tests.plans.support import D, balance, charge_lines, ledger_entries, msk, msk_midnight, run_billing

pytestmark = pytest.mark.django_db


def test_option_add_and_remove_are_prorated(product):
    # given April paid on a 900.00 plan
    make_plan("basic", "900.00", product=product)
    make_option("backup", "300.00", product=product)
    make_option("migration", "1500.00", product=product, kind="one_time")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))

    # when a recurring option is added on the 11th (20 of 30 days left)
    added = subscription_option_add(subscription_id=sub.pk, option_code="backup", at=msk(2026, 4, 11))

    # then 300 × 20/30 = 200.00 is charged
    assert (added.kind, charge_lines(added)) == ("proration", [("proration_charge", "backup", D("200.00"))])
    assert ledger_entries(added) == [(f"customer:{customer.pk}", D("200.00")), ("revenue:crm", D("-200.00"))]

    # when a one-time option is added, then it is charged in full
    one_time = subscription_option_add(subscription_id=sub.pk, option_code="migration", at=msk(2026, 4, 11))
    assert (one_time.kind, charge_lines(one_time)) == ("one_time", [("option", "migration", D("1500.00"))])

    # when the recurring option is removed on the 21st (10 of 30 days left)
    removed = subscription_option_remove(subscription_id=sub.pk, option_code="backup", at=msk(2026, 4, 21))

    # then 300 × 10/30 = 100.00 is credited
    assert (removed.kind, charge_lines(removed)) == ("proration", [("proration_credit", "backup", D("-100.00"))])
    assert balance(customer) == D("7500.00")  # 10000 - 900 - 200 - 1500 + 100

    # and May renews the plan alone (the one-time option is not charged again)
    run_billing(msk_midnight(2026, 5, 1))
    may = money_charges(sub)[-1]
    assert charge_lines(may) == [("plan", "basic", D("900.00"))]
    assert balance(customer) == D("6600.00")


def test_recurring_option_renews_with_the_plan(product):
    make_plan("basic", "900.00", product=product)
    make_option("backup", "300.00", product=product)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", at=msk(2026, 4, 1))
    subscription_option_add(subscription_id=sub.pk, option_code="backup", quantity=2, at=msk(2026, 4, 16))

    run_billing(msk_midnight(2026, 5, 1))

    # April: 900 + 600 × 15/30 = 300.00; May: 900 + 2 × 300
    may = money_charges(sub)[-1]
    assert charge_lines(may) == [("plan", "basic", D("900.00")), ("option", "backup", D("600.00"))]
    assert balance(customer) == D("7300.00")  # 10000 - 900 - 300 - 1500
