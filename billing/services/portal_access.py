"""The people who sign in to a customer's portal: added with a role, given another role, removed (a customer
always keeps one owner); password sign-in with attempts rate-limited per email and per IP address; the secrets
of the portal widget per API key."""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.errors import PortalUserInvalid, SignInThrottled
from billing.locks import lock_customer
from billing.models import ApiKey, Customer, CustomerUser, SignInAttempt
from config.errors import NotFound

ROLES = frozenset(CustomerUser.Role.values)


def _normal_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise PortalUserInvalid(_("Enter a valid email address."), field="email") from exc
    return email


def _role(role: str) -> str:
    if role not in ROLES:
        raise PortalUserInvalid(_("Unknown role %(role)r.") % {"role": role}, field="role")
    return role


def customer_user_add(*, customer_id: int, email: str, role: str, by: str = "", password: str | None = None):
    """A new portal user of a customer. Without a password the user sets one through the link in the invitation
    (or signs in by a one-time link). An email belongs to one customer's portal only."""
    email, role = _normal_email(email), _role(role)
    User = get_user_model()
    with transaction.atomic(durable=True):
        customer = lock_customer(customer_id)
        if customer.status == Customer.Status.CLOSED:
            raise PortalUserInvalid(_("The customer is closed."), field="customer")
        if User.objects.filter(username__iexact=email).exists():
            raise PortalUserInvalid(_("%(email)s already has a portal login.") % {"email": email}, field="email")
        try:
            user = User.objects.create_user(username=email, email=email, password=password)
        except IntegrityError as exc:  # the same email added at the same moment
            raise PortalUserInvalid(
                _("%(email)s already has a portal login.") % {"email": email}, field="email"
            ) from exc
        return CustomerUser.objects.create(customer=customer, user=user, role=role, created_by=by)


def _member(customer_id: int, customer_user_id) -> CustomerUser:
    member = (
        CustomerUser.objects.select_for_update()
        .select_related("user")
        .filter(customer_id=customer_id, pk=customer_user_id)
        .first()
    )
    if member is None:
        raise NotFound(_("User %(id)s not found.") % {"id": customer_user_id})
    return member


def _keeps_an_owner(customer_id: int, *, without: int) -> None:
    owners = CustomerUser.objects.filter(customer_id=customer_id, role=CustomerUser.Role.OWNER).exclude(pk=without)
    if not owners.exists():
        raise PortalUserInvalid(_("A customer keeps at least one owner."), field="role")


def customer_user_role_set(*, customer_id: int, customer_user_id, role: str) -> CustomerUser:
    role = _role(role)
    with transaction.atomic(durable=True):
        lock_customer(customer_id)  # serialises the "one owner left" check
        member = _member(customer_id, customer_user_id)
        if member.role == CustomerUser.Role.OWNER and role != CustomerUser.Role.OWNER:
            _keeps_an_owner(customer_id, without=member.pk)
        if member.role != role:
            member.role = role
            member.save(update_fields=["role"])
        return member


def customer_user_remove(*, customer_id: int, customer_user_id) -> None:
    """Remove a user from a customer's portal; the login goes with it (staff logins are only unlinked)."""
    with transaction.atomic(durable=True):
        lock_customer(customer_id)
        member = _member(customer_id, customer_user_id)
        if member.role == CustomerUser.Role.OWNER:
            _keeps_an_owner(customer_id, without=member.pk)
        user = member.user
        member.delete()
        if user.is_staff or user.is_superuser:
            return
        user.delete()


def customer_user_for_email(email: str) -> CustomerUser | None:
    """The active portal user with this email, of a customer that is not closed."""
    email = (email or "").strip().lower()
    return (
        CustomerUser.objects.select_related("user", "customer")
        .filter(user__username__iexact=email, user__is_active=True)
        .exclude(customer__status=Customer.Status.CLOSED)
        .first()
    )


def _throttled(email: str, ip: str | None) -> bool:
    since = timezone.now() - dt.timedelta(seconds=settings.PORTAL_SIGN_IN_WINDOW_SECONDS)
    failures = SignInAttempt.objects.filter(at__gte=since, succeeded=False)
    if failures.filter(email=email).count() >= settings.PORTAL_SIGN_IN_MAX_FAILURES_PER_EMAIL:
        return True
    return bool(ip) and failures.filter(ip=ip).count() >= settings.PORTAL_SIGN_IN_MAX_FAILURES_PER_IP


def portal_sign_in(*, email: str, password: str, ip: str | None) -> CustomerUser | None:
    """The portal user these credentials belong to, or None. Every attempt is recorded; after too many failures
    for one email or from one address within the window, attempts are refused without checking the password."""
    email = (email or "").strip().lower()[:254]
    if _throttled(email, ip):
        SignInAttempt.objects.create(email=email, ip=ip or None, succeeded=False)
        raise SignInThrottled(_("Too many failed attempts. Try again in a few minutes or sign in by email link."))
    member = customer_user_for_email(email)
    user = authenticate(username=member.user.username, password=password) if member else None
    SignInAttempt.objects.create(email=email, ip=ip or None, succeeded=user is not None)
    return member if user is not None else None


def api_key_widget_secret_rotate(*, api_key_id: int) -> str:
    """A new secret for the key's widget tokens; tokens signed with the old one stop working at once."""
    secret = "ws_" + secrets.token_urlsafe(32)
    with transaction.atomic(durable=True):
        updated = ApiKey.objects.filter(pk=api_key_id, revoked_at=None).update(widget_secret=secret)
    if not updated:
        raise NotFound(_("API key %(id)s not found or revoked.") % {"id": api_key_id})
    return secret


def api_key_widget_origins_set(*, api_key_id: int, origins: list[str]) -> ApiKey:
    from billing.identifiers import web_origin

    clean = []
    for value in origins:
        origin = web_origin(value)
        if origin is None:
            raise PortalUserInvalid(
                _("%(value)r is not an origin (scheme://host[:port]).") % {"value": value}, field="widget_origins"
            )
        if origin not in clean:
            clean.append(origin)
    with transaction.atomic(durable=True):
        api_key = ApiKey.objects.select_for_update().filter(pk=api_key_id).first()
        if api_key is None:
            raise NotFound(_("API key %(id)s not found.") % {"id": api_key_id})
        api_key.widget_origins = clean
        api_key.save(update_fields=["widget_origins"])
    return api_key
