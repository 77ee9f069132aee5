"""Billing periods computed from an anchor date in the customer's time zone.

Every boundary is computed from the original anchor (never chained from the previous boundary),
so a subscription anchored on the 31st bills on Jan 31, Feb 28 (29 in a leap year), Mar 31, …
Periods are half-open: [start, end).
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass
from enum import StrEnum


class Interval(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


_MONTHS = {Interval.MONTH: 1, Interval.QUARTER: 3, Interval.YEAR: 12}


@dataclass(frozen=True, order=True)
class Period:
    start: dt.date
    end: dt.date  # exclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def contains(self, day: dt.date) -> bool:
        return self.start <= day < self.end

    def days_from(self, day: dt.date) -> int:
        """Days left in the period counting `day` itself (the day of a change counts on the new plan)."""
        if not self.contains(day):
            raise ValueError(f"{day} is outside {self}")
        return (self.end - day).days

    def __str__(self) -> str:
        return f"[{self.start}, {self.end})"


def add_months(anchor: dt.date, months: int) -> dt.date:
    """Anchor day in the target month, clamped to that month's last day."""
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def boundary(anchor: dt.date, interval: Interval | str, n: int, *, count: int = 1) -> dt.date:
    """The start of period number n (0-based) of a schedule anchored at `anchor`."""
    interval = Interval(interval)
    if interval is Interval.DAY:
        return anchor + dt.timedelta(days=n * count)
    if interval is Interval.WEEK:
        return anchor + dt.timedelta(weeks=n * count)
    return add_months(anchor, n * count * _MONTHS[interval])


def period_index(anchor: dt.date, interval: Interval | str, day: dt.date, *, count: int = 1) -> int:
    """Which period (0-based) contains `day`; days before the anchor raise ValueError."""
    if day < anchor:
        raise ValueError(f"{day} is before the anchor {anchor}")
    interval = Interval(interval)
    if interval in (Interval.DAY, Interval.WEEK):
        step = count * (7 if interval is Interval.WEEK else 1)
        return (day - anchor).days // step
    months = count * _MONTHS[interval]
    guess = ((day.year - anchor.year) * 12 + day.month - anchor.month) // months
    guess = max(guess, 0)
    while boundary(anchor, interval, guess + 1, count=count) <= day:
        guess += 1
    while guess > 0 and boundary(anchor, interval, guess, count=count) > day:
        guess -= 1
    return guess


def period_at(anchor: dt.date, interval: Interval | str, n: int, *, count: int = 1) -> Period:
    return Period(boundary(anchor, interval, n, count=count), boundary(anchor, interval, n + 1, count=count))


@functools.lru_cache(maxsize=4096)  # pure, and a billing chunk asks for the same few periods a thousand times
def period_containing(anchor: dt.date, interval: Interval | str, day: dt.date, *, count: int = 1) -> Period:
    return period_at(anchor, interval, period_index(anchor, interval, day, count=count), count=count)


def local_date(instant: dt.datetime, timezone: str) -> dt.date:
    """The calendar day of an aware instant in the customer's time zone."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(zoneinfo.ZoneInfo(timezone)).date()


def local_midnight(day: dt.date, timezone: str) -> dt.datetime:
    """The aware instant at which `day` starts in the customer's time zone."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=zoneinfo.ZoneInfo(timezone))
