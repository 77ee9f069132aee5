"""A top-up in a real browser (issue 12): an accountant opens a customer's card, tops it up through the test-mode
provider, pays on the checkout page with a test card, comes back to the card and sees the balance and the payment;
a declined card shows the failure. Screenshots of each step are kept as artifacts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import Payment
from billing.services.customers import customer_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NBSP = "\u00a0"


@pytest.fixture
def customer(settings, live_server):
    settings.PAYMENTS_TEST_MODE = True
    settings.PAYMENTS_PUBLIC_URL = live_server.url
    return customer_create(name="Smirnov", currency="RUB", credit_limit=Decimal("0"))


def test_an_accountant_tops_up_a_customer_through_the_test_checkout(page, admin_login, customer, artifacts):
    # given the customer's card
    open_admin = admin_login(page)
    open_admin(f"/admin/billing/customer/{customer.pk}/change/")
    page.screenshot(path=str(artifacts / "1-card.png"), full_page=True)

    # when the accountant tops up 2 000,00 from the card's payments panel
    page.click("#customer-payments >> text=Top up")
    page.fill("#id_amount", "2000.00")
    page.click("input[type=submit]")
    page.screenshot(path=str(artifacts / "2-payment.png"), full_page=True)
    payment = Payment.objects.get(customer=customer)
    assert payment.status == "pending"

    # and pays on the provider's (test-mode) page
    page.goto(payment.confirmation_url)
    assert "2" in page.locator("[data-testid=amount]").inner_text()
    page.fill("#id_card", "4242 4242 4242 4242")
    page.screenshot(path=str(artifacts / "3-checkout.png"), full_page=True)
    page.click("button[name=pay]")

    # then the checkout returns to the customer's card, which shows the new balance and the succeeded payment
    page.wait_for_url(f"**/admin/billing/customer/{customer.pk}/change/")
    page.screenshot(path=str(artifacts / "4-card-after.png"), full_page=True)
    assert f"RUB{NBSP}2,000.00" in page.locator(".field-balances").inner_text()
    assert "Succeeded" in page.locator("#customer-payments").inner_text()
    payment.refresh_from_db()
    assert payment.status == "succeeded"


def test_a_declined_card_is_shown_as_failed(page, admin_login, customer, artifacts):
    open_admin = admin_login(page)
    open_admin(f"/admin/billing/customer/{customer.pk}/top-up/")
    page.fill("#id_amount", "500.00")
    page.click("input[type=submit]")
    payment = Payment.objects.get(customer=customer)
    page.goto(payment.confirmation_url)
    page.fill("#id_card", "4000 0000 0000 0002")
    page.click("button[name=pay]")
    page.wait_for_url(f"**/admin/billing/customer/{customer.pk}/change/")
    page.screenshot(path=str(artifacts / "declined.png"), full_page=True)
    assert "Failed" in page.locator("#customer-payments").inner_text()
    payment.refresh_from_db()
    assert (payment.status, payment.failure_reason) == ("failed", "card_declined")
