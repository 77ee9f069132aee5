"""VAT in the ledger (issue 11): every charge of a VAT-paying seller splits into revenue (the net) and the seller's
VAT payable at the rate in force on the charge's shipment date; the customer pays the gross."""

from __future__ import annotations

import datetime as dt

import pytest
from moneyed import Money

from billing.errors import InsufficientFunds
from billing.models import Customer
from plans.models import Charge, OptionPrice, PlanPrice
from plans.services.estimates import upcoming_charges_estimate
from plans.services.subscriptions import (
    subscription_cancel,
    subscription_change_plan,
    subscription_change_preview,
    subscription_create,
)
from tests.factories.catalog import funded_customer, make_coupon, make_option, make_plan, make_product, make_promotion
from tests.factories.sellers import seller_create
from tests.plans.support import D, balance, charges_of, ledger_entries, msk, run_billing
from tests.plans.support import msk_midnight as midnight
from tests.support.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy():
    from billing.models import BillingPolicy

    return BillingPolicy.objects.create(grace_days=3)


def _vat(seller) -> str:
    return f"vat_payable:{seller.pk}"


def test_the_billing_run_posts_revenue_net_and_vat_payable_at_22_percent_included(policy):
    # given a default VAT-paying seller (standard rate) and a plan of 1,220.00 VAT included
    seller = seller_create(is_default=True)
    make_plan("pro", "1220.00", product=make_product("crm"))
    alice = funded_customer("10000.00")
    sub = subscription_create(customer_id=alice.pk, plan_code="pro", at=msk(2026, 1, 15))

    # when the run renews it on Feb 15, 2026
    run_billing(midnight(2026, 2, 15))

    # then the customer pays 1,220.00: 1,000.00 is revenue and 220.00 (22/122) is the seller's VAT payable
    renewal = charges_of(sub, "recurring")[-1]
    assert (renewal.amount.amount, renewal.vat, renewal.seller_id) == (D("1220.00"), D("220.00"), seller.pk)
    assert renewal.recognized_on == dt.date(2026, 2, 15)
    assert ledger_entries(renewal) == [
        (f"customer:{alice.pk}", D("1220.00")),
        ("revenue:crm", D("-1000.00")),
        (_vat(seller), D("-220.00")),
    ]
    assert renewal.lines[0] | {"description": ""} == {
        "kind": "plan",
        "description": "",
        "amount": "1220.00",
        "currency": "RUB",
        "quantity": "1",
        "ref": "pro",
        "product": "crm",
        "net": "1000.00",
        "vat": "220.00",
        "vat_rate": "22",
    }
    assert balance(alice) == D("10000.00") - 2 * D("1220.00")
    assert_ledger_consistent()


def test_the_rate_follows_the_shipment_date_20_percent_in_2025_and_22_percent_from_2026(policy):
    # given a standard-rate seller and a monthly plan of 1,200.00 VAT included, started on Dec 1, 2025
    seller_create(is_default=True)
    make_plan("pro", "1200.00")
    bob = funded_customer("10000.00")
    sub = subscription_create(customer_id=bob.pk, plan_code="pro", at=msk(2025, 12, 1))

    # when the run renews it on Jan 1, 2026
    run_billing(midnight(2026, 1, 1))

    # then December (shipped 2025-12-01) was taxed at 20 % and January (shipped 2026-01-01) at 22 %
    december, january = charges_of(sub, "recurring")
    assert (december.recognized_on, december.vat, december.lines[0]["vat_rate"]) == (
        dt.date(2025, 12, 1),
        D("200.00"),  # 1200 × 20/120
        "20",
    )
    assert (january.recognized_on, january.vat, january.lines[0]["vat_rate"]) == (
        dt.date(2026, 1, 1),
        D("216.39"),  # 1200 × 22/122 = 216.393… rounded half up
        "22",
    )
    assert_ledger_consistent()


def test_a_price_without_vat_gets_it_on_top_and_the_prepaid_rule_checks_what_is_paid(policy):
    # given a price of 1,000.00 that excludes VAT
    seller = seller_create(is_default=True)
    plan = make_plan("b2b", "1000.00", product=make_product("crm"))
    PlanPrice.objects.filter(plan=plan).update(vat_included=False)
    # when a customer with 1,220.00 subscribes on Feb 1, 2026
    carol = funded_customer("1220.00")
    sub = subscription_create(customer_id=carol.pk, plan_code="b2b", at=msk(2026, 2, 1))

    # then the charge is 1,000.00 + 22 % = 1,220.00: net to revenue, 220.00 to VAT payable
    first = charges_of(sub, "recurring")[0]
    assert (first.amount.amount, first.vat) == (D("1220.00"), D("220.00"))
    assert ledger_entries(first) == [
        (f"customer:{carol.pk}", D("1220.00")),
        ("revenue:crm", D("-1000.00")),
        (_vat(seller), D("-220.00")),
    ]
    assert balance(carol) == D("0.00")

    # and a customer with 1,219.99 is refused: the price plus its VAT is what the prepaid rule checks
    dave = funded_customer("1219.99")
    with pytest.raises(InsufficientFunds):
        subscription_create(customer_id=dave.pk, plan_code="b2b", at=msk(2026, 2, 1))
    assert not Charge.objects.filter(subscription__customer=dave).exists()


