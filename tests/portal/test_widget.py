"""The widget: a SaaS's back end signs a short-lived token; the portal opens a session for that customer only, framed
only by the API key's origins; every bad token is refused and opens nothing."""

from __future__ import annotations

import time

import jwt
import pytest
from django.test import Client

from billing.models import ApiKey, Payment
from billing.services.api_keys import api_key_create, api_key_revoke
from billing.services.portal_access import api_key_widget_origins_set, api_key_widget_secret_rotate
from portal.widget import widget_token_sign

pytestmark = pytest.mark.django_db
ORIGIN = "https://app.example.com"


@pytest.fixture
def key(world) -> ApiKey:
    api_key, _ = api_key_create(name="saas", scope="read_write")
    api_key_widget_secret_rotate(api_key_id=api_key.pk)
    api_key_widget_origins_set(api_key_id=api_key.pk, origins=[ORIGIN + "/", "http://localhost:3000"])
    return ApiKey.objects.get(pk=api_key.pk)


def _open(token: str, client: Client | None = None, next_: str = ""):
    client = client or Client()
    response = client.get("/portal/widget/", {"token": token, **({"next": next_} if next_ else {})})
    return client, response


def test_origins_are_normalised_and_checked(key):
    assert key.widget_origins == [ORIGIN, "http://localhost:3000"]
    from billing.errors import PortalUserInvalid

    for bad in ("app.example.com", "https://app.example.com/path", "ftp://x.test", "https://u:p@x.test"):
        with pytest.raises(PortalUserInvalid):
            api_key_widget_origins_set(api_key_id=key.pk, origins=[bad])


def test_a_valid_token_opens_the_customers_portal_framed_by_the_keys_origins_only(world, key):
    client, response = _open(widget_token_sign(api_key=key, external_id="acme-1", origin=ORIGIN, role="owner"))
    assert response.status_code == 302 and response["Location"] == "/portal/"
    cookie = response.cookies["sessionid"]
    assert cookie["samesite"] == "None" and cookie["secure"] and cookie["partitioned"]  # kept inside the SaaS page
    page = client.get("/portal/")
    assert page.status_code == 200 and "Acme" in page.content.decode()
    assert page["Content-Security-Policy"] == f"frame-ancestors {ORIGIN} http://localhost:3000"
    assert "X-Frame-Options" not in page
    # the customer's only: another customer's subscription is a 404
    assert client.get(f"/portal/subscriptions/{world.other_sub.pk}/change/?plan=pro").status_code == 404


def test_the_language_switch_inside_the_widget_sets_a_cookie_the_frame_keeps(world, key):
    # given a widget session (a page framed by the SaaS's own site)
    client, _ = _open(widget_token_sign(api_key=key, external_id="acme-1", origin=ORIGIN))

    # when the customer switches the portal to English
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/portal/"})

    # then the language cookie is one a cross-site frame keeps, and the portal answers in English
    assert response.status_code == 302
    cookie = response.cookies["billing_language"]
    assert cookie.value == "en"
    assert cookie["samesite"] == "None" and cookie["secure"] and cookie["partitioned"]
    assert 'lang="en"' in client.get("/portal/").content.decode()


def test_the_language_switch_outside_a_widget_keeps_the_default_cookie(world, owner_client):
    response = owner_client.post("/i18n/setlang/", {"language": "en", "next": "/portal/"})
    assert response.status_code == 302
    assert response.cookies["billing_language"]["samesite"] != "None"
    assert not response.cookies["billing_language"]["partitioned"]


def test_the_widget_opens_the_page_asked_for_on_the_portal_only(world, key):
    token = widget_token_sign(api_key=key, external_id="acme-1", origin=ORIGIN)
    assert _open(token, next_="/portal/topup/")[1]["Location"] == "/portal/topup/"
    assert _open(token, next_="https://evil.test/")[1]["Location"] == "/portal/"
    assert _open(token, next_="//evil.test/portal/")[1]["Location"] == "/portal/"


def test_a_widget_session_has_the_tokens_role_and_never_manages_users(world, key):
    client, _ = _open(widget_token_sign(api_key=key, external_id="acme-1", origin=ORIGIN))
    assert client.get("/portal/topup/").status_code == 200  # the default role: accountant
    assert client.post(f"/portal/subscriptions/{world.sub.pk}/cancel/").status_code == 403
    owner, _ = _open(widget_token_sign(api_key=key, external_id="acme-1", origin=ORIGIN, role="owner"))
    assert owner.post("/portal/profile/users/", {"email": "x@acme.test", "role": "viewer"}).status_code == 403
    viewer, _ = _open(widget_token_sign(api_key=key, external_id="acme-1", origin=ORIGIN, role="viewer"))
    assert viewer.get("/portal/topup/").status_code == 403


