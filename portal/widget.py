"""The widget's signed tokens: a SaaS's back end opens the portal for one of its customers inside its own app.

A token is a JWT signed with HMAC-SHA256 by the widget secret of one of the SaaS's API keys (header `kid`: the
key's prefix, as the admin shows it), with the claims

    sub     the customer's external_id (required)
    origin  the page's origin that embeds the portal, one of the key's widget origins (required)
    exp     expiry, at most PORTAL_WIDGET_TOKEN_MAX_AGE_SECONDS ahead (required)
    iat     issue time (required)
    role    "owner", "accountant" (default) or "viewer"

Anything else (another algorithm, a bad signature, an expired or long-lived token, an origin the key does not
allow, a revoked key, a customer unknown, closed or outside the key's customer) is refused with WidgetTokenInvalid.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import jwt
from django.conf import settings

from billing.identifiers import web_origin
from billing.models import ApiKey, Customer, CustomerUser

logger = logging.getLogger(__name__)
LEEWAY_SECONDS = 30


class WidgetTokenInvalid(Exception):
    """Why a token was refused (logged, never shown: the visitor sees one message for every reason)."""


@dataclass(frozen=True)
class WidgetGrant:
    customer: Customer
    api_key: ApiKey
    origin: str
    role: str


def _api_key(kid) -> ApiKey:
    if not isinstance(kid, str) or not kid:
        raise WidgetTokenInvalid("no kid in the header")
    keys = [k for k in ApiKey.objects.filter(prefix=kid, revoked_at=None) if k.widget_secret]
    if not keys:
        raise WidgetTokenInvalid(f"no active API key with a widget secret for kid {kid!r}")
    return keys[0]


def widget_token_verify(token: str, *, now: float | None = None) -> WidgetGrant:
    now = time.time() if now is None else now
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise WidgetTokenInvalid(f"malformed: {exc}") from exc
    if header.get("alg") != "HS256":
        raise WidgetTokenInvalid(f"algorithm {header.get('alg')!r} is not HS256")
    api_key = _api_key(header.get("kid"))
    max_age = settings.PORTAL_WIDGET_TOKEN_MAX_AGE_SECONDS
    try:
        claims = jwt.decode(
            token,
            api_key.widget_secret,
            algorithms=["HS256"],
            options={"require": ["exp", "iat", "sub", "origin"], "verify_iat": False},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.PyJWTError as exc:
        raise WidgetTokenInvalid(f"refused: {exc}") from exc
    exp, iat = claims["exp"], claims["iat"]
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise WidgetTokenInvalid("exp and iat must be numbers")
    if exp < now - LEEWAY_SECONDS:  # PyJWT checked it too; kept for a caller's `now`
        raise WidgetTokenInvalid("expired")
    if iat > now + LEEWAY_SECONDS:
        raise WidgetTokenInvalid("issued in the future")
    if exp - iat > max_age or exp - now > max_age + LEEWAY_SECONDS:
        raise WidgetTokenInvalid(f"lives longer than {max_age} s")
    origin = web_origin(str(claims["origin"]))
    if origin is None or origin not in api_key.widget_origins:
        raise WidgetTokenInvalid(f"origin {claims['origin']!r} is not one of the key's widget origins")
    role = claims.get("role", CustomerUser.Role.ACCOUNTANT)
    if role not in CustomerUser.Role.values:
        raise WidgetTokenInvalid(f"unknown role {role!r}")
    customers = Customer.objects.exclude(status=Customer.Status.CLOSED).filter(external_id=str(claims["sub"]))
    if api_key.customer_id is not None:
        customers = customers.filter(pk=api_key.customer_id)
    customer = customers.first()
    if customer is None:
        raise WidgetTokenInvalid(f"no open customer with external_id {claims['sub']!r} for this key")
    return WidgetGrant(customer=customer, api_key=api_key, origin=origin, role=role)


def widget_token_sign(
    *, api_key: ApiKey, external_id: str, origin: str, role: str | None = None, ttl: int = 300, now=None
) -> str:
    """What a SaaS's back end does (shown in README); used by the demo page and the tests."""
    now = int(time.time() if now is None else now)
    claims = {"sub": external_id, "origin": origin, "iat": now, "exp": now + ttl}
    if role:
        claims["role"] = role
    return jwt.encode(claims, api_key.widget_secret, algorithm="HS256", headers={"kid": api_key.prefix})
