"""The customer's subscriptions on the customer card (billing's page, filled through billing.admin.panels): state,
plan, quantity, current period, and the next charge as the billing run will post it (the upcoming-charges estimate,
plans.services.estimates, the one the API answers), each with a link to the subscription's page."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from django.template.loader import render_to_string
from django.urls import reverse

from billing.models import Customer
from billing.money_fields import amount_str
from plans.models import Subscription
from plans.services.estimates import upcoming_charges_estimate

SHOWN = 50  # the newest ones: a customer card must not load a long history


def _vat_of(lines) -> Decimal:
    return sum((x.vat for x in lines), Decimal(0))


def customer_subscriptions_panel(request, customer: Customer) -> str:
    user = request.user
    if not user.has_perm("plans.view_subscription"):
        return ""
    subs = list(Subscription.objects.filter(customer=customer).select_related("plan").order_by("-id")[: SHOWN + 1])
    more = len(subs) > SHOWN
    subs = subs[:SHOWN]
    estimates = {e.subscription_id: e for e in upcoming_charges_estimate(customer_id=customer.pk)} if subs else {}
    tz = ZoneInfo(customer.timezone)
    rows = []
    for sub in subs:
        estimate = estimates.get(sub.pk)
        rows.append(
            {
                "id": sub.pk,
                "url": reverse("admin:plans_subscription_change", args=[sub.pk]),
                "status": sub.get_status_display(),
                "status_code": sub.status,
                "plan": sub.plan.code,
                "plan_name": sub.plan.name,
                "quantity": sub.quantity,
                "period_start": sub.current_period_start,
                "period_end": sub.current_period_end,
                "cancel_at_period_end": sub.cancel_at_period_end,
                "next_charge_on": estimate.charge_at.astimezone(tz).date() if estimate and estimate.charge_at else None,
                "next_charge": amount_str(estimate.total, estimate.currency)
                if estimate and not estimate.failure
                else None,
                "next_charge_net": amount_str(estimate.total - _vat_of(estimate.lines), estimate.currency)
                if estimate
                else None,
                "next_charge_vat": amount_str(_vat_of(estimate.lines), estimate.currency)
                if estimate and _vat_of(estimate.lines)
                else None,
                "currency": sub.currency,
                "failure": estimate.failure if estimate else None,
                "ends": bool(estimate and estimate.next_status == Subscription.Status.CANCELED),
            }
        )
    context = {
        "customer": customer,
        "rows": rows,
        "more": more,
        "list_url": reverse("admin:plans_subscription_changelist") + f"?customer__id__exact={customer.pk}",
        "add_url": (
            reverse("admin:plans_subscription_add") + f"?customer={customer.pk}"
            if user.has_perm("plans.add_subscription") and customer.status != Customer.Status.CLOSED
            else None
        ),
    }
    return render_to_string("plans/admin/customer_subscriptions.html", context, request=request)
