"""Who is signed in to the portal, for which customer, allowed to do what.

The portal keeps its own key in the session (`portal`), apart from the admin's login: a customer's user signs in
with a password or a one-time link, the widget with a token its SaaS signed (no user then, the token's role). Every
view is wrapped by `portal_view(permission)`, which loads the customer afresh on each request (a removed user, a
changed role or a closed customer take effect at once), refuses what the role does not allow, and renders dates in
the customer's time zone. Everything a view reads is scoped by `request.portal.customer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from billing.models import Customer, CustomerUser

SESSION_KEY = "portal"
Role = CustomerUser.Role

# What each role may do; the widget's session carries the role its token names (never "users": no person).
PERMISSIONS = {
    "view": {Role.OWNER, Role.ACCOUNTANT, Role.VIEWER},
    "pay": {Role.OWNER, Role.ACCOUNTANT},
    "profile": {Role.OWNER, Role.ACCOUNTANT},
    "plans": {Role.OWNER},
    "users": {Role.OWNER},
}


@dataclass(frozen=True)
class PortalContext:
    customer: Customer
    member: CustomerUser | None  # None for a widget session
    role: str
    via: str  # "password", "link", "widget"
    api_key_id: int | None = None
    origin: str = ""

    @property
    def embedded(self) -> bool:
        return self.via == "widget"

    def allows(self, permission: str) -> bool:
        if permission == "users" and self.member is None:
            return False
        return self.role in PERMISSIONS[permission]

    @property
    def actor(self) -> str:
        """Who did it, as the services record it."""
        if self.member is not None:
            return f"portal:{self.member.user.email}"
        return f"widget:api-key-{self.api_key_id}"


def sign_in(request, member: CustomerUser, *, via: str) -> None:
    """Open a portal session for a customer's user (a new session key: no fixation)."""
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "customer": member.customer_id,
        "member": member.pk,
        "role": member.role,
        "via": via,
        "hash": member.user.get_session_auth_hash(),
    }
    member.user.last_login = timezone.now()  # also spends a one-time link: its token hashes last_login
    member.user.save(update_fields=["last_login"])


def sign_in_widget(request, *, customer: Customer, role: str, api_key_id: int, origin: str) -> None:
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "customer": customer.pk,
        "member": None,
        "role": role,
        "via": "widget",
        "api_key": api_key_id,
        "origin": origin,
    }


def sign_out(request) -> None:
    request.session.flush()


def portal_context(request) -> PortalContext | None:
    data = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if not data:
        return None
    if data.get("member"):
        member = (
            CustomerUser.objects.select_related("user", "customer")
            .filter(pk=data["member"], customer_id=data["customer"], user__is_active=True)
            .exclude(customer__status=Customer.Status.CLOSED)
            .first()
        )
        # a changed password ends the other sessions, as Django's own login does
        if member is None or member.user.get_session_auth_hash() != data.get("hash"):
            return None
        return PortalContext(customer=member.customer, member=member, role=member.role, via=data["via"])
    customer = Customer.objects.exclude(status=Customer.Status.CLOSED).filter(pk=data["customer"]).first()
    if customer is None:
        return None
    return PortalContext(
        customer=customer,
        member=None,
        role=data["role"],
        via="widget",
        api_key_id=data.get("api_key"),
        origin=data.get("origin", ""),
    )


def portal_view(permission: str = "view"):
    """Require a portal session whose role allows `permission`; sets `request.portal`."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            context = portal_context(request)
            if context is None:
                if request.session.get(SESSION_KEY):
                    request.session.flush()
                return redirect(f"{reverse('portal:login')}?{urlencode({'next': request.get_full_path()})}")
            if not context.allows(permission):
                raise PermissionDenied
            request.portal = context
            with timezone.override(context.customer.timezone):
                return view(request, *args, **kwargs)

        return wrapped

    return decorate
