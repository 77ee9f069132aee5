"""Subscribing to a bundle and changes to or of a bundle refuse bad input and write nothing."""

from __future__ import annotations

import pytest

from plans.errors import (
    BundleNotFound,
    BundleNotPublished,
    CurrencyMismatch,
    InvalidQuantity,
    OptionNotAllowed,
    PlanOrBundleRequired,
)
from plans.models import Bundle
from plans.services.bundles import bundle_publish
from plans.services.subscriptions import subscription_change_plan, subscription_create
from tests.factories.catalog import funded_customer, make_bundle
from tests.plans.support import assert_refused, msk

pytestmark = pytest.mark.django_db


# --- bad input -------------------------------------------------------------------------------------


@pytest.fixture
def world(office, catalog):
    """The published bundle "office"; "draft" (never published); "retired" (published, then deactivated
    and published again); "stale" (published, deactivated without publishing: its plan is still active);
    "rub-only" (no EUR price); a funded RUB customer on CRM Start with the backup option."""
    make_bundle("draft", plans=[catalog["start"]])
    retired = make_bundle("retired", plans=[catalog["start"]])
    bundle_publish(bundle_id=retired.pk)
    Bundle.objects.filter(pk=retired.pk).update(is_active=False)
    bundle_publish(bundle_id=retired.pk)
    stale = make_bundle("stale", plans=[catalog["start"]])
    bundle_publish(bundle_id=stale.pk)
    Bundle.objects.filter(pk=stale.pk).update(is_active=False)
    bundle_publish(bundle_id=make_bundle("rub-only", plans=[catalog["start"]]).pk)
    customer = funded_customer("10000.00")
    sub = subscription_create(
        customer_id=customer.pk, plan_code="crm-start", options=[("crm-backup", 1)], at=msk(2026, 4, 1)
    )
    bundled = subscription_create(customer_id=customer.pk, bundle_code="office", at=msk(2026, 4, 1))
    return {"customer": customer, "sub": sub, "bundled": bundled}


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"bundle_code": "nope"}, BundleNotFound, "bundle"),
        ({"bundle_code": "retired"}, BundleNotFound, "bundle"),  # inactive
        ({"bundle_code": "stale"}, BundleNotFound, "bundle"),  # inactive, its plan not yet updated
        ({"bundle_code": "draft"}, BundleNotPublished, "bundle"),
        ({"bundle_code": "office", "quantity": 2}, InvalidQuantity, "quantity"),
        ({"bundle_code": "office", "plan_code": "crm-start"}, PlanOrBundleRequired, "bundle"),
        ({}, PlanOrBundleRequired, "plan"),
        ({"bundle_code": "office", "options": [("crm-backup", 1)]}, OptionNotAllowed, "options"),  # included
        ({"plan_code": "bundle-office", "quantity": 2}, InvalidQuantity, "quantity"),  # its plan: the same rules
        ({"plan_code": "bundle-stale"}, BundleNotFound, "plan"),
        ({"bundle_code": "office", "currency": "USD"}, CurrencyMismatch, "currency"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else None,
)
def test_subscribing_to_a_bundle_refuses_bad_input_and_writes_nothing(world, overrides, error, field):
    customer = world["customer"]
    assert_refused(
        lambda: subscription_create(customer_id=customer.pk, at=msk(2026, 4, 10), **overrides), error, field, customer
    )


def test_a_bundle_without_a_price_in_the_customers_currency_is_refused(world):
    euro = funded_customer("100.00", currency="EUR", name="Euro")
    assert_refused(
        lambda: subscription_create(customer_id=euro.pk, bundle_code="rub-only", at=msk(2026, 4, 10)),
        CurrencyMismatch,
        "bundle",
        euro,
    )


@pytest.mark.parametrize(
    ("target", "kwargs", "error", "field"),
    [
        ("sub", {"plan_code": "bundle-office", "quantity": 2}, InvalidQuantity, "quantity"),
        ("bundled", {"quantity": 2}, InvalidQuantity, "quantity"),
        ("sub", {"plan_code": "bundle-office"}, OptionNotAllowed, "plan"),  # its crm-backup is in the bundle
        ("sub", {"plan_code": "bundle-stale"}, BundleNotFound, "plan"),
    ],
    ids=["to the bundle with 2", "2 bundles", "included option on it", "inactive bundle"],
)
def test_a_change_to_or_of_a_bundle_refuses_bad_input_and_writes_nothing(world, target, kwargs, error, field):
    sub = world[target]
    for when in ("now", "period_end"):
        assert_refused(
            lambda w=when: subscription_change_plan(subscription_id=sub.pk, when=w, at=msk(2026, 4, 10), **kwargs),
            error,
            field,
            world["customer"],
        )
