"""The batch's fast paths give exactly what their reference definitions give: the content hash written out by hand
equals json.dumps of the canonical form (stored hashes stay comparable), and legs the quick check accepts are the
legs `_validate_legs` accepts unchanged. Pure: no database."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from billing.errors import InvalidPosting, UnbalancedTransaction
from billing.services.ledger import Leg, _content_hash, _content_hash_reference, _legs_valid_as_given, _validate_legs

MEMOS = [
    "",
    "Charge",
    "НДС",
    'quote " and \\ backslash',
    "tab\tnew\nline\x01",
    "emoji 🧾",
    "Plan × 2 (2026-01-01–2026-02-01)",
]


@pytest.mark.parametrize("seed", range(40))
def test_content_hash_equals_the_json_definition(seed):
    # given random legs (ties on the account, unicode and control characters in memos, amounts with many digits)
    rng = random.Random(seed)
    legs = [
        Leg(
            rng.choice([1, 2, 2, 17, 10**12]),
            Decimal(rng.choice(["100.00", "-83.33", "0.10", "1E+3", "-16.670", "12345678901234.5600"])),
            rng.choice(["RUB", "USD"]),
            rng.choice(MEMOS),
        )
        for _ in range(rng.randint(1, 6))
    ]
    kwargs = {
        "kind": rng.choice(["charge", "payment"]),
        "effective_date": dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 400)),
        "customer_id": rng.choice([None, 7, 10**9]),
        "legs": legs,
        "reverses_id": rng.choice([None, 3]),
    }
    # when / then
    assert _content_hash(**kwargs) == _content_hash_reference(**kwargs)


def _ok(legs):
    try:
        return _validate_legs(legs) == legs
    except (InvalidPosting, UnbalancedTransaction):
        return False


@pytest.mark.parametrize(
    "legs",
    [
        [Leg(1, Decimal("122.00"), "RUB"), Leg(2, Decimal("-100.00"), "RUB"), Leg(3, Decimal("-22.00"), "RUB")],
        [Leg(1, Decimal("10"), "RUB"), Leg(2, Decimal("-10"), "RUB")],
        [Leg(1, Decimal("1.000"), "RUB"), Leg(2, Decimal("-1.000"), "RUB")],  # valid, but cleaned by the slow path
        [Leg(1, Decimal("1.001"), "RUB"), Leg(2, Decimal("-1.001"), "RUB")],  # not rounded
        [Leg(1, Decimal("1.00"), "RUB"), Leg(2, Decimal("-0.99"), "RUB")],  # unbalanced
        [Leg(1, Decimal("0"), "RUB"), Leg(2, Decimal("0"), "RUB")],  # zero
        [Leg(1, Decimal("1.00"), "rub"), Leg(2, Decimal("-1.00"), "rub")],  # lower case: cleaned
        [Leg(1, Decimal("1.00"), "XXX"), Leg(2, Decimal("-1.00"), "XXX")],  # unknown currency
        [Leg(1, Decimal("NaN"), "RUB"), Leg(2, Decimal("1.00"), "RUB")],
        [Leg(1, Decimal("1.00"), "RUB")],  # one leg
        [Leg(1, Decimal("1.00"), "RUB", "x" * 256), Leg(2, Decimal("-1.00"), "RUB")],  # memo cut by the slow path
        [Leg(1, 1, "RUB"), Leg(2, -1, "RUB")],  # ints are not Decimals
    ],
)
def test_quick_leg_check_accepts_only_what_validation_keeps_unchanged(legs):
    # when the quick check accepts legs, then the full validation accepts them unchanged
    if _legs_valid_as_given(legs, {}):
        assert _ok(legs)
    # and legs the full validation refuses are never accepted by the quick check
    if not _ok(legs):
        assert not _legs_valid_as_given(legs, {})


def test_quick_leg_check_accepts_the_common_case():
    legs = [Leg(1, Decimal("122.00"), "RUB"), Leg(2, Decimal("-100.00"), "RUB"), Leg(3, Decimal("-22.00"), "RUB")]
    assert _legs_valid_as_given(legs, {})
