"""Plans and options: the showcase with the current plan marked, a plan change now with the exact proration
preview (the one the API returns) and a confirmation step, options bought and removed, cancellation at period
end, coupons. Every action is the plans services' own, scoped to the signed-in customer."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from config.errors import ApplicationError, NotFound
from plans.models import Subscription
from plans.selectors import plan_list, plans_with_catalog, subscription_get, subscription_list
from plans.services.subscriptions import (
    subscription_cancel,
    subscription_change_plan,
    subscription_change_preview,
    subscription_coupon_apply,
    subscription_option_add,
    subscription_option_remove,
)
from portal.access import portal_view
from portal.forms import ChangePlanForm, CouponForm, OptionForm, add_service_error


def _price_in(prices, currency: str):
    return next((p for p in prices if p.amount.currency.code == currency), None)


def _subscription(request, subscription_id) -> Subscription:
    try:
        return subscription_get(subscription_id=subscription_id, customer_scope=request.portal.customer.pk)
    except NotFound as exc:
        raise Http404 from exc


def _showcase(subscriptions: list[Subscription]) -> list[dict]:
    """Per subscription: the plans of its product it can move to (public, priced in its currency) with the
    current one marked, and the options its plan allows, each with its price in that currency."""
    now = timezone.now()
    product_ids = {s.plan.product_id for s in subscriptions}
    plans = plans_with_catalog(list(plan_list().filter(product_id__in=product_ids)), as_of=now)
    current = plans_with_catalog([s.plan for s in subscriptions], as_of=now)
    out = []
    for sub, plan in zip(subscriptions, current, strict=True):
        choices = []
        for candidate in plans:
            if candidate.product_id != sub.plan.product_id:
                continue
            price = _price_in(candidate.current_prices, sub.currency)
            if candidate.pk == sub.plan_id or (candidate.is_public and price is not None):
                choices.append({"plan": candidate, "price": price, "current": candidate.pk == sub.plan_id})
        active = {o.option.code for o in sub.active_options}
        options = [
            {"option": o, "price": _price_in(o.current_prices, sub.currency), "active": o.code in active}
            for o in plan.available_options
            if o.is_public and _price_in(o.current_prices, sub.currency) is not None
        ]
        out.append({"subscription": sub, "plans": choices, "options": options})
    return out


def _plans_page(request, *, failed_form=None, failed_subscription: int | None = None, status: int = 200):
    customer = request.portal.customer
    subscriptions = list(subscription_list(customer_scope=customer.pk).filter(status__in=Subscription.LIVE))
    return render(
        request,
        "portal/plans.html",
        {
            "items": _showcase(subscriptions),
            "can_change": request.portal.allows("plans"),
            "failed_form": failed_form,
            "failed_subscription": failed_subscription,
        },
        status=status,
    )


@portal_view("view")
def plans_view(request):
    return _plans_page(request)


@portal_view("plans")
@require_http_methods(["GET", "POST"])
def change_view(request, subscription_id: int):
    """GET: the preview of changing now; POST: the change, under the key the preview page carried (a resubmitted
    form changes once)."""
    customer = request.portal.customer
    sub = _subscription(request, subscription_id)
    form = ChangePlanForm(request.POST or request.GET or None)
    preview = None
    if form.is_bound and form.is_valid():
        plan_code, quantity = form.cleaned_data["plan"], form.cleaned_data["quantity"]
        try:
            if request.method == "POST":
                subscription_change_plan(
                    subscription_id=sub.pk,
                    plan_code=plan_code,
                    quantity=quantity,
                    when="now",
                    key=request.POST.get("key") or uuid.uuid4().hex,
                    customer_scope=customer.pk,
                )
                messages.success(request, _("The plan is changed."))
                return redirect("portal:plans")
            preview = subscription_change_preview(
                subscription_id=sub.pk, plan_code=plan_code, quantity=quantity, customer_scope=customer.pk
            )
        except ApplicationError as exc:
            add_service_error(form, exc)
    target = None
    if form.is_bound and form.is_valid():
        target = plan_list().filter(code=form.cleaned_data["plan"]).first()
    return render(
        request,
        "portal/change.html",
        {
            "subscription": sub,
            "form": form,
            "preview": preview,
            "target": target,
            "key": uuid.uuid4().hex,
        },
        status=200 if not form.errors else 400,
    )


def _after_action(request, sub: Subscription, action, success: str, form_class=OptionForm):
    """Run a plans service on the form's data: back to the showcase with a message, or the showcase again with the
    form's errors beside the subscription (400) and nothing written."""
    form = form_class(request.POST)
    if form.is_valid():
        try:
            action(form.cleaned_data)
        except ApplicationError as exc:
            add_service_error(form, exc)
    if form.errors:
        return _plans_page(request, failed_form=form, failed_subscription=sub.pk, status=400)
    messages.success(request, success)
    return redirect("portal:plans")


@portal_view("plans")
@require_POST
def option_add_view(request, subscription_id: int):
    sub = _subscription(request, subscription_id)
    customer_id = request.portal.customer.pk
    return _after_action(
        request,
        sub,
        lambda data: subscription_option_add(
            subscription_id=sub.pk,
            option_code=data["option"],
            quantity=data["quantity"] or 1,
            key=request.POST.get("key") or None,
            customer_scope=customer_id,
        ),
        _("The option is added."),
    )


@portal_view("plans")
@require_POST
def option_remove_view(request, subscription_id: int):
    sub = _subscription(request, subscription_id)
    customer_id = request.portal.customer.pk
    return _after_action(
        request,
        sub,
        lambda data: subscription_option_remove(
            subscription_id=sub.pk, option_code=data["option"], customer_scope=customer_id
        ),
        _("The option is removed."),
    )


@portal_view("plans")
@require_POST
def cancel_view(request, subscription_id: int):
    sub = _subscription(request, subscription_id)
    customer_id = request.portal.customer.pk
    return _after_action(
        request,
        sub,
        lambda data: subscription_cancel(subscription_id=sub.pk, at_period_end=True, customer_scope=customer_id),
        _("The subscription will end with its current period."),
        form_class=_Empty,
    )


@portal_view("plans")
@require_POST
def coupon_view(request, subscription_id: int):
    sub = _subscription(request, subscription_id)
    customer_id = request.portal.customer.pk
    return _after_action(
        request,
        sub,
        lambda data: subscription_coupon_apply(
            subscription_id=sub.pk, coupon_code=data["code"].strip(), customer_scope=customer_id
        ),
        _("The coupon is applied."),
        form_class=CouponForm,
    )


class _Empty(OptionForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.clear()
