"""format_money: amounts as an accountant reads them, the one helper every page uses."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation
from moneyed import Money

from billing.money import format_money

NBSP, MINUS = "\u00a0", "\u2212"


@pytest.mark.parametrize(
    ("amount", "currency", "russian", "english"),
    [
        ("112600", "RUB", f"112{NBSP}600,00{NBSP}₽", f"RUB{NBSP}112,600.00"),
        ("-150000", "RUB", f"{MINUS}150{NBSP}000,00{NBSP}₽", f"-RUB{NBSP}150,000.00"),
        ("0", "RUB", f"0,00{NBSP}₽", f"RUB{NBSP}0.00"),
        ("0.0000", "USD", f"0,00{NBSP}$", f"USD{NBSP}0.00"),
        ("1234567.8", "USD", f"1{NBSP}234{NBSP}567,80{NBSP}$", f"USD{NBSP}1,234,567.80"),
        ("-0.5", "EUR", f"{MINUS}0,50{NBSP}€", f"-EUR{NBSP}0.50"),
        ("999.9900", "KZT", f"999,99{NBSP}₸", f"KZT{NBSP}999.99"),
        ("1500", "JPY", f"1{NBSP}500{NBSP}¥", f"JPY{NBSP}1,500"),  # no minor unit
        ("12.345", "KWD", f"12,345{NBSP}KWD", f"KWD{NBSP}12.345"),  # three decimals, no sign known: the code
        ("1000", "AMD", f"1{NBSP}000,00{NBSP}AMD", f"AMD{NBSP}1,000.00"),
    ],
)
def test_format_money_in_russian_and_english(amount, currency, russian, english):
    assert format_money(Decimal(amount), currency, language="ru") == russian
    assert format_money(Decimal(amount), currency, language="en") == english


def test_format_money_follows_the_active_language_and_takes_money():
    with translation.override("ru"):
        assert format_money(Money("112600", "RUB")) == f"112{NBSP}600,00{NBSP}₽"
    with translation.override("en"):
        assert format_money(Money("-150000", "RUB")) == f"-RUB{NBSP}150,000.00"


def test_a_negative_that_rounds_to_zero_has_no_minus_sign():
    assert format_money(Decimal("-0.001"), "RUB", language="ru") == f"0,00{NBSP}₽"


def test_the_money_template_filter():
    template = Template("{% load money %}{{ m|money }} / {{ a|money:'EUR' }}")
    with translation.override("ru"):
        assert template.render(Context({"m": Money("10", "RUB"), "a": Decimal("-2")})) == (
            f"10,00{NBSP}₽ / {MINUS}2,00{NBSP}€"
        )
