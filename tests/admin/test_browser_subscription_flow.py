"""An Accountant changes a customer's plan in the admin, in a real browser and in Russian (issue 10, items 8 and 9):
the customer card, the customer's subscriptions list, the subscription, change plan, the preview, the confirmation.
Screenshots of each step are kept (tests/conftest.py: `artifacts`)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import translation

from billing.money import format_money
from plans.models import Charge, Subscription
from plans.services.subscriptions import subscription_create
from tests.admin.subscription_support import make_catalog, prepaid_customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect


def _ru(text: str) -> str:
    with translation.override("ru"):
        return translation.gettext(text)


def _rub(amount: str) -> str:
    return format_money(Decimal(amount), "RUB", language="ru")


def test_an_accountant_changes_a_plan_from_the_customer_card(
    page, live_server, artifacts, django_user_model, default_groups
):
    # given a customer subscribed today to start (1000.00 RUB a month) and an Accountant
    make_catalog()
    customer = prepaid_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="start")
    user = django_user_model.objects.create_user(username="anna", password="s3cret-pass", is_staff=True)
    user.groups.add(default_groups["Accountant"])

    # when she logs in (her admin in Russian: the language switch's cookie) and opens the customer card
    page.context.add_cookies([{"name": "billing_language", "value": "ru", "url": live_server.url}])
    page.goto(f"/admin/login/?next=/admin/billing/customer/{customer.pk}/change/")
    page.fill("#id_username", "anna")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    panel = page.locator("#customer-subscriptions")
    row = panel.locator(f'tr[data-subscription="{sub.pk}"]')
    with translation.override("ru"):
        expect(row).to_contain_text(str(Subscription.Status.ACTIVE.label))
    expect(row).to_contain_text("start")
    expect(row.locator(".next-charge")).to_contain_text(_rub("1000.00"))
    page.screenshot(path=artifacts / "1-customer-card.png", full_page=True)

    # the customer's subscriptions list
    panel.locator("a.subscriptions-list").click()
    expect(page).to_have_url(re.compile(rf"/admin/plans/subscription/\?customer__id__exact={customer.pk}$"))
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.screenshot(path=artifacts / "2-subscriptions-list.png", full_page=True)

    # the subscription, then change plan
    page.locator(f'#result_list a[href*="/plans/subscription/{sub.pk}/change/"]').first.click()
    page.get_by_role("link", name=_ru("Change plan")).click()
    expect(page.locator("#id_plan")).to_have_value("start")
    page.select_option("#id_plan", "pro")
    page.screenshot(path=artifacts / "3-change-plan.png", full_page=True)
    page.click("input[name=_preview]")

    # then the preview: the whole period of start credited, the whole period of pro charged (the change is on the
    # first day of the period)
    preview = page.locator("#change-preview")
    expect(preview).to_be_visible()
    amounts = preview.locator("tbody td.amount.gross").all_inner_texts()
    total = preview.locator("#preview-total").inner_text()
    page.screenshot(path=artifacts / "4-preview.png", full_page=True)
    assert (amounts, total) == ([_rub("-1000.00"), _rub("3000.00")], _rub("2000.00"))

    # when she confirms
    page.click("input[name=_confirm]")

    # then the success message shows what was posted
    expect(page.locator("ul.messagelist li.success")).to_be_visible()
    message = page.locator("ul.messagelist li.success").inner_text()
    page.screenshot(path=artifacts / "5-confirmed.png", full_page=True)
    charge = Charge.objects.get(subscription=sub, kind="proration")
    posted = _ru('{amount} posted as <a href="{url}">transaction #{txn}</a>').format(
        amount=_rub("2000.00"), url="", txn=charge.transaction_id
    )
    posted = posted.replace('<a href="">', "").replace("</a>", "")
    assert message == _ru("Subscription #{id} is now {plan} × {quantity}: {posted}.").format(
        id=sub.pk, plan="pro", quantity=1, posted=posted
    )
    assert charge.amount.amount == Decimal("2000.00")
    sub.refresh_from_db()
    assert sub.plan.code == "pro"
    assert sorted(p.name for p in artifacts.iterdir()) == [
        "1-customer-card.png",
        "2-subscriptions-list.png",
        "3-change-plan.png",
        "4-preview.png",
        "5-confirmed.png",
    ]
