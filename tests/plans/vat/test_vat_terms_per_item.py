"""VAT terms follow the item a line is about: an option bought later is taxed at its product's rate and on its
price's terms, a discount on the item it discounts, and a pause taken back on resume is not taxed twice."""

from __future__ import annotations

import pytest

from billing.models import BillingPolicy
from plans.models import OptionPrice, Product
from plans.services.subscriptions import (
    subscription_create,
    subscription_option_add,
    subscription_pause,
    subscription_resume,
)
from tests.factories.catalog import funded_customer, make_option, make_plan, make_product
from tests.factories.sellers import seller_create
from tests.plans.support import D, ledger_entries, msk
from tests.support.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def policy():
    return BillingPolicy.objects.create(grace_days=3)


def test_an_option_added_later_is_taxed_at_its_products_rate_and_its_prices_terms():
    # given a standard-rate seller, a plan of 1,220.00 VAT included and a one-time option of 100.00 whose price
    # excludes VAT, sold by a product taxed at 10 %
    seller = seller_create(is_default=True)
    pro = make_plan("pro", "1220.00", product=make_product("crm"))
    training = make_product("training")
    Product.objects.filter(pk=training.pk).update(vat_rate="10")
    make_option("setup-call", "100.00", product=training, plans=[pro], kind="one_time")
    OptionPrice.objects.filter(option__code="setup-call").update(vat_included=False)
    olga = funded_customer("10000.00")
    sub = subscription_create(customer_id=olga.pk, plan_code="pro", at=msk(2026, 3, 1))

    # when she buys the option on March 10
    charge = subscription_option_add(subscription_id=sub.pk, option_code="setup-call", at=msk(2026, 3, 10))

    # then she pays 100.00 + 10 % on top, booked as training revenue 100.00 and VAT payable 10.00
    assert [(x["ref"], x["amount"], x["net"], x["vat"], x["vat_rate"], x["product"]) for x in charge.lines] == [
        ("setup-call", "110.00", "100.00", "10.00", "10", "training")
    ]
    assert (charge.amount.amount, charge.vat, charge.seller_id) == (D("110.00"), D("10.00"), seller.pk)
    assert sorted(ledger_entries(charge)) == sorted(
        [
            (f"customer:{olga.pk}", D("110.00")),
            ("revenue:training", D("-100.00")),
            (f"vat_payable:{seller.pk}", D("-10.00")),
        ]
    )
    assert_ledger_consistent()


def test_a_pause_taken_back_the_same_day_charges_back_exactly_what_it_credited():
    # given a standard-rate seller and a plan of 1,000.00 whose price excludes VAT (1,220.00 paid), 30-day April
    seller = seller_create(is_default=True)
    make_plan("pro", "1000.00", product=make_product("crm"))
    from plans.models import PlanPrice

    PlanPrice.objects.filter(plan__code="pro").update(vat_included=False)
    pavel = funded_customer("10000.00")
    sub = subscription_create(customer_id=pavel.pk, plan_code="pro", at=msk(2026, 4, 1))

    # when he pauses on April 16 (15 of 30 days credited) and resumes the same day
    _, credit = subscription_pause(subscription_id=sub.pk, at=msk(2026, 4, 16, 10))
    _, back = subscription_resume(subscription_id=sub.pk, at=msk(2026, 4, 16, 15))

    # then the credit was −500.00 − 110.00 VAT, and the resume charges back 610.00 with 110.00 VAT (not VAT on VAT)
    assert (credit.amount.amount, credit.vat) == (D("-610.00"), D("-110.00"))
    assert (back.amount.amount, back.vat) == (D("610.00"), D("110.00"))
    assert sorted(ledger_entries(back)) == sorted(
        [
            (f"customer:{pavel.pk}", D("610.00")),
            ("revenue:crm", D("-500.00")),
            (f"vat_payable:{seller.pk}", D("-110.00")),
        ]
    )
    assert_ledger_consistent()


def test_the_change_preview_shows_the_periods_usage_with_the_vat_the_renewal_will_post():
    # given a standard-rate seller, plans cheap and dear (calls at 12.20 and 24.40, VAT included), 10 calls so far
    from plans.services.subscriptions import subscription_change_preview
    from plans.services.usage import UsageEventIn, usage_record_batch
    from tests.factories.catalog import make_usage_charge

    seller_create(is_default=True)
    crm = make_product("crm")
    cheap = make_plan("cheap", "300.00", product=crm)
    make_usage_charge(cheap, "calls", "per_unit", unit_price="12.20")
    dear = make_plan("dear", "300.00", product=crm)
    make_usage_charge(dear, "calls", "per_unit", unit_price="24.40")
    rita = funded_customer("100000.00")
    sub = subscription_create(customer_id=rita.pk, plan_code="cheap", at=msk(2026, 4, 1))
    usage_record_batch(events=[UsageEventIn("e1", rita.pk, "calls", D("10"), msk(2026, 4, 5), {})])

    # when a change to dear on April 11 is previewed
    preview = subscription_change_preview(subscription_id=sub.pk, plan_code="dear", at=msk(2026, 4, 11))

    # then the usage so far (10 × 12.20 at cheap) shows its VAT at 22 % (22/122 of 122.00)
    assert [(x.kind.value, x.amount, x.vat, x.vat_rate) for x in preview.usage_lines] == [
        ("usage", D("122.00"), D("22.00"), "22")
    ]
