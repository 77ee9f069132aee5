"""The admin in Russian (the default) and English: the language switch, Debit and Credit columns, money as an
accountant reads it, times in the operator's zone; the API answers in English unless asked otherwise."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from billing.models import Entry, Transaction
from billing.services.customers import customer_balance_adjust

pytestmark = pytest.mark.django_db

NBSP, MINUS = "\u00a0", "\u2212"
ENTRIES_URL = reverse("admin:billing_entry_changelist")
TRANSACTIONS_URL = reverse("admin:billing_transaction_changelist")


@pytest.fixture
def top_up(customer, unique_key):
    return customer_balance_adjust(
        customer_id=customer.pk, amount=Decimal("112600.00"), direction="credit", reason="Top-up", key=unique_key()
    )


def _russian(client):
    response = client.post(reverse("set_language"), {"language": "ru", "next": ENTRIES_URL})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"
    return client


def test_the_language_switch_turns_the_admin_russian_and_back(admin_client, top_up):
    # given the admin in English (what the tests' environment sets)
    assert "Debit" in admin_client.get(ENTRIES_URL).content.decode()

    # when the user picks Russian in the switch
    page = _russian(admin_client).get(ENTRIES_URL).content.decode()

    # then the page is Russian, and the switch offers both languages with Russian selected
    assert '<html lang="ru"' in page
    assert "Дебет" in page and "Кредит" in page and "Записи проводок" in page
    assert 'id="language-switch"' in page and '<option value="ru" selected>' in page
    # and back
    admin_client.post(reverse("set_language"), {"language": "en", "next": ENTRIES_URL})
    assert "Debit" in admin_client.get(ENTRIES_URL).content.decode()


def test_entries_show_debit_and_credit_columns(admin_client, top_up, customer):
    # given the top-up's two entries: the clearing/adjustments account debited, the customer's account credited
    entries = {e.amount.amount > 0: e for e in Entry.objects.filter(transaction=top_up)}

    # when
    response = _russian(admin_client).get(ENTRIES_URL)

    # then each amount is in its column, positive, as an accountant reads it
    cells = {
        (row.pk, column): str(response.context["cl"].model_admin.__getattribute__(column)(row))
        for row in response.context["cl"].result_list
        for column in ("debit", "credit")
    }
    amount = f"112{NBSP}600,00{NBSP}₽"
    assert cells[(entries[True].pk, "debit")] == amount and cells[(entries[True].pk, "credit")] == ""
    assert cells[(entries[False].pk, "debit")] == "" and cells[(entries[False].pk, "credit")] == amount
    assert amount in response.content.decode()
    assert MINUS not in response.content.decode()  # no signed amounts on the page


def test_transactions_list_shows_the_customers_debit_and_credit(admin_client, top_up, customer, unique_key):
    # given a debit (a charge taken from the balance) after the top-up
    charge = customer_balance_adjust(
        customer_id=customer.pk,
        amount=Decimal("150000.00") - Decimal("40000"),
        direction="debit",
        reason="Fix",
        key=unique_key(),
    )
    admin_client.post(reverse("set_language"), {"language": "en", "next": TRANSACTIONS_URL})

    # when
    response = admin_client.get(TRANSACTIONS_URL)

    # then the top-up is a credit to the customer's account and the debit a debit, both shown positive
    admin = response.context["cl"].model_admin
    rows = {t.pk: (admin.debit(t), admin.credit(t)) for t in response.context["cl"].result_list}
    assert rows[top_up.pk] == ("", f"RUB{NBSP}112,600.00")
    assert rows[charge.pk] == (f"RUB{NBSP}110,000.00", "")
    # and the list keeps to a few short columns
    assert list(admin.list_display) == ["id", "posted_short", "kind_and_description", "customer", "debit", "credit"]


def test_times_are_shown_in_the_operators_zone(admin_client, top_up):
    # given the default operator's zone, three hours ahead of UTC
    assert settings.TIME_ZONE == "Europe/Moscow"
    posted = Transaction.objects.get(pk=top_up.pk).posted_at
    moscow = posted.astimezone(dt.timezone(dt.timedelta(hours=3)))

    # when
    page = _russian(admin_client).get(reverse("admin:billing_transaction_change", args=[top_up.pk])).content.decode()

    # then the time is Moscow's, in a Russian date (24-hour clock), not UTC's
    assert f"{moscow.hour}:{moscow:%M}" in page
    assert f"{posted.astimezone(dt.UTC):%H:%M}" not in page


def test_the_api_speaks_english_unless_accept_language_asks_for_russian(client):
    # given no credentials: a problem+json 401
    url = reverse("customer-list") if _has_route("customer-list") else "/api/v1/customers/"

    # when
    english = client.get(url)
    russian = client.get(url, HTTP_ACCEPT_LANGUAGE="ru")

    # then
    assert (english.status_code, russian.status_code) == (401, 401)
    assert english.json()["title"] == "Authentication required"
    assert russian.json()["title"] == "Требуется аутентификация"
    assert english.json()["code"] == russian.json()["code"]  # codes never translated


def _has_route(name: str) -> bool:
    from django.urls import NoReverseMatch

    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True


def test_a_service_error_is_told_in_the_active_language(customer, unique_key):
    from django.utils import translation

    from billing.errors import InvalidPosting

    for language, message in (("en", "The amount must be positive."), ("ru", "Сумма должна быть больше нуля.")):
        with translation.override(language), pytest.raises(InvalidPosting) as refused:
            customer_balance_adjust(
                customer_id=customer.pk, amount=Decimal("0"), direction="credit", reason="x", key=unique_key()
            )
        assert (refused.value.message, refused.value.code) == (message, "invalid_posting")
