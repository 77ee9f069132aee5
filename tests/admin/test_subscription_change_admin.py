"""Changing plan or quantity in the admin (issue 10, item 8): step 1 the form, step 2 the exact preview of
subscription_change_preview (the one the API answers), the confirmation posts the change through
subscription_change_plan and never applies amounts other than those shown."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from rest_framework.test import APIClient

from billing.selectors import customer_balance
from billing.services.api_keys import api_key_create
from plans.models import Charge, ScheduledChange, Subscription
from plans.services.subscriptions import subscription_create
from tests.admin.helpers import form_fields, shown_messages
from tests.admin.subscription_support import (
    legs,
    line_amounts,
    login,
    make_catalog,
    msk,
    page_url,
    prepaid_customer,
    rows,
    rub,
)

pytestmark = pytest.mark.django_db

CHANGE_DAY = msk(2026, 4, 11)


@pytest.fixture
def sub(db):
    make_catalog()
    customer = prepaid_customer("10000.00")
    return subscription_create(customer_id=customer.pk, plan_code="start", at=msk(2026, 4, 1))


@pytest.fixture
def accountant(staff_in_group):
    return login(staff_in_group("Accountant"))


def _step1(client, sub, **values) -> dict:
    response = client.get(page_url(sub, "change_plan"))
    assert response.status_code == 200
    data = form_fields(response, "subscription-flow-form")
    data.update(values)
    data["_preview"] = "1"
    return data


def _preview_page(client, sub, **values):
    with time_machine.travel(CHANGE_DAY, tick=False):
        return client.post(page_url(sub, "change_plan"), _step1(client, sub, **values))


def _api_preview(sub, body: dict) -> dict:
    _key, raw = api_key_create(name="test", scope="read_write", customer_id=None)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    with time_machine.travel(CHANGE_DAY, tick=False):
        response = api.post(
            f"/api/v1/subscriptions/{sub.pk}/change/",
            {**body, "preview": True},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
    assert response.status_code == 200, response.content
    return response.json()


def test_step_1_renders_with_the_current_plan_and_quantity(accountant, sub):
    # when
    data = _step1(accountant, sub)

    # then
    assert (data["plan"], data["quantity"], data["when"]) == ("start", "1", "now")
    assert len(data["key"]) == 36


def test_the_preview_page_shows_exactly_what_the_api_preview_returns(accountant, sub):
    # given the same input to the API's preview
    api = _api_preview(sub, {"plan": "pro", "quantity": 2})
    before = rows()

    # when
    response = _preview_page(accountant, sub, plan="pro", quantity="2")

    # then: 20 days of April left of 30: 1000.00 × 20/30 credited, 2 × 3000.00 × 20/30 charged
    assert response.status_code == 200
    shown = response.context["preview"]
    assert line_amounts(shown["lines"]) == line_amounts(api["lines"])
    assert [x["description"] for x in shown["lines"]] == [x["description"] for x in api["lines"]]
    assert (shown["total"], shown["currency"], str(shown["change_day"])) == (api["total"], "RUB", api["change_day"])
    assert line_amounts(api["lines"]) == [("proration_credit", "-666.67"), ("proration_charge", "4000.00")]
    assert api["total"] == "3333.33"
    html = response.content.decode()
    for _kind, amount in line_amounts(api["lines"]):
        assert rub(amount) in html
    assert f'<th class="amount" id="preview-total">{rub("3333.33")}</th>' in html
    assert rows() == before  # a preview writes nothing


def test_confirming_posts_the_change_shown(accountant, sub):
    # given the confirmation page
    page = _preview_page(accountant, sub, plan="pro")
    data = form_fields(page, "subscription-flow-form")
    assert (data["plan"], data["quantity"], data["when"]) == ("pro", "1", "now")
    data["_confirm"] = "1"

    # when
    with time_machine.travel(CHANGE_DAY, tick=False):
        response = accountant.post(page_url(sub, "change_plan"), data, follow=True)

    # then: -666.67 + 2000.00
    sub.refresh_from_db()
    assert (sub.plan.code, sub.quantity) == ("pro", 1)
    charge = Charge.objects.get(subscription=sub, kind="proration")
    assert charge.amount.amount == Decimal("1333.33")
    assert [(x["kind"], x["amount"]) for x in charge.lines] == [
        ("proration_credit", "-666.67"),
        ("proration_charge", "2000.00"),
    ]
    assert legs(charge.transaction_id)[0] == (f"customer:{sub.customer_id}", "1333.33")
    assert customer_balance(customer=sub.customer).amount == Decimal("10000.00") - Decimal("1000.00") - Decimal(
        "1333.33"
    )
    assert shown_messages(response) == [
        f"Subscription #{sub.pk} is now pro × 1: {rub('1333.33')} posted as transaction #{charge.transaction_id}."
    ]


def test_a_double_submit_of_the_confirmation_changes_once(accountant, sub):
    # given
    data = form_fields(_preview_page(accountant, sub, quantity="3"), "subscription-flow-form")
    data["_confirm"] = "1"

    # when
    with time_machine.travel(CHANGE_DAY, tick=False):
        accountant.post(page_url(sub, "change_plan"), data)
        accountant.post(page_url(sub, "change_plan"), data)

    # then
    assert Charge.objects.filter(subscription=sub, kind="proration").count() == 1


def test_a_confirmation_whose_amounts_changed_applies_nothing_and_shows_the_new_ones(accountant, sub):
    # given the preview of a change on April 11
    data = form_fields(_preview_page(accountant, sub, plan="pro"), "subscription-flow-form")
    data["_confirm"] = "1"
    before = rows()

    # when confirmed on April 21 (ten days fewer to prorate)
    with time_machine.travel(msk(2026, 4, 21), tick=False):
        response = accountant.post(page_url(sub, "change_plan"), data)

    # then nothing is applied, and the page shows the amounts of a change now
    assert rows() == before
    sub.refresh_from_db()
    assert sub.plan.code == "start"
    assert response.status_code == 200
    assert line_amounts(response.context["preview"]["lines"]) == [
        ("proration_credit", "-333.33"),
        ("proration_charge", "1000.00"),
    ]
    assert "The amounts changed since the preview" in " ".join(shown_messages(response))


def test_a_change_at_period_end_is_scheduled_and_charges_nothing(accountant, sub):
    # given
    page = _preview_page(accountant, sub, plan="pro", when="period_end")
    assert page.context["preview"] is None
    data = form_fields(page, "subscription-flow-form")
    data["_confirm"] = "1"

    # when
    with time_machine.travel(CHANGE_DAY, tick=False):
        response = accountant.post(page_url(sub, "change_plan"), data, follow=True)

    # then
    change = ScheduledChange.objects.get(subscription=sub)
    assert (change.kind, change.params["quantity"], change.effective_at) == ("change_plan", 1, sub.next_billing_at)
    assert not Charge.objects.filter(subscription=sub, kind="proration").exists()
    assert shown_messages(response)[0].startswith(f"Subscription #{sub.pk} changes to pro × 1 at its renewal on ")


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({}, "__all__", "Choose another plan, another quantity or both."),
        ({"quantity": "0"}, "quantity", "Ensure this value is greater than or equal to 1."),
        # the service refuses: a plan with another period changes at period end
        ({"plan": "yearly"}, "when", "A change to a plan with another billing period takes effect at period end."),
    ],
)
def test_bad_input_is_a_form_error_and_writes_nothing(accountant, sub, values, field, message):
    # given
    before = rows()

    # when
    response = _preview_page(accountant, sub, **values)

    # then
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert rows() == before


def test_a_refusal_at_confirmation_is_a_form_error_and_writes_nothing(accountant, sub):
    # given a confirmation page, then the subscription is paused elsewhere
    data = form_fields(_preview_page(accountant, sub, plan="pro"), "subscription-flow-form")
    data["_confirm"] = "1"
    Subscription.objects.filter(pk=sub.pk).update(status="paused")
    before = rows()

    # when
    with time_machine.travel(CHANGE_DAY, tick=False):
        response = accountant.post(page_url(sub, "change_plan"), data)

    # then
    assert rows() == before
    assert response.context["form"].non_field_errors() == ["Cannot change a subscription that is paused."]


def test_a_service_refusal_reaches_the_russian_admin_in_russian(accountant, sub):
    # given an accountant who reads the admin in Russian, on a confirmation page; then the subscription is paused
    accountant.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    data = form_fields(_preview_page(accountant, sub, plan="pro"), "subscription-flow-form")
    data["_confirm"] = "1"
    Subscription.objects.filter(pk=sub.pk).update(status="paused")
    before = rows()

    # when
    with time_machine.travel(CHANGE_DAY, tick=False):
        response = accountant.post(page_url(sub, "change_plan"), data)

    # then the service's error is the form's error, in Russian, and nothing is written
    assert rows() == before
    assert response.context["form"].non_field_errors() == ["Нельзя изменить подписку в статусе «приостановлена»."]


@pytest.mark.parametrize("group", ["Support", None])
def test_support_and_users_without_group_may_not_change(django_user_model, staff_in_group, accountant, sub, group):
    # given
    user = (
        staff_in_group(group)
        if group
        else django_user_model.objects.create_user(username="nogroup", password="x", is_staff=True)
    )
    client = login(user)
    data = form_fields(_preview_page(accountant, sub, plan="pro"), "subscription-flow-form")
    data["_confirm"] = "1"
    before = rows()

    # when
    with time_machine.travel(CHANGE_DAY, tick=False):
        page = client.get(page_url(sub, "change_plan"))
        posted = client.post(page_url(sub, "change_plan"), data)

    # then
    assert (page.status_code, posted.status_code) == (403, 403)
    assert rows() == before
