"""How the PDFs print numbers, quantities, dates, periods, names and VAT rates: the Russian forms «1 234,56» and
«31.10.2026», the English invoice «1,234.56» and «October 31, 2026». Never the process locale."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from billing import vat as vat_rules
from billing.money import round_amount

NBSP = "\u00a0"
DASH = "—"
MONTHS = (
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
)
ENGLISH_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def ru_number(amount: Decimal | None, currency: str = "RUB") -> str:
    """«1 234,56» (a no-break space between groups, a minus sign for a negative amount)."""
    if amount is None:
        return DASH
    text = f"{abs(round_amount(amount, currency)):,f}"
    whole, _, fraction = text.partition(".")
    text = whole.replace(",", NBSP) + ("," + fraction if fraction else "")
    return ("\u2212" if amount < 0 else "") + text


def en_number(amount: Decimal | None, currency: str = "USD") -> str:
    """«1,234.56»."""
    if amount is None:
        return DASH
    text = f"{abs(round_amount(amount, currency)):,f}"
    return ("-" if amount < 0 else "") + text


def quantity_text(quantity: Decimal, *, language: str = "ru") -> str:
    """1.0000 → «1», 1.5000 → «1,5» (English «1.5»)."""
    text = f"{quantity.normalize():f}"
    return text.replace(".", ",") if language == "ru" else text


def date_text(day: dt.date | str | None, *, language: str = "ru") -> str:
    if not day:
        return DASH
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    if language == "ru":
        return f"{day.day:02d}.{day.month:02d}.{day.year}"
    return f"{ENGLISH_MONTHS[day.month - 1]} {day.day}, {day.year}"  # not strftime: it follows the process locale


def short_name(full_name: str) -> str:
    """«Иванов Иван Иванович» → «Иванов И. И.» (surname and initials, as signatures are printed)."""
    parts = full_name.split()
    if len(parts) < 2:
        return full_name
    return f"{parts[0]} " + " ".join(f"{p[0]}." for p in parts[1:])


def vat_label(rate: str, *, language: str = "ru") -> str:
    """«22%», «без НДС», a calculated rate «22/122» as it is."""
    if "/" in rate:
        return rate
    return vat_rules.label(rate, language=language)


def period_text(start: dt.date | None, end: dt.date | None) -> str:
    """«октябрь 2026 г.» for a calendar month, else «01.10.2026 – 15.10.2026» (the end is exclusive)."""
    if not start or not end:
        return ""
    last = end - dt.timedelta(days=1)
    if start.day == 1 and end.day == 1 and (end.year * 12 + end.month) - (start.year * 12 + start.month) == 1:
        return f"{MONTHS[start.month - 1]} {start.year} г."
    return f"{date_text(start)} – {date_text(last)}"


def positions_text(positions: Sequence[int]) -> str:
    """Line 5а's row numbers: «1», «1–3», or «1, 3, 4» when they are not consecutive."""
    if not positions:
        return DASH
    if len(positions) == 1:
        return str(positions[0])
    if list(positions) == list(range(positions[0], positions[-1] + 1)):
        return f"{positions[0]}–{positions[-1]}"
    return ", ".join(str(p) for p in positions)
