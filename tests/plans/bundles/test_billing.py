"""Bundle subscriptions billed by the unchanged engine: the package price to revenue:bundles."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Sum
from moneyed import Money

from billing.models import Entry, Event
from plans import events
from plans.models import BundlePrice, Charge, SubscriptionOption
from plans.services.bundles import bundle_publish
from plans.services.subscriptions import (
    subscription_cancel,
    subscription_change_plan,
    subscription_change_preview,
    subscription_create,
    subscription_pause,
    subscription_resume,
)
from tests.factories.catalog import funded_customer
from tests.plans.support import D, balance, charge_lines, charges_of, ledger_entries, msk, msk_midnight, run_billing

pytestmark = pytest.mark.django_db


def revenue(product_code: str) -> D:
    """What the product's revenue account holds (credit-normal: minus the sum of its entries)."""
    return -(Entry.objects.filter(account__code=f"revenue:{product_code}").aggregate(s=Sum("amount"))["s"] or D(0))


# --- subscribing and billing -----------------------------------------------------------------------


def test_a_bundle_subscription_is_billed_the_package_price_every_period_to_revenue_bundles(office):
    # given a customer with 10 000.00
    customer = funded_customer("10000.00")

    # when it subscribes to the bundle at Moscow noon on Jan 15, 2026, and the run renews it twice
    sub = subscription_create(customer_id=customer.pk, bundle_code="office", at=msk(2026, 1, 15))
    run_billing(msk_midnight(2026, 2, 15))
    run_billing(msk_midnight(2026, 3, 15))

    # then it is on the backing plan, one of it, paying the RUB version, with no option of its own
    sub.refresh_from_db()
    assert (sub.plan_id, sub.quantity, sub.price.amount) == (office.plan_id, 1, Money("1200.00", "RUB"))
    assert SubscriptionOption.objects.filter(subscription=sub).count() == 0  # crm-backup is included, not added
    # and each period is charged exactly the package price, on revenue:bundles only
    recurring = charges_of(sub, Charge.Kind.RECURRING)
    assert [(c.period_start, c.period_end, c.amount.amount) for c in recurring] == [
        (dt.date(2026, 1, 15), dt.date(2026, 2, 15), D("1200.00")),
        (dt.date(2026, 2, 15), dt.date(2026, 3, 15), D("1200.00")),
        (dt.date(2026, 3, 15), dt.date(2026, 4, 15), D("1200.00")),
    ]
    for charge in recurring:
        assert charge_lines(charge) == [("plan", "bundle-office", D("1200.00"))]
        assert ledger_entries(charge) == [(f"customer:{customer.pk}", D("1200.00")), ("revenue:bundles", D("-1200.00"))]
    assert (revenue("bundles"), revenue("crm"), revenue("storage")) == (D("3600.00"), D(0), D(0))
    assert balance(customer) == D("6400.00")  # 10 000.00 − 3 × 1 200.00
    created = Event.objects.get(type=events.SUBSCRIPTION_CREATED, customer_id=customer.pk)
    assert (created.payload["bundle"], created.payload["plan_id"]) == ("office", office.plan_id)


def test_a_new_bundle_price_published_applies_at_the_next_renewal(office):
    # given a subscription from Jan 15, 2026 at 1200.00, then a version of 1500.00 from Feb 1 published
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, bundle_code="office", at=msk(2026, 1, 15))
    BundlePrice.objects.create(bundle=office, amount=Money("1500.00", "RUB"), valid_from=msk_midnight(2026, 2, 1))
    bundle_publish(bundle_id=office.pk)

    # when the run renews it on Feb 15
    run_billing(msk_midnight(2026, 2, 15))

    # then the new period pays the new package price
    assert [c.amount.amount for c in charges_of(sub, Charge.Kind.RECURRING)] == [D("1200.00"), D("1500.00")]
    assert balance(customer) == D("7300.00")  # 10 000.00 − 1 200.00 − 1 500.00


def test_cancel_now_credits_the_unused_part_of_the_package_price(office):
    # given a subscription of [Jan 15, Feb 15) 2026 (31 days)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, bundle_code="office", at=msk(2026, 1, 15))

    # when canceled on Jan 30: 16 days unused
    _, credit = subscription_cancel(subscription_id=sub.pk, at=msk(2026, 1, 30))

    # then 1200.00 × 16/31 = 619.354… → 619.35 is given back from revenue:bundles
    assert charge_lines(credit) == [("proration_credit", "bundle-office", D("-619.35"))]
    assert ledger_entries(credit) == [(f"customer:{customer.pk}", D("-619.35")), ("revenue:bundles", D("619.35"))]
    assert balance(customer) == D("9419.35")  # 10 000.00 − 1 200.00 + 619.35
    # and the run has nothing more to charge
    run_billing(msk_midnight(2026, 2, 15))
    assert len(charges_of(sub, Charge.Kind.RECURRING)) == 1


