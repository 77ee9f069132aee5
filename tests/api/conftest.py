"""API fixtures: keys made through the api_keys service and clients authenticated with them."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from billing.models import ApiKey, Customer
from billing.services.api_keys import api_key_create


@pytest.fixture
def make_api_key(db):
    def make(*, scope: str = ApiKey.Scope.READ_WRITE, customer: Customer | None = None, name: str = "test key"):
        return api_key_create(name=name, scope=scope, customer_id=customer.pk if customer else None)

    return make


@pytest.fixture
def make_client(make_api_key):
    def make(*, scope: str = ApiKey.Scope.READ_WRITE, customer: Customer | None = None) -> APIClient:
        _api_key, raw = make_api_key(scope=scope, customer=customer)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return make


@pytest.fixture
def api(make_client) -> APIClient:
    """A read-write client for every customer."""
    return make_client()


@pytest.fixture
def read_api(make_client) -> APIClient:
    return make_client(scope=ApiKey.Scope.READ)
