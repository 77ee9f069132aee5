"""Plain Django views of payments that are not the REST API: the providers' webhooks (no API key: the adapter
verifies the signature, or the source IP and a re-fetch) and the test-mode provider's checkout page."""

from __future__ import annotations

import logging

from django import forms
from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from billing.errors import PaymentInvalid, PaymentNotFound, PaymentProviderUnavailable
from billing.models import Payment
from billing.providers.base import NotificationRejected, ProviderUnavailable
from billing.services.payments import payment_notification_handle, payment_testmode_checkout

logger = logging.getLogger(__name__)


def client_ip(request) -> str:
    """The caller's address: REMOTE_ADDR, or the hop our own proxies appended to X-Forwarded-For."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


@csrf_exempt
@require_POST
def provider_webhook(request, provider: str):
    """200 once applied (or ignored), 400 for a notification that fails verification or names an unknown payment
    (logged, nothing posted), 503 when the provider could not be asked back (it redelivers)."""
    try:
        outcome = payment_notification_handle(
            provider=provider, body=request.body, headers=dict(request.headers), remote_ip=client_ip(request)
        )
    except NotificationRejected as exc:
        logger.warning("webhook from %s rejected (%s): %s", provider, client_ip(request), exc)
        return HttpResponseBadRequest("rejected", content_type="text/plain")
    except (ProviderUnavailable, PaymentProviderUnavailable) as exc:
        logger.warning("webhook from %s not applied, provider unavailable: %s", provider, exc)
        return HttpResponse("retry later", status=503, content_type="text/plain")
    except PaymentInvalid as exc:
        logger.error("webhook from %s refused: %s", provider, exc)
        return HttpResponseBadRequest("refused", content_type="text/plain")
    return HttpResponse(outcome, content_type="text/plain")


class TestCardForm(forms.Form):
    card = forms.CharField(label=_("Card number"), max_length=23, required=False)


@require_http_methods(["GET", "POST"])
def testmode_checkout(request, provider_payment_id: str):
    """The simulated provider's payment page: pay with a test card or cancel, then back to the return URL."""
    if not settings.PAYMENTS_TEST_MODE:
        raise Http404
    payment = Payment.objects.filter(provider="test", provider_payment_id=provider_payment_id).first()
    if payment is None:
        raise Http404
    form = TestCardForm(request.POST or None, initial={"card": "4242 4242 4242 4242"})
    if request.method == "POST":
        cancel = "cancel" in request.POST
        if cancel or form.is_valid():
            try:
                payment = payment_testmode_checkout(
                    provider_payment_id=provider_payment_id, card=None if cancel else form.cleaned_data["card"]
                )
            except PaymentNotFound as exc:
                raise Http404 from exc
            except PaymentInvalid as exc:
                form.add_error("card", exc.message)
            else:
                return HttpResponseRedirect(payment.return_url or "/")
    return render(
        request,
        "billing/payments/test_checkout.html",
        {"payment": payment, "form": form, "done": payment.status != Payment.Status.PENDING},
        status=400 if form.errors else 200,
    )
