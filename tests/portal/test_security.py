"""The portal answers only for the signed-in customer: every URL with another customer's ids is a 404; every form
needs its CSRF token; nobody frames an ordinary portal page; an error shows no stack trace."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import URLPattern

from billing.models import Payment, Transaction
from documents.services.payment_invoices import payment_invoice_issue
from portal.urls import urlpatterns
from tests.portal.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def foreign_ids(world):
    """Ids of the other customer's things, by URL parameter name."""
    invoice = payment_invoice_issue(customer_id=world.other.pk, amount=Decimal("100.00"), key="other-invoice")
    return {"subscription_id": world.other_sub.pk, "document_id": invoice.pk, "member_id": world.other_owner.pk}


def _patterns_with_ids():
    for pattern in urlpatterns:
        assert isinstance(pattern, URLPattern)
        params = list(pattern.pattern.converters)
        if params:
            yield pattern, params


def test_every_url_with_another_customers_id_answers_404(world, owner_client, foreign_ids):
    walked = []
    before = (Transaction.objects.count(), Payment.objects.count())
    for pattern, params in _patterns_with_ids():
        if set(params) == TOKEN_PARAMS:
            continue  # the emailed links: test_an_emailed_link_of_another_user_with_a_guessed_token_is_refused
        assert set(params) <= set(foreign_ids), f"no foreign id for {pattern.name}: {params}"
        path = "/portal/" + str(pattern.pattern)
        for name in params:
            path = path.replace(f"<int:{name}>", str(foreign_ids[name]))
        for method in ("get", "post"):
            response = getattr(owner_client, method)(path, {"plan": "pro", "option": "backup", "role": "viewer"})
            assert response.status_code in (404, 405), (method, path, response.status_code)
            walked.append((method, path, response.status_code))
    assert sum(1 for _, _, status in walked if status == 404) >= 9
    assert (Transaction.objects.count(), Payment.objects.count()) == before


TOKEN_PARAMS = {"uidb64", "token"}


def test_an_emailed_link_of_another_user_with_a_guessed_token_is_refused(world, owner_client):
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    uid = urlsafe_base64_encode(force_bytes(world.other_owner.user_id))
    links = [p for p, params in _patterns_with_ids() if set(params) == TOKEN_PARAMS]
    assert {p.name for p in links} == {"link-sign-in", "password-set"}
    for pattern in links:
        path = "/portal/" + str(pattern.pattern).replace("<uidb64>", uid).replace("<token>", "dj4173-0123456789abcdef")
        assert (
            owner_client.post(path, {"new_password1": "Xx-123456789", "new_password2": "Xx-123456789"}).status_code
            == 400
        )
    assert owner_client.get("/portal/").context["request"].portal.customer == world.acme


def test_the_owners_own_ids_work_where_the_foreign_ones_do_not(world, owner_client):
    assert owner_client.get(f"/portal/subscriptions/{world.sub.pk}/change/?plan=pro").status_code == 200
    assert owner_client.get(f"/portal/subscriptions/{world.other_sub.pk}/change/?plan=pro").status_code == 404


def test_ids_that_are_not_numbers_are_404(owner_client):
    assert owner_client.get("/portal/documents/abc/pdf/").status_code == 404
    assert owner_client.get("/portal/documents/99999999999999999999/pdf/").status_code == 404


def test_every_form_needs_its_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    login_page = client.get("/portal/login/")
    token = login_page.cookies["csrftoken"].value
    assert client.post("/portal/login/", {"email": "owner@acme.test", "password": "x"}).status_code == 403
    signed = client.post(
        "/portal/login/", {"email": "owner@acme.test", "password": "Correct-horse-42", "csrfmiddlewaretoken": token}
    )
    assert signed.status_code == 302
    before = Payment.objects.count()
    assert client.post("/portal/topup/", {"amount": "100", "method": "card"}).status_code == 403
    assert client.post(f"/portal/subscriptions/{world.sub.pk}/cancel/").status_code == 403
    assert Payment.objects.count() == before


def test_an_ordinary_portal_page_cannot_be_framed(owner_client):
    response = owner_client.get("/portal/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_the_session_cookie_is_http_only(world):
    client = Client()
    login(client, "owner@acme.test")
    cookie = client.cookies["sessionid"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_production_cookies_are_secure(monkeypatch):
    """The base settings with DEBUG off (production): secure session and CSRF cookies."""
    import importlib

    import config.settings.base as base

    monkeypatch.setenv("DEBUG", "False")
    monkeypatch.setenv("SECRET_KEY", "x" * 50)
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    monkeypatch.delenv("CSRF_COOKIE_SECURE", raising=False)
    try:
        reloaded = importlib.reload(base)
        assert reloaded.SESSION_COOKIE_SECURE and reloaded.CSRF_COOKIE_SECURE
    finally:
        monkeypatch.undo()
        importlib.reload(base)


def test_an_error_shows_no_stack_trace(world, monkeypatch):
    import portal.views.account as account

    def broken(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(account, "customer_balance", broken)
    client = Client(raise_request_exception=False)
    login(client, "owner@acme.test")
    response = client.get("/portal/")
    assert response.status_code == 500
    assert "secret internals" not in response.content.decode() and "Traceback" not in response.content.decode()
    assert "Server error" in response.content.decode()


def test_the_site_root_leads_to_the_portal(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/portal/"
