"""An Accountant changes a customer's plan in the admin, in a real browser (issue 10, item 8): the customer card,
the customer's subscriptions list, the subscription, change plan, the preview, the confirmation. Screenshots of
each step are kept (tests/browser/conftest.py: `artifacts`)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from plans.models import Charge
from plans.services.subscriptions import subscription_create
from tests.admin.subscription_support import make_catalog, prepaid_customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect


def test_an_accountant_changes_a_plan_from_the_customer_card(
    browser_page, artifacts, django_user_model, default_groups
):
    # given a customer subscribed today to start (1000.00 RUB a month) and an Accountant
    make_catalog()
    customer = prepaid_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="start")
    user = django_user_model.objects.create_user(username="anna", password="s3cret-pass", is_staff=True)
    user.groups.add(default_groups["Accountant"])

    page = browser_page

    # when she logs in and opens the customer card
    page.goto(f"/admin/login/?next=/admin/billing/customer/{customer.pk}/change/")
    page.fill("#id_username", "anna")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    panel = page.locator("#customer-subscriptions")
    row = panel.locator(f'tr[data-subscription="{sub.pk}"]')
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("start")
    expect(row.locator(".next-charge")).to_contain_text("1000.00 RUB")
    page.screenshot(path=artifacts / "1-customer-card.png", full_page=True)

    # the customer's subscriptions list
    panel.locator("a.subscriptions-list").click()
    expect(page).to_have_url(re.compile(rf"/admin/plans/subscription/\?customer__id__exact={customer.pk}$"))
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.screenshot(path=artifacts / "2-subscriptions-list.png", full_page=True)

    # the subscription, then change plan
    page.locator(f'#result_list a[href*="/plans/subscription/{sub.pk}/change/"]').first.click()
    page.get_by_role("link", name="Change plan").click()
    expect(page.locator("#id_plan")).to_have_value("start")
    page.select_option("#id_plan", "pro")
    page.screenshot(path=artifacts / "3-change-plan.png", full_page=True)
    page.click("input[name=_preview]")

    # then the preview: the whole period of start credited, the whole period of pro charged (the change is on the
    # first day of the period)
    preview = page.locator("#change-preview")
    expect(preview).to_be_visible()
    amounts = preview.locator("tbody td.amount").all_inner_texts()
    total = preview.locator("#preview-total").inner_text()
    page.screenshot(path=artifacts / "4-preview.png", full_page=True)
    assert (amounts, total) == (["-1000.00 RUB", "3000.00 RUB"], "2000.00 RUB")

    # when she confirms
    page.click("input[name=_confirm]")

    # then the success message shows what was posted
    expect(page.locator("ul.messagelist li.success")).to_be_visible()
    message = page.locator("ul.messagelist li.success").inner_text()
    page.screenshot(path=artifacts / "5-confirmed.png", full_page=True)
    charge = Charge.objects.get(subscription=sub, kind="proration")
    assert message == (
        f"Subscription #{sub.pk} is now pro × 1: 2000.00 RUB posted as transaction #{charge.transaction_id}."
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
