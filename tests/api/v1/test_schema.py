"""OpenAPI 3 schema and the docs page."""

from __future__ import annotations

import pytest
import yaml
from django.urls import URLPattern
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from billing.api import urls as api_urls
from plans.api import urls as plans_api_urls


@pytest.mark.django_db
def test_schema_is_valid_openapi_3_with_bearer_auth_and_idempotency_header():
    # when
    response = APIClient().get("/api/v1/schema/")

    # then
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate_schema(schema)  # raises on an invalid OpenAPI 3 document
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "API key",
        "description": "`Authorization: Bearer <api key>`. Keys are created in the admin and shown once.",
    }
    posts = {path: ops["post"] for path, ops in schema["paths"].items() if "post" in ops}
    assert set(posts) == {
        "/api/v1/customers/",
        "/api/v1/customers/{customer_id}/close/",
        "/api/v1/customers/{customer_id}/adjustments/",
        "/api/v1/transactions/{transaction_id}/reverse/",
        "/api/v1/subscriptions/",
        "/api/v1/subscriptions/{subscription_id}/change/",
        "/api/v1/subscriptions/{subscription_id}/cancel/",
        "/api/v1/subscriptions/{subscription_id}/pause/",
        "/api/v1/subscriptions/{subscription_id}/resume/",
        "/api/v1/subscriptions/{subscription_id}/options/",
        "/api/v1/subscriptions/{subscription_id}/options/{code}/remove/",
        "/api/v1/usage-events/",
        "/api/v1/documents/payment-invoices/",
        "/api/v1/customers/{customer_id}/top-ups/",
        "/api/v1/customers/{customer_id}/manual-payments/",
        "/api/v1/payments/{payment_id}/refunds/",
        "/api/v1/bank-statements/",
        "/api/v1/bank-transfers/{transfer_id}/assign/",
    }
    for path, op in posts.items():
        headers = {p["name"]: p for p in op["parameters"] if p["in"] == "header"}
        assert headers["Idempotency-Key"]["required"] is True, path
        assert "application/problem+json" in op["responses"]["400"]["content"], path
    listing = schema["paths"]["/api/v1/customers/"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"cursor", "limit", "status", "kind", "currency", "external_id", "inn", "email", "tag"} <= names
    assert {"cursor", "limit", "product", "currency", "public"} <= {
        p["name"] for p in schema["paths"]["/api/v1/plans/"]["get"]["parameters"]
    }
    assert {"cursor", "limit", "customer_id", "status", "plan"} <= {
        p["name"] for p in schema["paths"]["/api/v1/subscriptions/"]["get"]["parameters"]
    }
    assert {
        "/api/v1/products/",
        "/api/v1/products/{code}/",
        "/api/v1/plans/{code}/",
        "/api/v1/bundles/",
        "/api/v1/bundles/{code}/",
        "/api/v1/subscriptions/{subscription_id}/",
        "/api/v1/customers/{customer_id}/upcoming-charges/",
    } <= set(schema["paths"])
    create = schema["components"]["schemas"]["SubscriptionCreateInputRequest"]
    assert {"plan", "bundle"} <= set(create["properties"]) and "plan" not in create.get("required", [])


@pytest.mark.django_db
def test_docs_page_renders():
    # when
    response = APIClient().get("/api/v1/docs/")

    # then
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_every_post_view_is_idempotent():
    # given
    patterns = [*api_urls.urlpatterns, *plans_api_urls.urlpatterns]
    views = [p.callback.view_class for p in patterns if isinstance(p, URLPattern)]

    # then
    with_post = [view for view in views if hasattr(view, "post")]
    assert len(with_post) == 17
    for view in with_post:
        assert getattr(view.post, "idempotent", False), view.__name__
