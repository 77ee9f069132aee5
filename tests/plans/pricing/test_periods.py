import datetime as dt

import pytest

from plans.pricing.periods import Period, add_months, boundary, local_date, period_containing, period_index

d = dt.date


@pytest.mark.parametrize(
    ("anchor", "months", "expected"),
    [
        (d(2026, 1, 31), 1, d(2026, 2, 28)),
        (d(2026, 1, 31), 2, d(2026, 3, 31)),  # back to the 31st: computed from the anchor, not chained
        (d(2026, 1, 31), 3, d(2026, 4, 30)),
        (d(2028, 1, 31), 1, d(2028, 2, 29)),  # leap year
        (d(2028, 2, 29), 12, d(2029, 2, 28)),
        (d(2028, 2, 29), 48, d(2032, 2, 29)),
        (d(2026, 11, 30), 3, d(2027, 2, 28)),
        (d(2026, 12, 15), 1, d(2027, 1, 15)),
        (d(2026, 3, 31), -1, d(2026, 2, 28)),
    ],
)
def test_add_months_clamps_to_the_last_day(anchor, months, expected):
    assert add_months(anchor, months) == expected


@pytest.mark.parametrize(
    ("interval", "n", "expected"),
    [
        ("day", 10, d(2026, 2, 10)),
        ("week", 2, d(2026, 2, 14)),
        ("month", 1, d(2026, 2, 28)),
        ("quarter", 1, d(2026, 4, 30)),
        ("year", 2, d(2028, 1, 31)),
    ],
)
def test_boundaries_from_a_31st_anchor(interval, n, expected):
    assert boundary(d(2026, 1, 31), interval, n) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (d(2026, 1, 31), Period(d(2026, 1, 31), d(2026, 2, 28))),
        (d(2026, 2, 27), Period(d(2026, 1, 31), d(2026, 2, 28))),
        (d(2026, 2, 28), Period(d(2026, 2, 28), d(2026, 3, 31))),
        (d(2026, 3, 31), Period(d(2026, 3, 31), d(2026, 4, 30))),
        (d(2026, 12, 31), Period(d(2026, 12, 31), d(2027, 1, 31))),
    ],
)
def test_period_containing_monthly_31st(day, expected):
    assert period_containing(d(2026, 1, 31), "month", day) == expected


def test_periods_tile_without_gaps_for_years():
    anchor = d(2026, 1, 31)
    for n in range(60):
        this, following = (period_containing(anchor, "month", boundary(anchor, "month", k)) for k in (n, n + 1))
        assert this.end == following.start
        assert period_index(anchor, "month", this.start) == n


def test_days_before_the_anchor_are_refused():
    with pytest.raises(ValueError):
        period_containing(d(2026, 5, 1), "month", d(2026, 4, 30))


def test_the_customers_time_zone_decides_the_day():
    instant = dt.datetime(2026, 11, 30, 22, 30, tzinfo=dt.UTC)
    assert local_date(instant, "Europe/Moscow") == d(2026, 12, 1)  # UTC+3
    assert local_date(instant, "America/New_York") == d(2026, 11, 30)
    assert local_date(instant, "UTC") == d(2026, 11, 30)
