"""The amount in words (сумма прописью) printed on invoices for payment, acts and УПД.

«Шестьдесят одна тысяча рублей 00 копеек»; in English «Sixty-one thousand roubles 00 kopecks». The whole units are
spelled out, the minor units stay two digits (the accountants' custom). Russian comes from num2words' currency
mode, which agrees the nouns with the number (1 рубль, 2 рубля, 5 рублей; 01 копейка); English is built here
from num2words' cardinal, because num2words spells «kopeks» and «euro» where English documents say «kopecks» and
«euros». The amount must be a Decimal: num2words reads a plain int as kopecks.
"""

from __future__ import annotations

from decimal import Decimal

from num2words import num2words

from billing.rounding import round_amount

# English nouns per currency: (singular, plural) of the unit and of the minor unit
ENGLISH_UNITS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "RUB": (("rouble", "roubles"), ("kopeck", "kopecks")),
    "USD": (("dollar", "dollars"), ("cent", "cents")),
    "EUR": (("euro", "euros"), ("cent", "cents")),
    "GBP": (("pound", "pounds"), ("penny", "pence")),
}


def amount_in_words(amount: Decimal, currency: str, language: str = "ru") -> str:
    """The amount spelled out, capitalised, with the minor units as two digits; a negative amount starts with
    «Минус»/«Minus». A currency num2words does not know in Russian (or one missing above in English) is named
    by its code after the words of the whole units."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"amount_in_words needs a Decimal, not {type(amount).__name__} (an int reads as kopecks)")
    currency = currency.upper()
    amount = round_amount(amount, currency)
    negative = amount < 0
    whole, minor = divmod(abs(amount), 1)
    whole, minor = int(whole), int(minor * 100)
    if language.lower().startswith("ru"):
        text = _russian(abs(amount), whole, minor, currency)
        sign = "минус "
    else:
        text = _english(whole, minor, currency)
        sign = "minus "
    text = (sign if negative else "") + text
    return text[:1].upper() + text[1:]


def _russian(amount: Decimal, whole: int, minor: int, currency: str) -> str:
    try:
        # «шестьдесят одна тысяча рублей, 00 копеек»: drop the comma before the minor units
        words, _comma, cents = num2words(amount, lang="ru", to="currency", currency=currency, cents=False).rpartition(
            ", "
        )
        return f"{words} {cents}"
    except NotImplementedError:
        return f"{num2words(whole, lang='ru')} {currency} {minor:02d}"


def _english(whole: int, minor: int, currency: str) -> str:
    words = num2words(whole, lang="en")
    units = ENGLISH_UNITS.get(currency)
    if units is None:
        return f"{words} {currency} {minor:02d}"
    (unit, units_plural), (cent, cents_plural) = units
    return f"{words} {unit if whole == 1 else units_plural} {minor:02d} {cent if minor == 1 else cents_plural}"
