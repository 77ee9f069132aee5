"""The bundle admin publishes what it saves: the plan that sells the bundle is created (or brought up to
date) with its price versions when the bundle, its items or its prices are saved; a bundle that cannot be
published is saved as a draft with a warning, and nothing else is written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from plans.models import Bundle, BundlePrice, Plan, PlanPrice, Product
from tests.admin.helpers import form_fields, shown_messages
from tests.factories.catalog import make_option, make_plan, make_product

pytestmark = pytest.mark.django_db

ADD = reverse("admin:plans_bundle_add")


@pytest.fixture
def catalog():
    crm = make_product("crm", "CRM")
    return {
        "start": make_plan("crm-start", "990.00", product=crm),
        "backup": make_option("crm-backup", "200.00", product=crm),
    }


def _add_form(admin_client, catalog, *, prices: list[tuple[str, str]]) -> dict:
    data = form_fields(admin_client.get(ADD), "bundle_form")
    data.update(
        {
            "name": "Office pack",
            "code": "office",
            "description": "CRM with backups",
            "items-TOTAL_FORMS": "2",
            "items-0-plan": str(catalog["start"].pk),
            "items-0-quantity": "1",
            "items-1-option": str(catalog["backup"].pk),
            "items-1-quantity": "1",
            "prices-TOTAL_FORMS": str(len(prices)),
        }
    )
    for index, (amount, currency) in enumerate(prices):
        data.update(
            {
                f"prices-{index}-amount_0": amount,
                f"prices-{index}-amount_1": currency,
                f"prices-{index}-valid_from_0": "2026-01-01",
                f"prices-{index}-valid_from_1": "00:00:00",
            }
        )
    return {k: v for k, v in data.items() if "__prefix__" not in k}


def test_adding_a_bundle_with_items_and_a_price_publishes_it(admin_client, catalog):
    # given the add form filled in: CRM Start and the backup option, 1200.00 RUB and 15.00 EUR
    data = _add_form(admin_client, catalog, prices=[("1200.00", "RUB"), ("15.00", "EUR")])

    # when
    response = admin_client.post(ADD, data, follow=True)

    # then the bundle is saved and sold through its plan, with both price versions
    assert response.status_code == 200
    bundle = Bundle.objects.get(code="office")
    assert bundle.plan is not None
    assert (bundle.plan.code, bundle.plan.product.code, bundle.plan.is_public) == ("bundle-office", "bundles", False)
    published = {(p.amount_currency, p.amount.amount, p.valid_from) for p in PlanPrice.objects.filter(plan=bundle.plan)}
    assert published == {
        (p.amount_currency, p.amount.amount, p.valid_from) for p in BundlePrice.objects.filter(bundle=bundle)
    }
    assert {(currency, amount) for currency, amount, _ in published} == {
        ("RUB", Decimal("1200.00")),
        ("EUR", Decimal("15.00")),
    }
    assert "Bundle 'office' is published: it is sold through plan 'bundle-office'." in shown_messages(response)

    # and its change page shows the plan read-only
    page = admin_client.get(reverse("admin:plans_bundle_change", args=[bundle.pk]))
    assert page.status_code == 200
    assert reverse("admin:plans_plan_change", args=[bundle.plan_id]).encode() in page.content
    assert "plan" not in form_fields(page, "bundle_form")
    listing = admin_client.get(reverse("admin:plans_bundle_changelist"))
    assert listing.status_code == 200 and b"bundle-office" in listing.content


def test_a_new_price_version_added_on_the_change_page_is_published(admin_client, catalog):
    # given a published bundle
    admin_client.post(ADD, _add_form(admin_client, catalog, prices=[("1200.00", "RUB")]))
    bundle = Bundle.objects.get(code="office")
    change = reverse("admin:plans_bundle_change", args=[bundle.pk])
    data = {k: v for k, v in form_fields(admin_client.get(change), "bundle_form").items() if "__prefix__" not in k}

    # when a 1500.00 RUB version from June is added
    data.update(
        {
            "prices-TOTAL_FORMS": "2",
            "prices-1-amount_0": "1500.00",
            "prices-1-amount_1": "RUB",
            "prices-1-valid_from_0": "2026-06-01",
            "prices-1-valid_from_1": "00:00:00",
        }
    )
    response = admin_client.post(change, data, follow=True)

    # then the plan has exactly one more version
    assert response.status_code == 200
    assert sorted(p.amount.amount for p in PlanPrice.objects.filter(plan=bundle.plan)) == [
        Decimal("1200.00"),
        Decimal("1500.00"),
    ]
    assert Plan.objects.filter(code="bundle-office").count() == 1


def test_a_bundle_without_a_price_is_saved_as_a_draft_and_not_published(admin_client, catalog):
    # given the add form without a price
    data = _add_form(admin_client, catalog, prices=[])
    plans, products = Plan.objects.count(), Product.objects.count()

    # when
    response = admin_client.post(ADD, data, follow=True)

    # then the bundle is there, unpublished, with a warning that says why
    bundle = Bundle.objects.get(code="office")
    assert bundle.plan is None
    assert (Plan.objects.count(), Product.objects.count()) == (plans, products)
    assert (
        "Bundle 'office' is saved, but not published: nobody can subscribe to it yet: Bundle 'office' has no "
        "price: add its package price."
    ) in shown_messages(response)
