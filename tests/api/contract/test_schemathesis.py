"""The API against its own OpenAPI schema (issue 10, item 5): schemathesis generates requests for every operation
from `/api/v1/schema/` and sends them to the live test server with a read-write key and a fresh Idempotency-Key.
No answer may be a 5xx, every status must be one the operation documents, and every body must match its schema.

Bounded and derandomized (the same examples on every run), so it is part of `make test`.
"""

from __future__ import annotations

import uuid

import pytest
import schemathesis
import schemathesis.openapi
import schemathesis.pytest
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.api.v1.catalog_fixtures import make_metric, make_option, make_plan, make_product

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHECKS = (not_a_server_error, status_code_conformance, response_schema_conformance)


@pytest.fixture
def api_schema(live_server, make_api_key, make_customer):
    # some data for the generated requests to find: a customer, a catalog
    make_customer(name="Schemathesis", external_id="st-1")
    crm = make_product("crm", "CRM")
    make_plan("start", "990.00", product=crm)
    make_option("backup", "150.00", product=crm)
    make_metric("api-calls")
    _key, raw = make_api_key(name="schemathesis")
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/")
    schema.config.update(base_url=live_server.url)
    schema.auth_header = f"Bearer {raw}"
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case, api_schema):
    headers = {"Authorization": api_schema.auth_header}
    if case.method.upper() == "POST":
        headers["Idempotency-Key"] = str(uuid.uuid4())
    case.call_and_validate(headers=headers, checks=CHECKS)
