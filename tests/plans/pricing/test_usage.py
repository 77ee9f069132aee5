from decimal import Decimal as D

import pytest

from plans.pricing.charges import (
    ChargeLine,
    Discount,
    LineKind,
    Tier,
    UsageModel,
    UsagePrice,
    discount_lines,
    line,
    minimum_commitment_line,
    usage_amount,
)

GRADUATED = UsagePrice(
    UsageModel.GRADUATED, tiers=(Tier(D(100), D("1.00")), Tier(D(1000), D("0.50")), Tier(None, D("0.10")))
)
VOLUME = UsagePrice(
    UsageModel.VOLUME, tiers=(Tier(D(100), D("1.00")), Tier(D(1000), D("0.50"), D(10)), Tier(None, D("0.10")))
)


@pytest.mark.parametrize(
    ("price", "quantity", "expected"),
    [
        (UsagePrice(UsageModel.PER_UNIT, unit_price=D("0.35")), D(0), D(0)),
        (UsagePrice(UsageModel.PER_UNIT, unit_price=D("0.35")), D(1000), D("350.00")),
        (UsagePrice(UsageModel.PER_UNIT, unit_price=D("0.35"), included=D(100)), D(99), D(0)),
        (UsagePrice(UsageModel.PER_UNIT, unit_price=D("0.35"), included=D(100)), D(1000), D("315.00")),
        (GRADUATED, D(50), D("50.00")),
        (GRADUATED, D(100), D("100.00")),
        (GRADUATED, D(101), D("100.50")),
        (GRADUATED, D(1500), D("100") + D("450") + D("50")),  # 100*1 + 900*0.5 + 500*0.1
        (VOLUME, D(100), D("100.00")),
        (VOLUME, D(101), D("60.50")),  # all 101 at 0.50 + 10 flat
        (VOLUME, D(5000), D("500.00")),
        (UsagePrice(UsageModel.PACKAGE, package_size=D(1000), package_price=D("5")), D(1), D(5)),
        (UsagePrice(UsageModel.PACKAGE, package_size=D(1000), package_price=D("5")), D(1000), D(5)),
        (UsagePrice(UsageModel.PACKAGE, package_size=D(1000), package_price=D("5")), D(1001), D(10)),
        (UsagePrice(UsageModel.PACKAGE, package_size=D(1000), package_price=D("5"), included=D(500)), D(1500), D(5)),
    ],
)
def test_usage_amount(price, quantity, expected):
    assert usage_amount(price, quantity) == expected


def test_negative_usage_is_refused():
    with pytest.raises(ValueError):
        usage_amount(GRADUATED, D(-1))


def test_tiers_must_increase():
    with pytest.raises(ValueError):
        UsagePrice(UsageModel.GRADUATED, tiers=(Tier(None, D(1)), Tier(D(10), D(1))))


def test_lines_are_rounded_once_half_up():
    assert line(LineKind.USAGE, "u", D("0.005"), "RUB").amount == D("0.01")
    with pytest.raises(ValueError):
        ChargeLine(LineKind.USAGE, "u", D("0.005"), "RUB")


def test_fixed_discount_never_exceeds_its_base_and_percent_is_per_line():
    charges = [
        line(LineKind.PLAN, "Plan", D("300"), "RUB", ref="p"),
        line(LineKind.OPTION, "Opt", D("33.33"), "RUB", ref="o"),
    ]
    fixed = discount_lines([Discount("BIG", fixed=D(1000))], charges)
    assert [x.amount for x in fixed] == [D("-333.33")]
    percent = discount_lines([Discount("P", percent=D("12.5"), applies_to=frozenset({"o"}))], charges)
    assert [x.amount for x in percent] == [D("-4.17")]  # 33.33 * 0.125 = 4.16625


def test_minimum_commitment_tops_up_the_shortfall():
    charges = [line(LineKind.USAGE, "u", D("120.40"), "RUB")]
    assert minimum_commitment_line(charges, D(500), "RUB").amount == D("379.60")
    assert minimum_commitment_line(charges, D(100), "RUB") is None