def _claims(**changes):
    now = int(time.time())
    claims = {"sub": "acme-1", "origin": ORIGIN, "iat": now, "exp": now + 300}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda key: jwt.encode(_claims(exp=int(time.time()) - 120), key.widget_secret, headers={"kid": key.prefix}),
            id="expired",
        ),
        pytest.param(
            lambda key: jwt.encode(
                _claims(exp=int(time.time()) + 3600), key.widget_secret, headers={"kid": key.prefix}
            ),
            id="too-long-lived",
        ),
        pytest.param(
            lambda key: jwt.encode(_claims(origin="https://evil.test"), key.widget_secret, headers={"kid": key.prefix}),
            id="foreign-origin",
        ),
        pytest.param(
            lambda key: jwt.encode(_claims(origin=None), key.widget_secret, headers={"kid": key.prefix}), id="no-origin"
        ),
        pytest.param(
            lambda key: jwt.encode(_claims(sub="other-1x"), key.widget_secret, headers={"kid": key.prefix}),
            id="unknown-customer",
        ),
        pytest.param(
            lambda key: jwt.encode(_claims(role="admin"), key.widget_secret, headers={"kid": key.prefix}),
            id="unknown-role",
        ),
        pytest.param(
            lambda key: jwt.encode(_claims(), "ws_" + "not-the-secret" * 5, headers={"kid": key.prefix}),
            id="wrong-secret",
        ),
        pytest.param(
            lambda key: jwt.encode(_claims(), key.widget_secret, headers={"kid": "bk_unknown"}), id="unknown-kid"
        ),
        pytest.param(
            lambda key: jwt.encode(_claims(), key.widget_secret * 2, algorithm="HS512", headers={"kid": key.prefix}),
            id="other-algorithm",
        ),
        pytest.param(
            lambda key: jwt.encode(_claims(), None, algorithm="none", headers={"kid": key.prefix}), id="alg-none"
        ),
        pytest.param(
            lambda key: widget_token_sign(api_key=key, external_id="acme-1", origin=ORIGIN)[:-4] + "AAAA", id="tampered"
        ),
        pytest.param(lambda key: "not.a.token", id="garbage"),
    ],
)
def test_a_bad_token_is_refused_and_opens_nothing(world, key, make):
    client, response = _open(make(key))
    assert response.status_code == 403
    assert "cannot be opened" in response.content.decode()
    assert client.get("/portal/").status_code == 302  # no session


def test_a_revoked_key_or_a_rotated_secret_ends_its_tokens(world, key):
    token = widget_token_sign(api_key=key, external_id="acme-1", origin=ORIGIN)
    api_key_widget_secret_rotate(api_key_id=key.pk)
    assert _open(token)[1].status_code == 403
    key.refresh_from_db()
    token = widget_token_sign(api_key=key, external_id="acme-1", origin=ORIGIN)
    api_key_revoke(api_key_id=key.pk)
    assert _open(token)[1].status_code == 403


def test_a_key_restricted_to_one_customer_opens_only_that_one(world):
    api_key, _ = api_key_create(name="acme only", scope="read", customer_id=world.acme.pk)
    api_key_widget_secret_rotate(api_key_id=api_key.pk)
    api_key_widget_origins_set(api_key_id=api_key.pk, origins=[ORIGIN])
    api_key.refresh_from_db()
    assert _open(widget_token_sign(api_key=api_key, external_id="acme-1", origin=ORIGIN))[1].status_code == 302
    assert _open(widget_token_sign(api_key=api_key, external_id="other-1", origin=ORIGIN))[1].status_code == 403


def test_the_summary_gives_the_badge_its_balance_with_cors_for_the_tokens_origin_only(world, key):
    token = widget_token_sign(api_key=key, external_id="acme-1", origin=ORIGIN)
    response = Client().get("/portal/widget/summary/", {"token": token}, HTTP_ORIGIN=ORIGIN)
    data = response.json()
    assert response.status_code == 200 and data["balance_amount"] == "4010.00" and data["currency"] == "RUB"
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    other = Client().get("/portal/widget/summary/", {"token": token}, HTTP_ORIGIN="https://evil.test")
    assert "Access-Control-Allow-Origin" not in other
    refused = Client().get("/portal/widget/summary/", {"token": "bad"}, HTTP_ORIGIN=ORIGIN)
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused


def test_a_widget_top_up_is_recorded_as_the_widgets(world, key):
    client, _ = _open(widget_token_sign(api_key=key, external_id="acme-1", origin=ORIGIN))
    client.post("/portal/topup/", {"amount": "300.00", "method": "card"})
    assert Payment.objects.get(customer=world.acme).created_by == f"widget:api-key-{key.pk}"
