"""The admin in Russian in a real browser: the language switch, entries with Debit and Credit (screenshot kept as
an artifact), and a transactions list that fits a 1280-pixel page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from billing.services.customers import customer_balance_adjust, customer_create
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import make_plan, make_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NBSP = "\u00a0"


@pytest.fixture
def ledger(settings):
    """A customer topped up by 112 600,00 ₽ and charged for a subscription (no setup fee: no 0.00 charge), on an
    installation whose language is Russian (the default; the tests' environment sets English), so the texts the
    ledger stores (account names, memos, descriptions) are Russian too."""
    settings.LANGUAGE_CODE = "ru"
    customer = customer_create(name="ООО «Ромашка»", currency="RUB", credit_limit=Decimal("0"))
    customer_balance_adjust(
        customer_id=customer.pk, amount=Decimal("112600.00"), direction="credit", reason="Пополнение", key="top-up-1"
    )
    make_plan("biz", "12500.00", product=make_product("crm"), name="Бизнес")
    subscription_create(
        customer_id=customer.pk,
        plan_code="biz",
        at=dt.datetime(2026, 4, 1, 9, tzinfo=dt.timezone(dt.timedelta(hours=3))),
    )
    return customer


def _overflow(page) -> dict:
    """Whether the page, or the changelist's own scrolling box, is wider than what it shows."""
    return page.evaluate(
        """() => {
            const root = document.documentElement, box = document.querySelector('#changelist .results');
            return {page: root.scrollWidth > root.clientWidth, list: box.scrollWidth > box.clientWidth};
        }"""
    )


def _switch_to_russian(page):
    with page.expect_navigation():  # the switch posts its form on change, then comes back to this page
        page.select_option("#language-switch-select", "ru")
    assert page.locator("html").get_attribute("lang") == "ru"


def test_entries_in_russian_with_debit_and_credit(page, admin_login, ledger, artifacts_dir):
    # given an accountant logged in, who switches the admin to Russian
    open_admin = admin_login(page)
    _switch_to_russian(page)

    # when
    open_admin("/admin/billing/entry/")

    # then the list has Debit and Credit columns with amounts as an accountant reads them
    headers = [h.strip() for h in page.locator("#result_list thead th").all_text_contents()]
    assert "Дебет" in headers and "Кредит" in headers
    assert page.locator("h1").text_content() == "Выберите объект «запись» для просмотра"
    text = page.locator("#result_list").inner_text()
    assert f"112{NBSP}600,00{NBSP}₽" in text and f"12{NBSP}500,00{NBSP}₽" in text
    page.screenshot(path=str(artifacts_dir / "entries-ru.png"), full_page=True)
    assert _overflow(page) == {"page": False, "list": False}

    # and a transaction's page shows its entries the same way
    open_admin("/admin/billing/transaction/")
    page.locator("#result_list tbody tr th a").first.click()
    inline = page.locator(".inline-group").text_content()
    assert "Дебет" in inline and "Кредит" in inline
    page.screenshot(path=str(artifacts_dir / "transaction-ru.png"), full_page=True)


def test_the_transactions_list_fits_a_1280_pixel_page(page, admin_login, ledger, artifacts_dir):
    # given
    open_admin = admin_login(page)
    _switch_to_russian(page)

    # when
    open_admin("/admin/billing/transaction/")

    # then nothing scrolls sideways: neither the page nor the list's own box
    page.screenshot(path=str(artifacts_dir / "transactions-ru.png"), full_page=True)
    assert _overflow(page) == {"page": False, "list": False}
    headers = [h.strip() for h in page.locator("#result_list thead th").all_text_contents()]
    assert "Дебет" in headers and "Кредит" in headers
