"""Authentication (Bearer API keys) and scopes."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from billing.models import ApiKey
from billing.services.api_keys import api_key_revoke
from tests.api.helpers import assert_problem, post, row_counts

CUSTOMERS = "/api/v1/customers/"


@pytest.mark.django_db
def test_no_authorization_header_is_401_problem():
    # given
    client = APIClient()

    # when
    response = client.get(CUSTOMERS)

    # then
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Bearer bk_not-a-real-key", "Token abc", "Bearer", "Bearer a b"])
def test_unknown_key_or_malformed_header_is_401(header):
    # given
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    # when
    response = client.get(CUSTOMERS)

    # then
    body = assert_problem(response, 401)
    assert body["code"] in ("invalid_api_key", "invalid_auth_header")


def test_revoked_key_is_401(make_api_key):
    # given
    api_key, raw = make_api_key()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(CUSTOMERS).status_code == 200
    api_key_revoke(api_key_id=api_key.pk)

    # when
    response = client.get(CUSTOMERS)

    # then
    assert_problem(response, 401, "invalid_api_key")


def test_key_is_stored_hashed_and_last_use_recorded(make_api_key):
    # given
    api_key, raw = make_api_key()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    # when
    response = client.get(CUSTOMERS)

    # then
    assert response.status_code == 200
    api_key.refresh_from_db()
    assert raw not in (api_key.key_hash, api_key.prefix)
    assert raw.startswith(api_key.prefix)
    assert api_key.last_used_at is not None


def test_read_key_can_read(read_api, customer):
    # when
    listed = read_api.get(CUSTOMERS)
    one = read_api.get(f"{CUSTOMERS}{customer.pk}/")
    balance = read_api.get(f"{CUSTOMERS}{customer.pk}/balance/")

    # then
    assert [listed.status_code, one.status_code, balance.status_code] == [200, 200, 200]


@pytest.mark.parametrize(
    "path, body",
    [
        ("", {"name": "New", "currency": "RUB"}),
        ("{id}/close/", {}),
        ("{id}/adjustments/", {"direction": "credit", "amount": "10.00", "reason": "gift"}),
    ],
)
def test_read_key_cannot_post_and_nothing_is_written(read_api, customer, path, body):
    # given
    before = row_counts()

    # when
    response = post(read_api, CUSTOMERS + path.format(id=customer.pk), body)

    # then
    assert_problem(response, 403, "insufficient_scope")
    assert row_counts() == before


def test_read_key_cannot_patch(read_api, customer):
    # when
    response = read_api.patch(f"{CUSTOMERS}{customer.pk}/", {"name": "Renamed"}, format="json")

    # then
    assert_problem(response, 403, "insufficient_scope")
    customer.refresh_from_db()
    assert customer.name == "Acme"


def test_read_key_cannot_reverse(make_client, api, customer):
    # given
    credit = post(
        api, f"{CUSTOMERS}{customer.pk}/adjustments/", {"direction": "credit", "amount": "5.00", "reason": "gift"}
    ).json()
    reader = make_client(scope=ApiKey.Scope.READ)
    before = row_counts()

    # when
    response = post(reader, f"/api/v1/transactions/{credit['id']}/reverse/", {"reason": "oops"})

    # then
    assert_problem(response, 403, "insufficient_scope")
    assert row_counts() == before
