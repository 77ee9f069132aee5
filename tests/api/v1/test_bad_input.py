"""Bad input on every POST (and PATCH) → 4xx problem+json with field errors, and nothing written."""

from __future__ import annotations

import pytest

from billing.models import Customer
from tests.api.helpers import LEGAL_ENTITY, SOLE_PROPRIETOR, assert_problem, post, post_raw, row_counts

CUSTOMERS = "/api/v1/customers/"
CREDIT = {"direction": "credit", "amount": "10.00", "reason": "gift"}


@pytest.mark.parametrize(
    "changes, field, code",
    [
        ({"amount": "abc"}, "amount", "invalid"),
        ({"amount": "-5.00"}, "amount", "not_positive"),
        ({"amount": "0"}, "amount", "not_positive"),
        ({"amount": "0.00"}, "amount", "not_positive"),
        ({"amount": -5}, "amount", "not_positive"),
        ({"amount": "1.23456"}, "amount", "max_decimal_places"),
        ({"amount": "NaN"}, "amount", "invalid"),
        ({"amount": "Infinity"}, "amount", "invalid"),
        ({"amount": "1e400"}, "amount", "max_digits"),
        ({"amount": "123456789012345678.00"}, "amount", "max_digits"),
        ({"amount": True}, "amount", "invalid"),
        ({"amount": ["1"]}, "amount", "invalid"),
        ({"amount": {"value": "1"}}, "amount", "invalid"),
        ({"amount": None}, "amount", "null"),
        ({"amount": ""}, "amount", "invalid"),
        ({"currency": "ZZZ"}, "currency", "unknown_currency"),
        ({"currency": 643}, "currency", "unknown_currency"),
        ({"currency": "RUBLES"}, "currency", "unknown_currency"),
        ({"direction": "sideways"}, "direction", "invalid_choice"),
        ({"direction": 1}, "direction", "invalid_choice"),
        ({"reason": ""}, "reason", "blank"),
        ({"reason": "   "}, "reason", "blank"),
        ({"reason": ["a"]}, "reason", "invalid"),
        ({"effective_date": "yesterday"}, "effective_date", "invalid"),
        ({"effective_date": "2025-02-30"}, "effective_date", "invalid"),
        ({"surprise": 1}, "surprise", "unknown_field"),
    ],
)
def test_adjustment_field_errors(api, customer, changes, field, code):
    # given
    before = row_counts()

    # when
    response = post(api, f"{CUSTOMERS}{customer.pk}/adjustments/", {**CREDIT, **changes})

    # then
    body = assert_problem(response, 400, "validation_error", field=field)
    assert code in {e["code"] for e in body["errors"] if e["field"] == field}, body
    assert row_counts() == before


@pytest.mark.parametrize("missing", ["direction", "amount", "reason"])
def test_adjustment_missing_fields(api, customer, missing):
    # given
    before = row_counts()
    body = {k: v for k, v in CREDIT.items() if k != missing}

    # when
    response = post(api, f"{CUSTOMERS}{customer.pk}/adjustments/", body)

    # then
    problem = assert_problem(response, 400, "validation_error", field=missing)
    assert problem["errors"][0]["code"] == "required"
    assert row_counts() == before


def test_adjustment_more_decimals_than_the_currency_has_is_refused(api, customer):
    # given: 4 places pass the field, RUB has 2 (the ledger accepts only rounded amounts)
    before = row_counts()

    # when
    response = post(api, f"{CUSTOMERS}{customer.pk}/adjustments/", {**CREDIT, "amount": "10.005"})

    # then
    assert_problem(response, 422, "invalid_posting", field="amount")
    assert row_counts() == before


