"""Helpers for API tests: idempotent POST, row counts, problem+json assertions, valid requisites."""

from __future__ import annotations

import uuid

from rest_framework.test import APIClient

from billing.models import Customer, Entry, Event, IdempotencyRecord, Transaction
from config.api.problems import PROBLEM_CONTENT_TYPE


def post(client: APIClient, url: str, data=None, *, key: str | None = None, **extra):
    """POST JSON with a fresh Idempotency-Key unless one is given."""
    return client.post(
        url, data if data is not None else {}, format="json", HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()), **extra
    )


def post_raw(client: APIClient, url: str, body: str, *, content_type: str = "application/json", key: str | None = None):
    return client.generic("POST", url, body, content_type=content_type, HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()))


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (Customer, Transaction, Entry, Event, IdempotencyRecord)}


def assert_problem(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    """A problem+json answer with the status, the problem code and (when given) an error on the field."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM_CONTENT_TYPE)
    body = response.json()
    assert body["status"] == status
    assert set(body) >= {"type", "title", "status", "detail", "code", "errors"}
    if code is not None:
        assert body["code"] == code, body
    if field is not None:
        fields = {error["field"] for error in body["errors"]}
        assert field in fields, body
        for error in body["errors"]:
            assert set(error) == {"field", "code", "message"}
            assert error["message"]
    return body


LEGAL_ENTITY = {
    "kind": "legal_entity",
    "name": "Romashka",
    "legal_name": "ООО «Ромашка»",
    "inn": "7701234560",
    "kpp": "770101001",
    "ogrn": "1257700012349",
    "currency": "RUB",
}
SOLE_PROPRIETOR = {
    "kind": "sole_proprietor",
    "name": "IP Ivanov",
    "inn": "771234567859",
    "ogrn": "325770000123460",
    "currency": "RUB",
}
