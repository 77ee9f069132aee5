"""The widget's two doors: the iframe URL that opens a portal session for the token's customer, and the summary
the badge script reads (balance, with CORS for the token's origin only)."""

from __future__ import annotations

import logging

from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from billing.money import format_money, round_amount
from billing.selectors import customer_balance
from portal.access import sign_in_widget
from portal.widget import WidgetTokenInvalid, widget_token_verify

logger = logging.getLogger(__name__)


def _safe_next(value: str) -> str:
    if value.startswith("/portal/") and not value.startswith("//") and "\\" not in value:
        return value
    return reverse("portal:dashboard")


@require_GET
def widget_open_view(request):
    try:
        grant = widget_token_verify(request.GET.get("token", ""))
    except WidgetTokenInvalid as exc:
        logger.warning("portal widget token refused: %s", exc)
        return render(request, "portal/widget_refused.html", status=403)
    sign_in_widget(request, customer=grant.customer, role=grant.role, api_key_id=grant.api_key.pk, origin=grant.origin)
    return redirect(_safe_next(request.GET.get("next", "")))


@require_GET
def widget_summary_view(request):
    try:
        grant = widget_token_verify(request.GET.get("token", ""))
    except WidgetTokenInvalid as exc:
        logger.warning("portal widget token refused: %s", exc)
        response = JsonResponse({"error": _("The widget's token is invalid or expired.")}, status=403)
    else:
        balance = customer_balance(customer=grant.customer)
        response = JsonResponse(
            {
                "customer": grant.customer.name,
                "balance": format_money(balance),
                "balance_amount": str(round_amount(balance.amount, balance.currency.code)),
                "currency": balance.currency.code,
                "labels": {"balance": _("Balance"), "top_up": _("Top up"), "close": _("Close")},
            }
        )
        if request.headers.get("Origin") == grant.origin:
            response["Access-Control-Allow-Origin"] = grant.origin
    response["Vary"] = "Origin"
    response["Cache-Control"] = "no-store"
    return response
