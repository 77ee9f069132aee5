"""The hand-computed proration cases of the change services: each row a plan change and the lines it posts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tests.plans.support import msk, utc

PRODUCT = "crm"


@dataclass(frozen=True)
class Case:
    id: str
    start: dt.date  # subscription created at Moscow noon of this day
    old: tuple[str, str, int]  # (plan code, price, quantity)
    new: tuple[str, str, int]  # same code = quantity change on the same plan
    change: dt.date | dt.datetime  # a date = 15:00 Moscow time that day
    expected: list[tuple[str, str, str]]  # (line kind, ref, amount) in posting order
    renew_at: tuple[dt.date, ...] = ()  # billing runs (Moscow midnight) before the change
    interval: str = "month"
    options: tuple[tuple[str, str, int], ...] = ()  # recurring options kept across the change
    coupon: str | None = None  # percent, forever
    effective: dt.date | None = None  # the change's day in Moscow when `change` is an instant

    @property
    def at(self) -> dt.datetime:
        if isinstance(self.change, dt.datetime):
            return self.change
        return msk(self.change.year, self.change.month, self.change.day, 15)

    @property
    def day(self) -> dt.date:
        return self.effective or self.change


d = dt.date


CREDIT, CHARGE, DISCOUNT = "proration_credit", "proration_charge", "discount"


CASES = [
    # [Apr 1, May 1) 2027 = 30 days; Apr 16 → 15 left: 600 × 15/30 = 300.00, 1200 × 15/30 = 600.00
    Case(
        "upgrade mid-month",
        d(2027, 4, 1),
        ("basic", "600.00", 1),
        ("pro", "1200.00", 1),
        d(2027, 4, 16),
        [(CREDIT, "basic", "-300.00"), (CHARGE, "pro", "600.00")],
    ),
    # [Mar 1, Apr 1) 2027 = 31 days; Mar 12 → 20 left: 1550 × 20/31 = 1000.00, 620 × 20/31 = 400.00
    Case(
        "downgrade mid-month, 31-day March",
        d(2027, 3, 1),
        ("pro", "1550.00", 1),
        ("basic", "620.00", 1),
        d(2027, 3, 12),
        [(CREDIT, "pro", "-1000.00"), (CHARGE, "basic", "400.00")],
    ),
    # [May 1, Jun 1) 2027, changed on May 1 itself → 31/31: the whole period
    Case(
        "upgrade on the first day",
        d(2027, 5, 1),
        ("basic", "750.00", 1),
        ("pro", "1490.00", 1),
        d(2027, 5, 1),
        [(CREDIT, "basic", "-750.00"), (CHARGE, "pro", "1490.00")],
    ),
    # renewed by the run into [May 1, Jun 1), changed on May 1 → 31/31
    Case(
        "downgrade on the first day of a renewed period",
        d(2027, 4, 1),
        ("pro", "1240.00", 1),
        ("basic", "620.00", 1),
        d(2027, 5, 1),
        [(CREDIT, "pro", "-1240.00"), (CHARGE, "basic", "620.00")],
        renew_at=(d(2027, 5, 1),),
    ),
    # Apr 30 → 1/30: 999 / 30 = 33.30, 1998 / 30 = 66.60
    Case(
        "upgrade on the last day",
        d(2027, 4, 1),
        ("basic", "999.00", 1),
        ("pro", "1998.00", 1),
        d(2027, 4, 30),
        [(CREDIT, "basic", "-33.30"), (CHARGE, "pro", "66.60")],
    ),
    # [Feb 1, Mar 1) 2027 = 28 days; Feb 28 → 1/28: 2800 / 28 = 100.00, 1400 / 28 = 50.00
    Case(
        "downgrade on the last day of February 2027",
        d(2027, 2, 1),
        ("pro", "2800.00", 1),
        ("basic", "1400.00", 1),
        d(2027, 2, 28),
        [(CREDIT, "pro", "-100.00"), (CHARGE, "basic", "50.00")],
    ),
    # [Feb 10, Mar 10) 2027 = 28 days; Feb 24 → 14 left: 1000 × 14/28 = 500.00, 1700 × 14/28 = 850.00
    Case(
        "across February 2027",
        d(2027, 2, 10),
        ("basic", "1000.00", 1),
        ("pro", "1700.00", 1),
        d(2027, 2, 24),
        [(CREDIT, "basic", "-500.00"), (CHARGE, "pro", "850.00")],
    ),
    # [Feb 10, Mar 10) 2028 = 29 days; Feb 29 → 10 left: 10000/29 = 344.827… → 344.83, 17000/29 = 586.206… → 586.21
    Case(
        "across leap February 2028, on Feb 29",
        d(2028, 2, 10),
        ("basic", "1000.00", 1),
        ("pro", "1700.00", 1),
        d(2028, 2, 29),
        [(CREDIT, "basic", "-344.83"), (CHARGE, "pro", "586.21")],
    ),
    # [Feb 1, Mar 1) 2028 = 29 days; Feb 15 → 15 left: 580 × 15/29 = 300.00, 1160 × 15/29 = 600.00
    Case(
        "leap February 2028 mid-month",
        d(2028, 2, 1),
        ("basic", "580.00", 1),
        ("pro", "1160.00", 1),
        d(2028, 2, 15),
        [(CREDIT, "basic", "-300.00"), (CHARGE, "pro", "600.00")],
    ),
    # anchored Jan 31 2027, renewed into [Feb 28, Mar 31) = 31 days; Mar 15 → 16 left: 310 × 16/31, 620 × 16/31
    Case(
        "31st anchor, the period after February 2027",
        d(2027, 1, 31),
        ("basic", "310.00", 1),
        ("pro", "620.00", 1),
        d(2027, 3, 15),
        [(CREDIT, "basic", "-160.00"), (CHARGE, "pro", "320.00")],
        renew_at=(d(2027, 2, 28),),
    ),
    # anchored Jan 31 2028: [Jan 31, Feb 29) = 29 days; Feb 20 → 9 left: 290 × 9/29 = 90.00, 580 × 9/29 = 180.00
    Case(
        "31st anchor inside leap February 2028",
        d(2028, 1, 31),
        ("basic", "290.00", 1),
        ("pro", "580.00", 1),
        d(2028, 2, 20),
        [(CREDIT, "basic", "-90.00"), (CHARGE, "pro", "180.00")],
    ),
    # Apr 11 → 20/30: 3 × 450 = 1350 × 20/30 = 900.00; 7 × 450 = 3150 × 20/30 = 2100.00
    Case(
        "seats 3 → 7",
        d(2027, 4, 1),
        ("seat", "450.00", 3),
        ("seat", "450.00", 7),
        d(2027, 4, 11),
        [(CREDIT, "seat", "-900.00"), (CHARGE, "seat", "2100.00")],
    ),
    # Mar 17 → 15/31: 999.00 × 15/31 = 483.387… → 483.39; 399.60 × 15/31 = 193.354… → 193.35
    Case(
        "seats 10 → 4 at 99.90 in March",
        d(2027, 3, 1),
        ("seat", "99.90", 10),
        ("seat", "99.90", 4),
        d(2027, 3, 17),
        [(CREDIT, "seat", "-483.39"), (CHARGE, "seat", "193.35")],
    ),
    # Apr 21 → 10/30: 2 × 500 = 1000 × 10/30 = 333.333… → 333.33; 3 × 800 = 2400 × 10/30 = 800.00
    Case(
        "plan and seats together",
        d(2027, 4, 1),
        ("basic", "500.00", 2),
        ("pro", "800.00", 3),
        d(2027, 4, 21),
        [(CREDIT, "basic", "-333.33"), (CHARGE, "pro", "800.00")],
    ),
    # Apr 11 → 20/30: 1000 × 2/3 = 666.666… → 666.67; 2000 × 2/3 = 1333.333… → 1333.33; the option is untouched
    Case(
        "with a recurring option kept",
        d(2027, 4, 1),
        ("basic", "1000.00", 1),
        ("pro", "2000.00", 1),
        d(2027, 4, 11),
        [(CREDIT, "basic", "-666.67"), (CHARGE, "pro", "1333.33")],
        options=(("backup", "300.00", 2),),
    ),
    # Apr 16 → 15/30: -500.00 and +1000.00; 10% of each: +50.00 taken back, -100.00 granted
    Case(
        "10% coupon mid-month",
        d(2027, 4, 1),
        ("basic", "1000.00", 1),
        ("pro", "2000.00", 1),
        d(2027, 4, 16),
        [
            (CREDIT, "basic", "-500.00"),
            (CHARGE, "pro", "1000.00"),
            (DISCOUNT, "C", "50.00"),
            (DISCOUNT, "C", "-100.00"),
        ],
        coupon="10",
    ),
    # Mar 11 → 21/31: 1200 × 21/31 = 812.903… → 812.90; 2100 × 21/31 = 1422.580… → 1422.58;
    # 25% of the rounded lines: 203.225 → 203.23 and 355.645 → 355.65 (half up)
    Case(
        "25% coupon with seats, halves round up",
        d(2027, 3, 1),
        ("team", "400.00", 3),
        ("business", "700.00", 3),
        d(2027, 3, 11),
        [
            (CREDIT, "team", "-812.90"),
            (CHARGE, "business", "1422.58"),
            (DISCOUNT, "C", "203.23"),
            (DISCOUNT, "C", "-355.65"),
        ],
        coupon="25",
    ),
    # [Feb 1, Mar 1) 2027 = 28 days; Feb 15 → 14/28: -500.00, +1000.00, 20%: +100.00, -200.00; option untouched
    Case(
        "20% coupon and an option, February 2027",
        d(2027, 2, 1),
        ("basic", "1000.00", 1),
        ("pro", "2000.00", 1),
        d(2027, 2, 15),
        [
            (CREDIT, "basic", "-500.00"),
            (CHARGE, "pro", "1000.00"),
            (DISCOUNT, "C", "100.00"),
            (DISCOUNT, "C", "-200.00"),
        ],
        options=(("backup", "300.00", 1),),
        coupon="20",
    ),
    # Apr 30 → 1/30: 3000/30 = 100.00, 1500/30 = 50.00; 15%: +15.00, -7.50
    Case(
        "15% coupon, downgrade on the last day",
        d(2027, 4, 1),
        ("pro", "3000.00", 1),
        ("basic", "1500.00", 1),
        d(2027, 4, 30),
        [(CREDIT, "pro", "-100.00"), (CHARGE, "basic", "50.00"), (DISCOUNT, "C", "15.00"), (DISCOUNT, "C", "-7.50")],
        coupon="15",
    ),
    # Mar 22 → 10/31: 930 × 10/31 = 300.00; a free plan has nothing to credit
    Case(
        "free to paid",
        d(2027, 3, 1),
        ("free", "0.00", 1),
        ("pro", "930.00", 1),
        d(2027, 3, 22),
        [(CHARGE, "pro", "300.00")],
    ),
    Case(
        "paid to free",
        d(2027, 3, 1),
        ("pro", "930.00", 1),
        ("free", "0.00", 1),
        d(2027, 3, 22),
        [(CREDIT, "pro", "-300.00")],
    ),
    # Apr 30 → 1/30: 0.15/30 = 0.005 → 0.01 (away from zero on the credit too); 0.45/30 = 0.015 → 0.02
    Case(
        "ties round half up on both lines",
        d(2027, 4, 1),
        ("basic", "0.15", 1),
        ("pro", "0.45", 1),
        d(2027, 4, 30),
        [(CREDIT, "basic", "-0.01"), (CHARGE, "pro", "0.02")],
    ),
    # quarter [Jan 1, Apr 1) 2028 = 31 + 29 + 31 = 91 days; Feb 29 → 32 left: 9100 × 32/91 = 3200.00, 18200 × 32/91
    Case(
        "quarterly plan, leap day 2028",
        d(2028, 1, 1),
        ("basic", "9100.00", 1),
        ("pro", "18200.00", 1),
        d(2028, 2, 29),
        [(CREDIT, "basic", "-3200.00"), (CHARGE, "pro", "6400.00")],
        interval="quarter",
    ),
    # year [Jan 1 2028, Jan 1 2029) = 366 days; Jul 1 → 184 left: 36600 × 184/366 = 18400.00, 73200 × 184/366
    Case(
        "yearly plan in leap 2028",
        d(2028, 1, 1),
        ("basic", "36600.00", 1),
        ("pro", "73200.00", 1),
        d(2028, 7, 1),
        [(CREDIT, "basic", "-18400.00"), (CHARGE, "pro", "36800.00")],
        interval="year",
    ),
    # 2027-03-10T22:30Z is 11 March 01:30 in Moscow → 21/31: 3100 × 21/31 = 2100.00, 6200 × 21/31 = 4200.00
    Case(
        "late UTC evening is the next day in Moscow",
        d(2027, 3, 1),
        ("basic", "3100.00", 1),
        ("pro", "6200.00", 1),
        utc(2027, 3, 10, 22, 30),
        [(CREDIT, "basic", "-2100.00"), (CHARGE, "pro", "4200.00")],
        effective=d(2027, 3, 11),
    ),
]