@pytest.mark.parametrize("path", ["", "{id}/close/", "{id}/adjustments/"])
@pytest.mark.parametrize(
    "raw, content_type, status, code",
    [
        ('{"name": "Acme", ', "application/json", 400, "malformed_request"),
        ("not json at all", "application/json", 400, "malformed_request"),
        ('{"amount": NaN}', "application/json", 400, "malformed_request"),
        ("name=Acme", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("[1, 2]", "application/json", 400, "validation_error"),
        ('"a string"', "application/json", 400, "validation_error"),
    ],
)
def test_malformed_or_wrongly_shaped_body_on_every_post(api, customer, path, raw, content_type, status, code):
    # given
    before = row_counts()

    # when
    response = post_raw(api, CUSTOMERS + path.format(id=customer.pk), raw, content_type=content_type)

    # then
    assert_problem(response, status, code)
    assert row_counts() == before


def test_reverse_bad_input(api, customer):
    # given
    credit = post(api, f"{CUSTOMERS}{customer.pk}/adjustments/", CREDIT).json()
    before = row_counts()

    # when
    wrong_type = post(api, f"/api/v1/transactions/{credit['id']}/reverse/", {"reason": {"x": 1}})
    unknown = post(api, f"/api/v1/transactions/{credit['id']}/reverse/", {"why": "x"})
    malformed = post_raw(api, f"/api/v1/transactions/{credit['id']}/reverse/", "{")

    # then
    assert_problem(wrong_type, 400, "validation_error", field="reason")
    assert_problem(unknown, 400, "validation_error", field="why")
    assert_problem(malformed, 400, "malformed_request")
    assert row_counts() == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({"currency": "RUB"}, "name"),
        ({"name": "Acme"}, "currency"),
        ({"name": "", "currency": "RUB"}, "name"),
        ({"name": "Acme", "currency": "ZZZ"}, "currency"),
        ({"name": "Acme", "currency": None}, "currency"),
        ({"name": 42.5, "currency": "RUB"}, None),  # a number is coerced to a name: no error expected here
        ({"name": "Acme", "currency": "RUB", "kind": "robot"}, "kind"),
        ({"name": "Acme", "currency": "RUB", "country": "Russia"}, "country"),
        ({"name": "Acme", "currency": "RUB", "credit_limit": "-1"}, "credit_limit"),
        ({"name": "Acme", "currency": "RUB", "credit_limit": "lots"}, "credit_limit"),
        ({"name": "Acme", "currency": "RUB", "credit_limit": 1.5e300}, "credit_limit"),
        ({"name": "Acme", "currency": "RUB", "billing_emails": "a@b.ru"}, "billing_emails"),
        ({"name": "Acme", "currency": "RUB", "billing_emails": ["not-an-email"]}, "billing_emails.0"),
        ({"name": "Acme", "currency": "RUB", "tags": "vip"}, "tags"),
        ({"name": "Acme", "currency": "RUB", "tags": ["x" * 65]}, "tags.0"),
        ({"name": "Acme", "currency": "RUB", "metadata": ["a"]}, "metadata"),
        ({"name": "Acme", "currency": "RUB", "timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "Acme", "currency": "RUB", "status": "closed"}, "status"),
        ({**LEGAL_ENTITY, "inn": "7701234561"}, "inn"),
        ({**LEGAL_ENTITY, "inn": "77012345"}, "inn"),
        ({**LEGAL_ENTITY, "inn": "77O1234560"}, "inn"),
        ({**LEGAL_ENTITY, "kpp": "77010100"}, "kpp"),
        ({**LEGAL_ENTITY, "kpp": ""}, "kpp"),
        ({**LEGAL_ENTITY, "ogrn": "1257700012348"}, "ogrn"),
        ({**LEGAL_ENTITY, "inn": "771234567859"}, "inn"),
        ({**SOLE_PROPRIETOR, "ogrn": "325770000123461"}, "ogrn"),
        ({**SOLE_PROPRIETOR, "kpp": "770101001"}, "kpp"),
        ({**SOLE_PROPRIETOR, "inn": "7701234560"}, "inn"),
    ],
)
def test_create_customer_field_errors(api, body, field):
    # given
    before = row_counts()

    # when
    response = post(api, CUSTOMERS, body)

    # then
    if field is None:
        assert response.status_code == 201, response.content
        return
    assert_problem(response, 400, "validation_error", field=field)
    assert row_counts() == before


@pytest.mark.parametrize(
    "body, field, code",
    [
        ({**LEGAL_ENTITY, "inn": "7701234561"}, "inn", "invalid_checksum"),
        ({**LEGAL_ENTITY, "kpp": ""}, "kpp", "required"),
        ({**SOLE_PROPRIETOR, "kpp": "770101001"}, "kpp", "not_allowed"),
        ({"name": "Acme", "currency": "RUB", "timezone": "Mars/Olympus"}, "timezone", "invalid_timezone"),
    ],
)
def test_model_validation_errors_keep_their_codes(api, body, field, code):
    # when the model's own validation refuses the customer
    response = post(api, CUSTOMERS, body)

    # then the problem names the field with the model's error code, not a generic "invalid"
    problem = assert_problem(response, 400, "validation_error", field=field)
    assert [e["code"] for e in problem["errors"] if e["field"] == field] == [code]


def test_create_duplicate_external_id_is_field_error_and_nothing_written(api, make_customer):
    # given
    make_customer(name="A", external_id="crm-7")
    before = row_counts()

    # when
    response = post(api, CUSTOMERS, {"name": "B", "currency": "RUB", "external_id": "crm-7"})

    # then
    body = assert_problem(response, 400, "validation_error", field="external_id")
    assert body["errors"][0]["code"] == "unique"
    assert row_counts() == before
    assert Customer.objects.filter(external_id="crm-7").count() == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": ""}, "name"),
        ({"kpp": "ABC"}, "kpp"),
        ({"billing_emails": ["x"]}, "billing_emails.0"),
        ({"credit_limit": "-0.01"}, "credit_limit"),
        ({"timezone": "Nowhere"}, "timezone"),
        ({"nickname": "x"}, "nickname"),
    ],
)
def test_patch_field_errors_write_nothing(api, customer, body, field):
    # given
    before = row_counts()

    # when
    response = api.patch(f"{CUSTOMERS}{customer.pk}/", body, format="json")

    # then
    assert_problem(response, 400, "validation_error", field=field)
    assert row_counts() == before
    customer.refresh_from_db()
    assert customer.name == "Acme"