@pytest.mark.parametrize(
    ("seller_rate", "product_rate", "vat", "rate"),
    [
        ("standard", "10", D("110.91"), "10"),  # 1220 × 10/110 = 110.909…
        ("standard", "0", D("0.00"), "0"),
        ("standard", "none", D("0.00"), "none"),
        ("7", "", D("79.81"), "7"),  # simplified system 7 %: 1220 × 7/107 = 79.813…
        ("5", "", D("58.10"), "5"),  # 1220 × 5/105 = 58.095…
        ("none", "10", D("0.00"), "none"),  # a seller without VAT charges none, whatever the product says
    ],
)
def test_rates_per_seller_and_per_product(policy, seller_rate, product_rate, vat, rate):
    # given a seller at `seller_rate` and a product at its own `product_rate` (empty: the seller's)
    seller = seller_create(is_default=True, vat=seller_rate)
    product = make_product("crm")
    product.vat_rate = product_rate
    product.save()
    make_plan("pro", "1220.00", product=product)
    erin = funded_customer("5000.00")

    # when a customer subscribes on Feb 1, 2026
    sub = subscription_create(customer_id=erin.pk, plan_code="pro", at=msk(2026, 2, 1))

    # then the line carries the resolved rate and VAT; the ledger has a VAT leg only when there is VAT
    first = charges_of(sub, "recurring")[0]
    assert (first.lines[0]["vat_rate"], first.vat, first.seller_id) == (rate, vat, seller.pk)
    expected = [(f"customer:{erin.pk}", D("1220.00")), ("revenue:crm", -(D("1220.00") - vat))]
    if vat:
        expected.append((_vat(seller), -vat))
    assert ledger_entries(first) == expected
    assert_ledger_consistent()


def test_the_customers_own_seller_serves_it_before_the_products_and_the_default(policy):
    # given a default seller, a product's seller and a customer's own seller without VAT
    default = seller_create(name="ООО «Основной»", is_default=True)
    products = seller_create(name="ООО «Продукт»", inn="5003123458")
    own = seller_create(name="ИП Сидоров", inn="7810123451", vat="none")
    crm = make_product("crm")
    crm.seller = products
    crm.save()
    make_plan("pro", "1220.00", product=crm)
    make_plan("basic", "1220.00")

    frank = funded_customer("10000.00")
    gina = funded_customer("10000.00")
    Customer.objects.filter(pk=gina.pk).update(seller=own)

    # when each subscribes
    on_product = subscription_create(customer_id=frank.pk, plan_code="pro", at=msk(2026, 2, 1))
    on_default = subscription_create(customer_id=frank.pk, plan_code="basic", at=msk(2026, 2, 1))
    on_own = subscription_create(customer_id=gina.pk, plan_code="pro", at=msk(2026, 2, 1))

    # then the charge names the seller that serves it
    assert charges_of(on_product)[0].seller_id == products.pk
    assert charges_of(on_default)[0].seller_id == default.pk
    assert (charges_of(on_own)[0].seller_id, charges_of(on_own)[0].vat) == (own.pk, D("0.00"))


