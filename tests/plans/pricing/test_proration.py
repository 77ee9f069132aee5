"""Proration by days in the customer's calendar; amounts computed by hand (see each row's comment)."""

import datetime as dt
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plans.pricing.charges import Discount, LineKind, PricedItem, plan_change_lines, total
from plans.pricing.periods import Period, period_containing

NOV = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))  # 30 days
FEB = Period(dt.date(2026, 2, 1), dt.date(2026, 3, 1))  # 28 days
FEB_LEAP = Period(dt.date(2028, 2, 1), dt.date(2028, 3, 1))  # 29 days


def plan(ref, price, qty=1, currency="RUB"):
    return PricedItem(LineKind.PLAN, ref, ref.title(), D(price), D(qty), currency)


def option(ref, price, qty=1, currency="RUB"):
    return PricedItem(LineKind.OPTION, ref, ref.title(), D(price), D(qty), currency)


CASES = [
    # id, old items, new items, period, change day, discounts, expected (kind, ref, amount) lines
    (
        "upgrade mid-month: 20/30 credited and charged",
        [plan("basic", "1000")],
        [plan("pro", "2000")],
        NOV,
        dt.date(2026, 11, 11),
        [],
        [("proration_credit", "basic", "-666.67"), ("proration_charge", "pro", "1333.33")],
    ),
    (
        "downgrade mid-month",
        [plan("pro", "2000")],
        [plan("basic", "1000")],
        NOV,
        dt.date(2026, 11, 11),
        [],
        [("proration_credit", "pro", "-1333.33"), ("proration_charge", "basic", "666.67")],
    ),
    (
        "change on the first day: whole period",
        [plan("basic", "1000")],
        [plan("pro", "2000")],
        NOV,
        dt.date(2026, 11, 1),
        [],
        [("proration_credit", "basic", "-1000.00"), ("proration_charge", "pro", "2000.00")],
    ),
    (
        "change on the last day: 1/30",
        [plan("basic", "1000")],
        [plan("pro", "2000")],
        NOV,
        dt.date(2026, 11, 30),
        [],
        [("proration_credit", "basic", "-33.33"), ("proration_charge", "pro", "66.67")],
    ),
    (
        "February 2026: 14/28",
        [plan("basic", "1000")],
        [plan("pro", "2000")],
        FEB,
        dt.date(2026, 2, 15),
        [],
        [("proration_credit", "basic", "-500.00"), ("proration_charge", "pro", "1000.00")],
    ),
    # 1000*15/29 = 517.2413…; 2000*15/29 = 1034.4827…
    (
        "leap February 2028: 15/29",
        [plan("basic", "1000")],
        [plan("pro", "2000")],
        FEB_LEAP,
        dt.date(2028, 2, 15),
        [],
        [("proration_credit", "basic", "-517.24"), ("proration_charge", "pro", "1034.48")],
    ),
    # period anchored on the 31st: [Jan 31, Feb 28) = 28 days; 990*18/28 = 636.428…; 1990*18/28 = 1279.285…
    (
        "anchor 31st across February: 18/28",
        [plan("basic", "990")],
        [plan("pro", "1990")],
        Period(dt.date(2026, 1, 31), dt.date(2026, 2, 28)),
        dt.date(2026, 2, 10),
        [],
        [("proration_credit", "basic", "-636.43"), ("proration_charge", "pro", "1279.29")],
    ),
    (
        "seats 5 → 8 at 300 on the 21st: 10/30",
        [plan("team", "300", 5)],
        [plan("team", "300", 8)],
        NOV,
        dt.date(2026, 11, 21),
        [],
        [("proration_credit", "team", "-500.00"), ("proration_charge", "team", "800.00")],
    ),
    # 999.00/30 = 33.30; 299.70/30 = 9.99
    (
        "seats 10 → 3 at 99.90 on the last day",
        [plan("team", "99.90", 10)],
        [plan("team", "99.90", 3)],
        NOV,
        dt.date(2026, 11, 30),
        [],
        [("proration_credit", "team", "-33.30"), ("proration_charge", "team", "9.99")],
    ),
    (
        "with an option kept across the change",
        [plan("basic", "1000"), option("backup", "200")],
        [plan("pro", "2000"), option("backup", "200")],
        NOV,
        dt.date(2026, 11, 11),
        [],
        [
            ("proration_credit", "basic", "-666.67"),
            ("proration_credit", "backup", "-133.33"),
            ("proration_charge", "pro", "1333.33"),
            ("proration_charge", "backup", "133.33"),
        ],
    ),
    (
        "10% coupon follows the plan",
        [plan("basic", "1000")],
        [plan("pro", "2000")],
        NOV,
        dt.date(2026, 11, 11),
        [Discount("TEN", percent=D(10))],
        [
            ("proration_credit", "basic", "-666.67"),
            ("proration_charge", "pro", "1333.33"),
            ("discount", "TEN", "66.67"),
            ("discount", "TEN", "-133.33"),
        ],
    ),
    (
        "coupon limited to the new plan",
        [plan("basic", "1000")],
        [plan("pro", "2000")],
        NOV,
        dt.date(2026, 11, 11),
        [Discount("PRO15", percent=D(15), applies_to=frozenset({"pro"}))],
        [
            ("proration_credit", "basic", "-666.67"),
            ("proration_charge", "pro", "1333.33"),
            ("discount", "PRO15", "-200.00"),
        ],
    ),
    # 0.05 * 15/30 = 0.025 → half up to 0.03 (and -0.025 → -0.03)
    (
        "a tie rounds half up, away from zero",
        [plan("basic", "0.05")],
        [plan("pro", "0.07")],
        NOV,
        dt.date(2026, 11, 16),
        [],
        [("proration_credit", "basic", "-0.03"), ("proration_charge", "pro", "0.04")],
    ),
    # JPY has no minor unit: 1000*20/30 = 666.67 → 667
    (
        "JPY rounds to whole yen",
        [plan("basic", "1000", currency="JPY")],
        [plan("pro", "2500", currency="JPY")],
        NOV,
        dt.date(2026, 11, 11),
        [],
        [("proration_credit", "basic", "-667"), ("proration_charge", "pro", "1667")],
    ),
    # 2026 has 365 days; Jul 1 → Jan 1 = 184 days: 12000*184/365 = 6049.3150…; 24000*184/365 = 12098.6301…
    (
        "yearly plan mid-year",
        [plan("basic", "12000")],
        [plan("pro", "24000")],
        Period(dt.date(2026, 1, 1), dt.date(2027, 1, 1)),
        dt.date(2026, 7, 1),
        [],
        [("proration_credit", "basic", "-6049.32"), ("proration_charge", "pro", "12098.63")],
    ),
    # 2028 has 366 days; Mar 1 → Jan 1 = 306 days: 12000*306/366 = 10032.786…; 18000*306/366 = 15049.180…
    (
        "yearly plan in a leap year",
        [plan("basic", "12000")],
        [plan("pro", "18000")],
        Period(dt.date(2028, 1, 1), dt.date(2029, 1, 1)),
        dt.date(2028, 3, 1),
        [],
        [("proration_credit", "basic", "-10032.79"), ("proration_charge", "pro", "15049.18")],
    ),
    # quarter Oct 1 → Jan 1 = 92 days; Nov 15 → Jan 1 = 47 days: 3000*47/92 = 1532.608…; 6000*47/92 = 3065.217…
    (
        "quarterly plan",
        [plan("basic", "3000")],
        [plan("pro", "6000")],
        Period(dt.date(2026, 10, 1), dt.date(2027, 1, 1)),
        dt.date(2026, 11, 15),
        [],
        [("proration_credit", "basic", "-1532.61"), ("proration_charge", "pro", "3065.22")],
    ),
    (
        "free plan to paid: no credit line",
        [plan("free", "0")],
        [plan("pro", "2000")],
        NOV,
        dt.date(2026, 11, 11),
        [],
        [("proration_charge", "pro", "1333.33")],
    ),
    (
        "paid to free: credit only",
        [plan("pro", "2000")],
        [plan("free", "0")],
        NOV,
        dt.date(2026, 11, 11),
        [],
        [("proration_credit", "pro", "-1333.33")],
    ),
    (
        "anchor on the 15th, change on the period's last day",
        [plan("basic", "1500")],
        [plan("pro", "3000")],
        Period(dt.date(2026, 11, 15), dt.date(2026, 12, 15)),
        dt.date(2026, 12, 14),
        [],
        [("proration_credit", "basic", "-50.00"), ("proration_charge", "pro", "100.00")],
    ),
    # 31-day December, change Dec 17 → 15/31: 100*15/31 = 48.387…; 250*15/31 = 120.967…
    (
        "31-day month",
        [plan("basic", "100")],
        [plan("pro", "250")],
        Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1)),
        dt.date(2026, 12, 17),
        [],
        [("proration_credit", "basic", "-48.39"), ("proration_charge", "pro", "120.97")],
    ),
    (
        "upgrade with seats and a 20% coupon",
        [plan("team", "300", 4)],
        [plan("business", "500", 4)],
        NOV,
        dt.date(2026, 11, 11),
        [Discount("TWENTY", percent=D(20))],
        # 1200*20/30 = 800.00 credit, 2000*20/30 = 1333.33 charge; discounts +160.00 and -266.67
        [
            ("proration_credit", "team", "-800.00"),
            ("proration_charge", "business", "1333.33"),
            ("discount", "TWENTY", "160.00"),
            ("discount", "TWENTY", "-266.67"),
        ],
    ),
    # a fixed discount is per period: min(300, 1000) before and min(300, 2000) after, so nothing moves
    (
        "upgrade keeps a fixed discount where it is",
        [plan("basic", "1000")],
        [plan("pro", "2000")],
        NOV,
        dt.date(2026, 11, 11),
        [Discount("MINUS300", fixed=D(300))],
        [("proration_credit", "basic", "-666.67"), ("proration_charge", "pro", "1333.33")],
    ),
    # cancel on the 21st: 1000*10/30 = 333.33 credited, 300*10/30 = 100.00 of the discount returned
    (
        "cancel gives back the unused part of a fixed discount",
        [plan("basic", "1000")],
        [],
        NOV,
        dt.date(2026, 11, 21),
        [Discount("MINUS300", fixed=D(300))],
        [("proration_credit", "basic", "-333.33"), ("discount", "MINUS300", "100.00")],
    ),
    # a fixed discount larger than the plan was min(300, 200) = 200: cancel on day 1 credits 200 - 200 = 0 net
    (
        "cancel with a fixed discount larger than the plan",
        [plan("mini", "200")],
        [],
        NOV,
        dt.date(2026, 11, 1),
        [Discount("MINUS300", fixed=D(300))],
        [("proration_credit", "mini", "-200.00"), ("discount", "MINUS300", "200.00")],
    ),
    # downgrade 1000 → 200 on the 16th (15/30): the period's discount drops from 300 to 200: (300-200)*15/30 = 50.00
    (
        "downgrade below a fixed discount",
        [plan("basic", "1000")],
        [plan("mini", "200")],
        NOV,
        dt.date(2026, 11, 16),
        [Discount("MINUS300", fixed=D(300))],
        [
            ("proration_credit", "basic", "-500.00"),
            ("proration_charge", "mini", "100.00"),
            ("discount", "MINUS300", "50.00"),
        ],
    ),
    # 100*7/30 = 23.333… → 23.33 returned with 1000*7/30 = 233.33
    (
        "cancel with a fixed discount rounds its line once",
        [plan("basic", "1000")],
        [],
        NOV,
        dt.date(2026, 11, 24),
        [Discount("HUNDRED", fixed=D(100))],
        [("proration_credit", "basic", "-233.33"), ("discount", "HUNDRED", "23.33")],
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "period", "day", "discounts", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_plan_change_lines(old, new, period, day, discounts, expected):
    # when
    lines = plan_change_lines(old=old, new=new, period=period, change_day=day, discounts=discounts)

    # then
    assert [(x.kind.value, x.ref, x.amount) for x in lines] == [(k, r, D(a)) for k, r, a in expected]
    assert total(lines) == sum(D(a) for _, _, a in expected)


HELD_CASES = [
    # id, held items, old items, new items, change day, discounts, expected lines
    # a 200 plan took min(300, 200) = 200 of the discount; with a 300 option the period takes 300: the option
    # added on the 16th (15/30) is charged 150.00 and the extra 100 of discount granted for half the period
    (
        "option added under a fixed discount the plan could not use up",
        [plan("mini", "200")],
        [],
        [option("backup", "300")],
        dt.date(2026, 11, 16),
        [Discount("MINUS300", fixed=D(300))],
        [("proration_charge", "backup", "150.00"), ("discount", "MINUS300", "-50.00")],
    ),
    # and removed again: the same 50.00 returned
    (
        "option removed under a fixed discount",
        [plan("mini", "200")],
        [option("backup", "300")],
        [],
        dt.date(2026, 11, 16),
        [Discount("MINUS300", fixed=D(300))],
        [("proration_credit", "backup", "-150.00"), ("discount", "MINUS300", "50.00")],
    ),
    # a fixed discount limited to the plan does not move when an option goes: 200*10/30 = 66.67
    (
        "option removed under a fixed discount limited to the plan",
        [plan("basic", "1000")],
        [option("backup", "200")],
        [],
        dt.date(2026, 11, 21),
        [Discount("PLAN300", fixed=D(300), applies_to=frozenset({"basic"}))],
        [("proration_credit", "backup", "-66.67")],
    ),
    # the plan changes, the option stays: 1000+200 and 100+200 both take the whole 300 off, nothing moves
    (
        "plan change with a held option covering a fixed discount",
        [option("backup", "200")],
        [plan("basic", "1000")],
        [plan("mini", "100")],
        dt.date(2026, 11, 16),
        [Discount("MINUS300", fixed=D(300))],
        [("proration_credit", "basic", "-500.00"), ("proration_charge", "mini", "50.00")],
    ),
]


@pytest.mark.parametrize(
    ("held", "old", "new", "day", "discounts", "expected"), [c[1:] for c in HELD_CASES], ids=[c[0] for c in HELD_CASES]
)
def test_plan_change_lines_with_items_held_across_the_change(held, old, new, day, discounts, expected):
    # when
    lines = plan_change_lines(old=old, new=new, period=NOV, change_day=day, discounts=discounts, held=held)

    # then
    assert [(x.kind.value, x.ref, x.amount) for x in lines] == [(k, r, D(a)) for k, r, a in expected]


def test_at_least_twenty_hand_computed_cases():
    assert len(CASES) >= 20


def test_change_outside_the_period_is_refused():
    with pytest.raises(ValueError, match="outside"):
        plan_change_lines(old=[plan("a", "1")], new=[plan("b", "2")], period=NOV, change_day=dt.date(2026, 12, 1))


@given(
    anchor=st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2030, 12, 31)),
    offset=st.integers(min_value=0, max_value=400),
    old_price=st.decimals(min_value=0, max_value=100000, places=2),
    new_price=st.decimals(min_value=0, max_value=100000, places=2),
    quantity=st.integers(min_value=1, max_value=50),
    interval=st.sampled_from(["month", "quarter", "year"]),
)
def test_upgrade_and_downgrade_back_on_the_same_day_net_to_zero_within_a_kopeck(
    anchor, offset, old_price, new_price, quantity, interval
):
    # given a subscription in some period, changed up and back on the same day
    day = anchor + dt.timedelta(days=offset)
    period = period_containing(anchor, interval, day)
    a, b = plan("a", old_price, quantity), plan("b", new_price, quantity)

    # when
    up = plan_change_lines(old=[a], new=[b], period=period, change_day=day)
    down = plan_change_lines(old=[b], new=[a], period=period, change_day=day)

    # then each line was rounded once, so the round trip is within one kopeck per line pair
    assert abs(total(up) + total(down)) <= D("0.01")


@given(
    price=st.decimals(min_value=0, max_value=100000, places=2),
    day_offset=st.integers(min_value=0, max_value=29),
)
def test_charged_part_never_exceeds_the_full_price(price, day_offset):
    day = NOV.start + dt.timedelta(days=day_offset)
    lines = plan_change_lines(old=[plan("free", "0")], new=[plan("p", price)], period=NOV, change_day=day)
    assert total(lines) <= price
