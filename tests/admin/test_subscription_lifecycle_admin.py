"""The pages of one subscription in the admin (issue 10, item 8): options, coupon, cancel, pause, resume. Each calls
the API's service; a refusal is a form error that writes nothing; Support and users without a group are refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from billing.selectors import customer_balance
from plans.models import Charge, Subscription, SubscriptionDiscount, SubscriptionOption
from plans.services.subscriptions import subscription_create
from tests.admin.helpers import form_fields, shown_messages
from tests.admin.subscription_support import legs, login, make_catalog, msk, page_url, prepaid_customer, rows, rub

pytestmark = pytest.mark.django_db

DAY = msk(2026, 4, 11)  # 20 of April's 30 days left


@pytest.fixture
def sub(db):
    make_catalog()
    customer = prepaid_customer("10000.00")
    return subscription_create(customer_id=customer.pk, plan_code="start", at=msk(2026, 4, 1))


@pytest.fixture
def accountant(staff_in_group):
    return login(staff_in_group("Accountant"))


def _post(client, sub, page: str, day=DAY, **values):
    response = client.get(page_url(sub, page))
    assert response.status_code == 200
    data = form_fields(response, "subscription-flow-form")
    data.update(values)
    with time_machine.travel(day, tick=False):
        return client.post(page_url(sub, page), data, follow=True)


def _balance(sub) -> Decimal:
    return customer_balance(customer=sub.customer).amount


# --- options -------------------------------------------------------------------------------------------------------


def test_adding_a_recurring_option_charges_the_rest_of_the_period(accountant, sub):
    # when
    response = _post(accountant, sub, "options", **{"add-option": "backup", "add-quantity": "1", "_add": "1"})

    # then: 300.00 × 20/30
    so = SubscriptionOption.objects.get(subscription=sub)
    assert (so.option.code, so.quantity, so.removed_at) == ("backup", 1, None)
    charge = Charge.objects.get(subscription=sub, kind="proration")
    assert charge.amount.amount == Decimal("200.00")
    assert legs(charge.transaction_id)[0] == (f"customer:{sub.customer_id}", "200.00")
    assert _balance(sub) == Decimal("8800.00")
    assert shown_messages(response) == [
        f"Option backup is added to subscription #{sub.pk}: {rub('200.00')} posted as "
        f"transaction #{charge.transaction_id}."
    ]


def test_removing_an_option_credits_the_unused_part(accountant, sub):
    # given
    _post(accountant, sub, "options", day=msk(2026, 4, 1), **{"add-option": "backup", "add-quantity": "1", "_add": "1"})
    page = accountant.get(page_url(sub, "options"))
    assert b'name="option" value="backup"' in page.content

    # when the remove button of the row is posted on April 11
    with time_machine.travel(DAY, tick=False):
        response = accountant.post(page_url(sub, "options"), {"option": "backup", "_remove": "1"}, follow=True)

    # then: the 300.00 paid for April, 20 days of it credited
    assert SubscriptionOption.objects.get(subscription=sub).removed_at is not None
    credit = Charge.objects.filter(subscription=sub, kind="proration").order_by("-pk").first()
    assert credit.amount.amount == Decimal("-200.00")
    assert _balance(sub) == Decimal("10000.00") - Decimal("1000.00") - Decimal("300.00") + Decimal("200.00")
    assert shown_messages(response)[0].startswith(
        f"Option backup is removed from subscription #{sub.pk}: {rub('-200.00')}"
    )


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"add-option": "backup", "add-quantity": "0"}, "quantity", "Ensure this value is greater than or equal to 1."),
        (
            {"add-option": "foreign", "add-quantity": "1"},
            "option",
            "Option 'foreign' is not available on plan 'start'.",
        ),
    ],
)
def test_a_bad_option_is_a_form_error_and_writes_nothing(accountant, sub, values, field, message):
    # given
    before = rows()

    # when
    response = _post(accountant, sub, "options", **values, _add="1")

    # then
    assert response.context["form"].errors[field] == [message]
    assert rows() == before


def test_removing_an_option_not_on_the_subscription_shows_the_error_and_writes_nothing(accountant, sub):
    # given
    before = rows()

    # when
    with time_machine.travel(DAY, tick=False):
        response = accountant.post(page_url(sub, "options"), {"option": "backup", "_remove": "1"})

    # then
    assert response.context["remove_error"] == "Option 'backup' is not on the subscription."
    assert rows() == before


# --- coupon --------------------------------------------------------------------------------------------------------


def test_a_coupon_applies_from_the_next_period(accountant, sub):
    # when
    response = _post(accountant, sub, "coupon", coupon="save10")

    # then: April was paid in full; the discount counts from May 1 on, nothing is posted now
    discount = SubscriptionDiscount.objects.get(subscription=sub)
    assert (discount.coupon.code, discount.applies_from) == ("SAVE10", dt.date(2026, 5, 1))
    assert discount.coupon.times_redeemed == 1
    assert _balance(sub) == Decimal("9000.00")
    assert shown_messages(response) == [
        f"Coupon SAVE10 is applied to subscription #{sub.pk}: {discount.promotion.name} from 2026-05-01."
    ]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("NOPE", "Coupon 'NOPE' does not exist or is not active."),
        ("   ", "This field is required."),
    ],
)
def test_a_bad_coupon_is_a_form_error_and_writes_nothing(accountant, sub, code, message):
    # given
    before = rows()

    # when
    response = _post(accountant, sub, "coupon", coupon=code)

    # then
    assert response.context["form"].errors["coupon"] == [message]
    assert rows() == before


def test_the_same_coupon_twice_is_refused(accountant, sub):
    # given
    _post(accountant, sub, "coupon", coupon="SAVE10")
    before = rows()

    # when
    response = _post(accountant, sub, "coupon", coupon="SAVE10")

    # then
    assert response.context["form"].errors["coupon"] == [
        "The promotion behind 'SAVE10' is already on the subscription."
    ]
    assert rows() == before


# --- cancel, pause, resume -----------------------------------------------------------------------------------------


def test_cancel_now_credits_the_unused_part(accountant, sub):
    # when
    response = _post(accountant, sub, "cancel", when="now")

    # then: 1000.00 × 20/30 back
    sub.refresh_from_db()
    assert sub.status == "canceled"
    credit = Charge.objects.get(subscription=sub, kind="cancel_credit")
    assert credit.amount.amount == Decimal("-666.67")
    assert legs(credit.transaction_id)[0] == (f"customer:{sub.customer_id}", "-666.67")
    assert _balance(sub) == Decimal("9666.67")
    assert shown_messages(response) == [
        f"Subscription #{sub.pk} is canceled: {rub('-666.67')} posted as transaction #{credit.transaction_id}."
    ]


def test_cancel_at_period_end_posts_nothing(accountant, sub):
    # given
    before = rows()

    # when
    response = _post(accountant, sub, "cancel", when="period_end")

    # then
    sub.refresh_from_db()
    assert (sub.status, sub.cancel_at_period_end) == ("active", True)
    assert rows()["Charge"] == before["Charge"]
    assert shown_messages(response) == [f"Subscription #{sub.pk} is canceled at the end of its period, on 2026-05-01."]


def test_cancel_without_a_choice_is_a_form_error(accountant, sub):
    # given
    before = rows()
    data = form_fields(accountant.get(page_url(sub, "cancel")), "subscription-flow-form")
    data.pop("when")

    # when
    response = accountant.post(page_url(sub, "cancel"), data)

    # then
    assert response.context["form"].errors["when"] == ["This field is required."]
    assert rows() == before


def test_pause_then_resume(accountant, sub):
    # when paused on April 11
    _post(accountant, sub, "pause")

    # then
    sub.refresh_from_db()
    assert sub.status == "paused"
    assert Charge.objects.get(subscription=sub, kind="cancel_credit").amount.amount == Decimal("-666.67")

    # when resumed on April 21: a new period from that day, charged in advance
    response = _post(accountant, sub, "resume", day=msk(2026, 4, 21))

    # then
    sub.refresh_from_db()
    assert (sub.status, str(sub.current_period_start), str(sub.current_period_end)) == (
        "active",
        "2026-04-21",
        "2026-05-21",
    )
    charge = Charge.objects.get(subscription=sub, kind="recurring", period_start=dt.date(2026, 4, 21))
    assert charge.amount.amount == Decimal("1000.00")
    assert _balance(sub) == Decimal("10000.00") - Decimal("1000.00") + Decimal("666.67") - Decimal("1000.00")
    assert shown_messages(response) == [
        f"Subscription #{sub.pk} is resumed: {rub('1000.00')} posted as transaction #{charge.transaction_id}."
    ]


def test_pausing_a_canceled_subscription_is_a_form_error_and_writes_nothing(accountant, sub):
    # given
    Subscription.objects.filter(pk=sub.pk).update(status="canceled")
    before = rows()

    # when
    response = _post(accountant, sub, "pause")

    # then
    assert response.context["form"].non_field_errors() == ["Cannot pause a subscription that is canceled."]
    assert rows() == before


# --- permissions ---------------------------------------------------------------------------------------------------

PAGES = {
    "options": {"add-option": "backup", "add-quantity": "1", "_add": "1"},
    "coupon": {"coupon": "SAVE10"},
    "cancel": {"when": "now", "key": "6d1f0a3e-8b7c-4c39-9a53-2f6a4fdc1d11"},
    "pause": {},
    "resume": {},
}


@pytest.mark.parametrize("page", sorted(PAGES))
@pytest.mark.parametrize("group", ["Support", None])
def test_support_and_users_without_group_are_refused(django_user_model, staff_in_group, sub, page, group):
    # given
    user = (
        staff_in_group(group)
        if group
        else django_user_model.objects.create_user(username="nogroup", password="x", is_staff=True)
    )
    client = login(user)
    before = rows()

    # when
    with time_machine.travel(DAY, tick=False):
        shown = client.get(page_url(sub, page))
        posted = client.post(page_url(sub, page), PAGES[page])

    # then
    assert (shown.status_code, posted.status_code) == (403, 403)
    assert rows() == before
    sub.refresh_from_db()
    assert sub.status == "active"


def test_the_subscription_page_offers_the_pages_allowed(accountant, staff_in_group, sub):
    # when
    mine = accountant.get(page_url(sub, "change"))
    support = login(staff_in_group("Support")).get(page_url(sub, "change"))

    # then
    assert [label for label, _url in mine.context["subscription_pages"]] == [
        "Change plan",
        "Options",
        "Apply coupon",
        "Pause",
        "Cancel",
    ]
    assert "subscription_pages" not in support.context