def test_pause_and_resume_credit_and_charge_the_package_price(office):
    # given a subscription of [Jan 15, Feb 15) 2026 (31 days)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, bundle_code="office", at=msk(2026, 1, 15))

    # when paused on Jan 30 (16 days unused) and resumed on Feb 2
    _, credit = subscription_pause(subscription_id=sub.pk, at=msk(2026, 1, 30))
    _, restart = subscription_resume(subscription_id=sub.pk, at=msk(2026, 2, 2))

    # then 619.35 (1200.00 × 16/31) is credited and a fresh period [Feb 2, Mar 2) charged 1200.00
    assert charge_lines(credit) == [("proration_credit", "bundle-office", D("-619.35"))]
    assert (restart.period_start, restart.period_end, restart.amount.amount) == (
        dt.date(2026, 2, 2),
        dt.date(2026, 3, 2),
        D("1200.00"),
    )
    assert ledger_entries(restart) == [(f"customer:{customer.pk}", D("1200.00")), ("revenue:bundles", D("-1200.00"))]
    assert balance(customer) == D("8219.35")  # 10 000.00 − 1 200.00 + 619.35 − 1 200.00


def test_a_change_from_a_plain_plan_to_the_bundle_and_back_prorates_with_the_package_price(office):
    # given CRM Start at 990.00 from Apr 1, 2027: [Apr 1, May 1) has 30 days
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="crm-start", at=msk(2027, 4, 1))

    # when it changes to the bundle's plan on Apr 16 (15 days left), previewed first
    preview = subscription_change_preview(subscription_id=sub.pk, plan_code="bundle-office", at=msk(2027, 4, 16, 15))
    _, to_bundle = subscription_change_plan(subscription_id=sub.pk, plan_code="bundle-office", at=msk(2027, 4, 16, 15))

    # then 990.00 × 15/30 = 495.00 is credited to CRM and 1200.00 × 15/30 = 600.00 charged to the bundles
    assert charge_lines(to_bundle) == [
        ("proration_credit", "crm-start", D("-495.00")),
        ("proration_charge", "bundle-office", D("600.00")),
    ]
    assert [(x.kind, x.ref, x.amount) for x in preview.lines] == charge_lines(to_bundle)
    assert ledger_entries(to_bundle) == [
        (f"customer:{customer.pk}", D("105.00")),
        ("revenue:crm", D("495.00")),
        ("revenue:bundles", D("-600.00")),
    ]
    sub.refresh_from_db()
    assert (sub.plan_id, sub.quantity, sub.price.amount) == (office.plan_id, 1, Money("1200.00", "RUB"))

    # when it changes back on Apr 21 (10 days left) and the run renews it on May 1
    _, to_start = subscription_change_plan(subscription_id=sub.pk, plan_code="crm-start", at=msk(2027, 4, 21, 15))
    run_billing(msk_midnight(2027, 5, 1))

    # then 1200.00 × 10/30 = 400.00 is credited from the bundles, 990.00 × 10/30 = 330.00 charged to CRM
    assert charge_lines(to_start) == [
        ("proration_credit", "bundle-office", D("-400.00")),
        ("proration_charge", "crm-start", D("330.00")),
    ]
    assert ledger_entries(to_start) == [
        (f"customer:{customer.pk}", D("-70.00")),
        ("revenue:bundles", D("400.00")),
        ("revenue:crm", D("-330.00")),
    ]
    assert [(c.period_start, c.amount.amount) for c in charges_of(sub, Charge.Kind.RECURRING)] == [
        (dt.date(2027, 4, 1), D("990.00")),
        (dt.date(2027, 5, 1), D("990.00")),
    ]
    assert (revenue("bundles"), revenue("crm")) == (D("200.00"), D("1815.00"))  # 600 − 400; 990 − 495 + 330 + 990
    assert balance(customer) == D("7985.00")  # 10 000.00 − 990.00 − 105.00 + 70.00 − 990.00


def test_a_change_from_several_seats_to_the_bundle_takes_one_bundle(office):
    # given 3 seats of CRM Start at 990.00 from Apr 1, 2027 (30 days)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="crm-start", quantity=3, at=msk(2027, 4, 1))

    # when it changes to the bundle on Apr 16 (15 days left) without a quantity
    _, charge = subscription_change_plan(subscription_id=sub.pk, plan_code="bundle-office", at=msk(2027, 4, 16, 15))

    # then 2970.00 × 15/30 = 1485.00 is credited and one bundle, 600.00, charged
    assert charge_lines(charge) == [
        ("proration_credit", "crm-start", D("-1485.00")),
        ("proration_charge", "bundle-office", D("600.00")),
    ]
    sub.refresh_from_db()
    assert sub.quantity == 1


def test_a_change_to_the_bundle_at_period_end_is_applied_by_the_run(office):
    # given CRM Start at 990.00 from Apr 1, 2027, to change to the bundle at period end
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="crm-start", quantity=2, at=msk(2027, 4, 1))
    subscription_change_plan(subscription_id=sub.pk, plan_code="bundle-office", when="period_end", at=msk(2027, 4, 16))

    # when the run renews it on May 1
    run_billing(msk_midnight(2027, 5, 1))

    # then May is charged one package price
    may = Charge.objects.get(subscription=sub, kind=Charge.Kind.RECURRING, period_start=dt.date(2027, 5, 1))
    assert charge_lines(may) == [("plan", "bundle-office", D("1200.00"))]
    assert ledger_entries(may) == [(f"customer:{customer.pk}", D("1200.00")), ("revenue:bundles", D("-1200.00"))]
    sub.refresh_from_db()
    assert (sub.plan_id, sub.quantity) == (office.plan_id, 1)