def test_a_plan_change_and_a_cancel_credit_post_the_split_both_ways(policy):
    # given a standard-rate seller, plans of 1,220.00 and 2,440.00 VAT included, 30-day periods (April)
    seller = seller_create(is_default=True)
    make_plan("pro", "1220.00", product=make_product("crm"))
    make_plan("max", "2440.00", product=make_product("crm-max"))
    hana = funded_customer("10000.00")
    sub = subscription_create(customer_id=hana.pk, plan_code="pro", at=msk(2026, 4, 1))

    # when she upgrades on April 16 (15 of 30 days left) and cancels on April 21 (10 days left)
    preview = subscription_change_preview(subscription_id=sub.pk, plan_code="max", at=msk(2026, 4, 16))
    subscription_change_plan(subscription_id=sub.pk, plan_code="max", at=msk(2026, 4, 16), key="up")
    subscription_cancel(subscription_id=sub.pk, at=msk(2026, 4, 21), key="bye")

    # then the proration: −610.00 of pro (VAT −110.00) and +1,220.00 of max (VAT +220.00)
    change = charges_of(sub, "proration")[0]
    assert [(x["ref"], x["amount"], x["net"], x["vat"], x["vat_rate"]) for x in change.lines] == [
        ("pro", "-610.00", "-500.00", "-110.00", "22"),
        ("max", "1220.00", "1000.00", "220.00", "22"),
    ]
    assert change.vat == D("110.00")
    assert sorted(ledger_entries(change)) == sorted(
        [
            (f"customer:{hana.pk}", D("610.00")),
            ("revenue:crm", D("500.00")),
            ("revenue:crm-max", D("-1000.00")),
            (_vat(seller), D("-110.00")),
        ]
    )
    # the preview showed exactly what was posted
    assert [(x.ref, x.amount, x.vat, x.vat_rate) for x in preview.lines] == [
        ("pro", D("-610.00"), D("-110.00"), "22"),
        ("max", D("1220.00"), D("220.00"), "22"),
    ]
    assert preview.total == D("610.00")
    # and the cancel credit gives back 10/30 of 2,440.00 = 813.33 with its VAT (813.33 × 22/122 = 146.67)
    credit = charges_of(sub, "cancel_credit")[0]
    assert (credit.amount.amount, credit.vat) == (D("-813.33"), D("-146.67"))
    assert sorted(ledger_entries(credit)) == sorted(
        [
            (f"customer:{hana.pk}", D("-813.33")),
            ("revenue:crm-max", D("666.66")),
            (_vat(seller), D("146.67")),
        ]
    )
    assert_ledger_consistent()


def test_a_discount_lowers_the_base_and_options_are_taxed_at_their_own_terms(policy):
    # given a 10 % coupon, a plan of 1,220.00 included and an option of 100.00 whose price excludes VAT
    seller = seller_create(is_default=True)
    crm, storage = make_product("crm"), make_product("storage")
    pro = make_plan("pro", "1220.00", product=crm)
    make_option("backup", "100.00", product=storage, plans=[pro])
    OptionPrice.objects.filter(option__code="backup").update(vat_included=False)
    make_coupon("TEN", make_promotion("ten", percent="10"))
    ivan = funded_customer("10000.00")

    # when he subscribes with the option and the coupon
    sub = subscription_create(
        customer_id=ivan.pk, plan_code="pro", options=[("backup", 1)], coupon_code="TEN", at=msk(2026, 2, 1)
    )

    # then each line is taxed once: plan 1220 (VAT 220), option 100 + 22 (on top), discounts −122 (VAT −22) and
    # −10.00 + −2.20 (the option's discount is taxed on the option price's terms: VAT on top, at its product's rate)
    first = charges_of(sub, "recurring")[0]
    assert [(x["kind"], x["amount"], x["net"], x["vat"], x["product"]) for x in first.lines] == [
        ("plan", "1220.00", "1000.00", "220.00", "crm"),
        ("option", "122.00", "100.00", "22.00", "storage"),
        ("discount", "-122.00", "-100.00", "-22.00", "crm"),
        ("discount", "-12.20", "-10.00", "-2.20", "storage"),
    ]
    assert first.vat == D("217.80")
    entries = dict(ledger_entries(first))
    assert entries[_vat(seller)] == D("-217.80")
    assert entries[f"customer:{ivan.pk}"] == first.amount.amount == D("1207.80")
    assert_ledger_consistent()


def test_without_any_seller_nothing_is_split(policy):
    # given no seller at all (an installation that has not set one up)
    make_plan("pro", "1220.00", product=make_product("crm"))
    jack = funded_customer("10000.00")

    # when a subscription is charged
    sub = subscription_create(customer_id=jack.pk, plan_code="pro", at=msk(2026, 2, 1))

    # then all of it is revenue, as before sellers existed
    first = charges_of(sub, "recurring")[0]
    assert (first.seller_id, first.vat) == (None, D("0"))
    assert "vat_rate" not in first.lines[0]
    assert ledger_entries(first) == [(f"customer:{jack.pk}", D("1220.00")), ("revenue:crm", D("-1220.00"))]


def test_the_estimate_shows_the_vat_the_run_then_posts(policy):
    # given a standard-rate seller and a subscription renewing on Jan 1, 2026 (the new rate)
    seller_create(is_default=True)
    make_plan("pro", "1200.00")
    kate = funded_customer("10000.00")
    sub = subscription_create(customer_id=kate.pk, plan_code="pro", at=msk(2025, 12, 1))

    # when the estimate is asked on Dec 20, 2025, and the run comes on Jan 1
    [estimate] = upcoming_charges_estimate(customer_id=kate.pk, at=msk(2025, 12, 20))
    run_billing(midnight(2026, 1, 1))

    # then the estimate's VAT (at 22 %: shipped in 2026) is what the run posted
    posted = charges_of(sub, "recurring")[-1]
    assert [(x.amount, x.vat, x.vat_rate) for x in estimate.lines] == [(D("1200.00"), D("216.39"), "22")]
    assert posted.vat == D("216.39")
    assert Money(estimate.total, "RUB") == posted.amount
