"""The amount in words: Russian and English, rubles/kopecks, dollars/cents, euros/cents. Pure: no database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from documents.words import amount_in_words

D = Decimal


@pytest.mark.parametrize(
    ("amount", "russian", "english"),
    [
        ("0.01", "Ноль рублей 01 копейка", "Zero roubles 01 kopeck"),
        ("0.02", "Ноль рублей 02 копейки", "Zero roubles 02 kopecks"),
        ("1", "Один рубль 00 копеек", "One rouble 00 kopecks"),
        ("2", "Два рубля 00 копеек", "Two roubles 00 kopecks"),
        ("5", "Пять рублей 00 копеек", "Five roubles 00 kopecks"),
        ("21", "Двадцать один рубль 00 копеек", "Twenty-one roubles 00 kopecks"),
        ("1000", "Одна тысяча рублей 00 копеек", "One thousand roubles 00 kopecks"),
        ("61000.00", "Шестьдесят одна тысяча рублей 00 копеек", "Sixty-one thousand roubles 00 kopecks"),
        ("1000000", "Один миллион рублей 00 копеек", "One million roubles 00 kopecks"),
        (
            "123456.78",
            "Сто двадцать три тысячи четыреста пятьдесят шесть рублей 78 копеек",
            "One hundred and twenty-three thousand, four hundred and fifty-six roubles 78 kopecks",
        ),
    ],
)
def test_rubles_in_russian_and_english(amount, russian, english):
    assert amount_in_words(D(amount), "RUB", "ru") == russian
    assert amount_in_words(D(amount), "RUB", "en") == english


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1", "USD", "One dollar 00 cents"),
        ("21.01", "USD", "Twenty-one dollars 01 cent"),
        ("1000000", "USD", "One million dollars 00 cents"),
        ("1", "EUR", "One euro 00 cents"),
        ("2.50", "EUR", "Two euros 50 cents"),
    ],
)
def test_dollars_and_euros_in_english(amount, currency, expected):
    assert amount_in_words(D(amount), currency, "en") == expected


def test_dollars_in_russian_agree_with_the_number():
    assert amount_in_words(D("21.02"), "USD", "ru") == "Двадцать один доллар 02 цента"
    assert amount_in_words(D("5"), "EUR", "ru") == "Пять евро 00 центов"


def test_a_negative_amount_starts_with_minus():
    assert amount_in_words(D("-21.02"), "RUB", "ru") == "Минус двадцать один рубль 02 копейки"
    assert amount_in_words(D("-1"), "RUB", "en") == "Minus one rouble 00 kopecks"


def test_more_places_round_half_up_to_the_kopeck():
    assert amount_in_words(D("1.005"), "RUB", "ru") == "Один рубль 01 копейка"


def test_an_int_is_refused_because_num2words_reads_it_as_kopecks():
    with pytest.raises(TypeError, match="Decimal"):
        amount_in_words(21, "RUB", "ru")


def test_a_currency_num2words_does_not_know_is_named_by_its_code():
    assert amount_in_words(D("21.50"), "CNY", "ru") == "Двадцать один CNY 50"
    assert amount_in_words(D("21.50"), "KZT", "en") == "Twenty-one KZT 50"
