"""Check rules for Russian identifiers against the vectors in shared/domain/identifiers.md.

python-stdnum cross-checks ИНН (it is right there) and documents where its ОГРН check is wrong
for ОГРНИП (no `% 10` on the remainder).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.ru import inn as stdnum_inn
from stdnum.ru import ogrn as stdnum_ogrn

from billing.identifiers import (
    is_valid_account,
    is_valid_bik,
    is_valid_inn,
    is_valid_kpp,
    is_valid_ogrn,
    is_valid_ogrnip,
)


@pytest.mark.parametrize(
    "value",
    [
        "7701234560",  # ИНН10
        "5003123458",
        "7810123451",
        "771234567859",  # ИНН12
        "1234567894",  # stdnum doc vectors
        "123456789047",
    ],
)
def test_valid_inn(value):
    # given a ИНН whose check digits match
    # when / then
    assert is_valid_inn(value) is True
    assert stdnum_inn.is_valid(value) is True


@pytest.mark.parametrize(
    "value",
    [
        "7701234561",  # last digit off by one
        "123456789037",  # stdnum doc vector, 12 digits
        "1234567895",  # stdnum doc vector, 10 digits
        "",
        "770123456",  # 9 digits
        "77012345600",  # 11 digits
        "770123456O",  # a letter O in place of a zero
        "７７０１２３４５６０",  # full-width digits are not ASCII
    ],
)
def test_invalid_inn(value):
    # given a malformed ИНН or one with a wrong check digit
    # when / then
    assert is_valid_inn(value) is False


def test_inn12_checks_both_control_digits():
    # given a valid 12-digit ИНН and the same number with each control digit changed
    valid = "771234567859"
    eleventh_changed = "771234567869"
    twelfth_changed = "771234567858"

    # when / then
    assert is_valid_inn(valid) is True
    assert is_valid_inn(eleventh_changed) is False
    assert is_valid_inn(twelfth_changed) is False


DIGITS = "0123456789"


@given(st.text(alphabet=DIGITS, min_size=10, max_size=10) | st.text(alphabet=DIGITS, min_size=12, max_size=12))
@settings(max_examples=500, deadline=None)
def test_inn_agrees_with_stdnum_on_random_digits(value):
    # given a random 10- or 12-digit string
    # when / then our rule and stdnum's agree
    assert is_valid_inn(value) == stdnum_inn.is_valid(value)


@given(st.integers(min_value=0, max_value=10**9 - 1))
@settings(max_examples=300, deadline=None)
def test_every_10_digit_prefix_has_exactly_one_valid_inn(prefix):
    # given nine digits
    head = f"{prefix:09d}"

    # when every possible control digit is tried
    valid = [d for d in "0123456789" if is_valid_inn(head + d)]

    # then exactly one is valid, and stdnum agrees on it
    assert len(valid) == 1
    assert stdnum_inn.is_valid(head + valid[0])


def test_ogrn():
    # given the ОГРН vector and a one-digit change of its check digit
    # when / then
    assert is_valid_ogrn("1257700012349") is True
    assert stdnum_ogrn.is_valid("1257700012349") is True
    assert is_valid_ogrn("1257700012348") is False
    assert is_valid_ogrn("125770001234") is False  # 12 digits
    assert is_valid_ogrn("0257700012349") is False  # cannot start with 0


@pytest.mark.parametrize(
    ("value", "stdnum_accepts"),
    [
        ("325770000123459", True),  # remainder 9
        ("325770000123460", False),  # remainder 10 → digit 0: valid, but stdnum rejects it
        ("325770000123471", False),  # remainder 11 → 1
        ("325770000123482", False),  # remainder 12 → 2
    ],
)
def test_ogrnip_uses_remainder_mod_10(value, stdnum_accepts):
    # given a valid ОГРНИП
    # when / then our rule accepts it; stdnum (documented bug: no `% 10`) rejects remainders 10–12
    assert is_valid_ogrnip(value) is True
    assert stdnum_ogrn.is_valid(value) is stdnum_accepts


@pytest.mark.parametrize(
    "value",
    [
        "325770000123458",  # wrong check digit
        "325770000123450",  # remainder 9 but check digit 0
        "225770000123459",  # does not start with 3
        "32577000012345",  # 14 digits
        "1257700012349",  # an ОГРН is not an ОГРНИП
    ],
)
def test_invalid_ogrnip(value):
    # given / when / then
    assert is_valid_ogrnip(value) is False


@pytest.mark.parametrize("value", ["770101001", "7701AB001", "77010Z001", "7701A0001", "000000000"])
def test_valid_kpp(value):
    # given 4 digits + 2 digits or capital letters + 3 digits
    # when / then
    assert is_valid_kpp(value) is True


@pytest.mark.parametrize(
    "value", ["77010100", "7701010011", "7701ab001", "770101A01", "A70101001", "7701-1001", "", "7701АБ001"]
)
def test_invalid_kpp(value):
    # given too short/long, lower case, a letter outside positions 5–6, punctuation, Cyrillic letters
    # when / then
    assert is_valid_kpp(value) is False


def test_bik():
    # given / when / then
    assert is_valid_bik("044525225") is True
    assert is_valid_bik("014525225") is True  # treasury (УФК)
    assert is_valid_bik("144525225") is False
    assert is_valid_bik("04452522") is False


def test_settlement_account_with_bik():
    # given a valid р/с of a commercial organisation at БИК 044525901
    account, bik = "40702810700000012345", "044525901"

    # when / then it is valid, and every one-digit change of it is invalid
    assert is_valid_account(account, bik) is True
    for position in range(20):
        for digit in "0123456789":
            if digit == account[position]:
                continue
            changed = account[:position] + digit + account[position + 1 :]
            assert is_valid_account(changed, bik) is False, changed


def test_settlement_account_from_public_pair():
    # given МТС-Банк's public pair
    # when / then
    assert is_valid_account("40702810300000000640", "044525232") is True


def test_correspondent_account_uses_digits_5_and_6_of_bik():
    # given Сбербанк's correspondent account and БИК
    account, bik = "30101810400000000225", "044525225"

    # when / then it checks as a correspondent account, not as a settlement account
    assert is_valid_account(account, bik, correspondent=True) is True
    assert is_valid_account(account, bik) is False
    assert is_valid_account("30101810400000000226", bik, correspondent=True) is False


def test_account_requires_20_digits_and_a_valid_bik():
    # given / when / then
    assert is_valid_account("4070281070000001234", "044525901") is False
    assert is_valid_account("40702810700000012345", "144525901") is False
