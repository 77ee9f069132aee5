"""Signing in to the portal: email and password (rate-limited), a one-time link by email, a password reset (which
is also how an invited user sets a first password), signing out."""

from __future__ import annotations

import ipaddress
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from billing.errors import SignInThrottled
from billing.models import CustomerUser
from billing.services.portal_access import customer_user_for_email, portal_sign_in
from portal.access import portal_context, sign_in, sign_out
from portal.forms import EmailForm, SignInForm
from portal.tokens import sign_in_link_tokens

logger = logging.getLogger(__name__)


def _client_ip(request) -> str | None:
    """The address sign-in attempts are counted by. Behind our proxy every request comes from the proxy: the
    client is the last address it appended to X-Forwarded-For (earlier ones are the client's own claims)."""
    if settings.BEHIND_PROXY:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            try:
                return str(ipaddress.ip_address(forwarded[-1]))
            except ValueError:
                pass
    return request.META.get("REMOTE_ADDR") or None


def _next(request, default: str = "") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/portal/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default or reverse("portal:dashboard")


@require_http_methods(["GET", "POST"])
def login_view(request):
    if portal_context(request) is not None:
        return redirect(_next(request))
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member = portal_sign_in(
                email=form.cleaned_data["email"], password=form.cleaned_data["password"], ip=_client_ip(request)
            )
        except SignInThrottled as exc:
            form.add_error(None, exc.message)
        else:
            if member is None:
                form.add_error(None, _("Wrong email or password."))
            else:
                sign_in(request, member, via="password")
                return redirect(_next(request))
    return render(request, "portal/login.html", {"form": form, "next": _next(request, default="")})


def _link(request, name: str, user, token: str) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return request.build_absolute_uri(reverse(name, kwargs={"uidb64": uid, "token": token}))


def _mail(member: CustomerUser, *, subject: str, template: str, link: str) -> None:
    body = render_to_string(template, {"link": link, "customer": member.customer, "email": member.user.email})
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [member.user.email])


def _email_request(request, *, template: str, sent_template: str, send) -> object:
    """The form that asks for an email and sends a link to it. The answer is the same whether or not the email
    has a login, so the form cannot be used to learn who is a customer."""
    form = EmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        member = customer_user_for_email(form.cleaned_data["email"])
        if member is not None:
            send(member)
        else:
            logger.info("portal link asked for an unknown email")
        return render(request, sent_template, {"email": form.cleaned_data["email"]})
    return render(request, template, {"form": form})


@require_http_methods(["GET", "POST"])
def link_request_view(request):
    def send(member):
        token = sign_in_link_tokens.make_token(member.user)
        _mail(
            member,
            subject=_("Your sign-in link"),
            template="portal/email/sign_in_link.txt",
            link=_link(request, "portal:link-sign-in", member.user, token),
        )

    return _email_request(
        request, template="portal/link_request.html", sent_template="portal/link_sent.html", send=send
    )


def send_password_link(request, member: CustomerUser, *, invitation: bool = False) -> None:
    token = default_token_generator.make_token(member.user)
    _mail(
        member,
        subject=_("You are invited to the billing portal") if invitation else _("Reset your password"),
        template="portal/email/invitation.txt" if invitation else "portal/email/password_reset.txt",
        link=_link(request, "portal:password-set", member.user, token),
    )


@require_http_methods(["GET", "POST"])
def password_reset_view(request):
    return _email_request(
        request,
        template="portal/password_reset.html",
        sent_template="portal/link_sent.html",
        send=lambda member: send_password_link(request, member),
    )


def _user_of(uidb64: str):
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    return get_user_model().objects.filter(pk=pk, is_active=True).select_related("customer_membership").first()


def _member_of(user) -> CustomerUser | None:
    if user is None:
        return None
    return getattr(user, "customer_membership", None)


@require_http_methods(["GET", "POST"])
def link_sign_in_view(request, uidb64: str, token: str):
    """GET shows a button and POST signs in: mail scanners that open links must not spend them."""
    user = _user_of(uidb64)
    member = _member_of(user)
    if member is None or not sign_in_link_tokens.check_token(user, token):
        return render(request, "portal/link_invalid.html", status=400)
    if request.method == "POST":
        sign_in(request, member, via="link")
        return redirect("portal:dashboard")
    return render(request, "portal/link_confirm.html", {"email": user.email})


@require_http_methods(["GET", "POST"])
def password_set_view(request, uidb64: str, token: str):
    user = _user_of(uidb64)
    member = _member_of(user)
    if member is None or not default_token_generator.check_token(user, token):
        return render(request, "portal/link_invalid.html", status=400)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()  # the new password hash spends the link
        member.refresh_from_db()
        sign_in(request, member, via="password")
        return redirect("portal:dashboard")
    return render(request, "portal/password_set.html", {"form": form, "email": user.email})


@require_POST
def logout_view(request):
    sign_out(request)
    return redirect("portal:login")
