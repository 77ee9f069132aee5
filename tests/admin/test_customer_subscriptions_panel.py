"""The customer card lists the customer's subscriptions (issue 10, item 8): state, plan, quantity, current period and
the next charge from the upcoming-charges estimate, each linked to its page. The panel is plans' (billing imports no
app above it): it fills billing's extension point for the card (billing.admin.panels)."""

from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse

from billing.admin.panels import customer_card_panels
from plans.admin_panels import customer_subscriptions_panel
from plans.services.estimates import upcoming_charges_estimate
from plans.services.subscriptions import subscription_cancel, subscription_create, subscription_pause
from tests.admin.subscription_support import login, make_catalog, msk, prepaid_customer, rub

pytestmark = pytest.mark.django_db

DAY = msk(2026, 4, 11)


@pytest.fixture
def customer(db):
    make_catalog()
    customer = prepaid_customer("10000.00")
    at = msk(2026, 4, 1)
    subscription_create(customer_id=customer.pk, plan_code="start", quantity=2, options=[("backup", 1)], at=at)
    paused = subscription_create(customer_id=customer.pk, plan_code="pro", at=at)
    subscription_pause(subscription_id=paused.pk, at=msk(2026, 4, 5))
    canceled = subscription_create(customer_id=customer.pk, plan_code="start", at=at)
    subscription_cancel(subscription_id=canceled.pk, at_period_end=True, at=at)
    return customer


def _panel(response) -> str:
    html = response.content.decode()
    return html[html.index('id="customer-subscriptions"') :]


def test_the_card_lists_the_subscriptions_with_their_next_charge(staff_in_group, customer):
    # given
    subs = list(customer.subscriptions.order_by("-id"))
    client = login(staff_in_group("Accountant"))

    # when
    with time_machine.travel(DAY, tick=False):
        response = client.get(reverse("admin:billing_customer_change", args=[customer.pk]))
        estimates = {e.subscription_id: e for e in upcoming_charges_estimate(customer_id=customer.pk)}

    # then: newest first; the active one renews on May 1 for 2 × 1000.00 + 300.00, the one canceling at period end
    # is not charged again, the paused one has no next charge
    assert response.status_code == 200
    panel = _panel(response)
    canceling, paused, active = subs
    assert estimates[active.pk].total == 2300 and estimates[canceling.pk].total == 0
    for sub, state, plan, quantity, next_charge in (
        (canceling, "Active (cancels at period end)", "start", 1, f"05/01/2026: {rub('0.00')} (and it ends)"),
        (paused, "Paused", "pro", 1, "—"),
        (active, "Active", "start", 2, f"05/01/2026: {rub('2300.00')}"),
    ):
        url = reverse("admin:plans_subscription_change", args=[sub.pk])
        row = panel[panel.index(f'data-subscription="{sub.pk}"') :].split("</tr>", 1)[0]
        assert f'<a href="{url}">#{sub.pk}</a>' in row
        assert f"<td>{state}</td>" in row
        assert f">{plan}</td>" in row
        assert f"<td>{quantity}</td>" in row
        assert f'<td class="next-charge">{next_charge}</td>' in row
    assert "<td>2026-04-01 – 2026-05-01</td>" in panel
    assert f"?customer__id__exact={customer.pk}" in panel
    assert reverse("admin:plans_subscription_add") + f"?customer={customer.pk}" in panel


def test_support_sees_the_subscriptions_but_no_add_link(staff_in_group, customer):
    # when
    response = login(staff_in_group("Support")).get(reverse("admin:billing_customer_change", args=[customer.pk]))

    # then
    panel = _panel(response)
    assert panel.count("data-subscription=") == 3
    assert reverse("admin:plans_subscription_add") not in panel


def test_the_subscriptions_list_link_filters_the_customer(staff_in_group, customer):
    # given another customer's subscription
    other = prepaid_customer()
    subscription_create(customer_id=other.pk, plan_code="start")
    client = login(staff_in_group("Accountant"))

    # when
    response = client.get(reverse("admin:plans_subscription_changelist") + f"?customer__id__exact={customer.pk}")

    # then
    assert response.status_code == 200
    assert {s.customer_id for s in response.context["cl"].result_list} == {customer.pk}
    assert len(response.context["cl"].result_list) == 3


def test_plans_fills_billings_extension_point_once(rf, superuser, customer):
    # given (plans.admin registered the panel when the admin loaded)
    request = rf.get("/")
    request.user = superuser

    # when
    panels = customer_card_panels(request, customer)

    # then plans' panel is there once, after billing's own payments and before the customer's documents (the apps
    # register in the order their admins load)
    assert panels.count(customer_subscriptions_panel(request, customer)) == 1
    assert len(panels) == 3
    assert 'id="customer-payments"' in panels[0]
    assert panels[1] == customer_subscriptions_panel(request, customer)
    assert 'id="customer-documents"' in panels[2]
