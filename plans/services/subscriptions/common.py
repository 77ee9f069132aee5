"""Helpers the subscription services share: catalog look-ups, quantity checks, the subscription lock, state
checks and events."""

from __future__ import annotations

import datetime as dt

from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.locks import lock_customer
from billing.models import Customer
from billing.services.outbox import event_emit
from plans.errors import (
    BundleNotFound,
    BundleNotPublished,
    CustomerSuspended,
    InvalidQuantity,
    InvalidSubscriptionState,
    PlanNotFound,
    RenewalPending,
    SubscriptionNotFound,
)
from plans.models import (
    Bundle,
    Plan,
    Subscription,
    SubscriptionDiscount,
)
from plans.services.snapshots import SubscriptionSnapshot, load_snapshots

MAX_QUANTITY = 1_000_000


def _plan(code: str) -> Plan:
    plan = Plan.objects.select_related("product", "bundle").filter(code=code, is_active=True).first()
    if plan is None:
        raise PlanNotFound(_("No active plan %(code)r.") % {"code": code}, field="plan")
    return plan


def _bundle_plan(code: str) -> Plan:
    """The plan that sells an active, published bundle."""
    bundle = Bundle.objects.select_related("plan__product").filter(code=code, is_active=True).first()
    if bundle is None:
        raise BundleNotFound(_("No active bundle %(code)r.") % {"code": code}, field="bundle")
    if bundle.plan is None or not bundle.plan.is_active:
        raise BundleNotPublished(
            _(
                "Bundle %(code)r is not published: it has no active plan to bill it (publish it by saving "
                "it in the admin)."
            )
            % {"code": code},
            field="bundle",
        )
    bundle.plan.bundle = bundle
    return bundle.plan


def _bundle_of(plan: Plan) -> Bundle | None:
    """The bundle the plan sells, or None for a plain plan."""
    try:
        return plan.bundle
    except Bundle.DoesNotExist:
        return None


def _included_option_codes(bundle: Bundle) -> set[str]:
    return set(bundle.items.filter(option__isnull=False).values_list("option__code", flat=True))


def _check_bundle_quantity(bundle: Bundle, quantity: int) -> None:
    if quantity != 1:
        raise InvalidQuantity(
            _("Bundle %(bundle)r is sold one at a time: its quantity is 1.") % {"bundle": bundle.code}, field="quantity"
        )


def _check_quantity(quantity, field: str = "quantity") -> int:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidQuantity(
            _("Quantity must be a whole number from 1 to %(max)s.") % {"max": MAX_QUANTITY}, field=field
        )
    return quantity


def _lock_subscription(subscription_id: int, *, customer_scope: int | None = None) -> Subscription:
    """Lock the subscription in the global order: its customer's row first (every service that moves a customer's
    money or changes a subscription serializes on it), then the subscription row; the ledger then locks the
    accounts in id order. `sub.customer` is the locked customer, read after the lock."""
    qs = Subscription.objects.filter(pk=subscription_id)
    if customer_scope is not None:
        qs = qs.filter(customer_id=customer_scope)
    customer_id = qs.values_list("customer_id", flat=True).first()  # never changes: safe to read before the lock
    if customer_id is None:
        raise SubscriptionNotFound(
            _("Subscription %(subscription_id)s not found.") % {"subscription_id": subscription_id}
        )
    customer = lock_customer(customer_id)
    rows = list(qs.select_for_update(of=("self",), no_key=True))
    if not rows:
        raise SubscriptionNotFound(
            _("Subscription %(subscription_id)s not found.") % {"subscription_id": subscription_id}
        )
    sub = rows[0]
    sub.customer = customer
    return sub


# One whole sentence per action, so that each language words it its own way.
_REFUSED_IN_STATE = {
    "cancel": gettext_lazy("Cannot cancel a subscription that is %(status)s."),
    "pause": gettext_lazy("Cannot pause a subscription that is %(status)s."),
    "resume": gettext_lazy("Cannot resume a subscription that is %(status)s."),
    "change": gettext_lazy("Cannot change a subscription that is %(status)s."),
    "apply a coupon to": gettext_lazy("Cannot apply a coupon to a subscription that is %(status)s."),
    "add an option to": gettext_lazy("Cannot add an option to a subscription that is %(status)s."),
    "remove an option from": gettext_lazy("Cannot remove an option from a subscription that is %(status)s."),
}
_AWAITS_RENEWAL = {
    "cancel": gettext_lazy(
        "Cannot cancel subscription %(subscription)s now: its period ended on %(period_end)s and the billing run "
        "renews it shortly. Try again after the renewal."
    ),
    "pause": gettext_lazy(
        "Cannot pause subscription %(subscription)s now: its period ended on %(period_end)s and the billing run "
        "renews it shortly. Try again after the renewal."
    ),
    "change": gettext_lazy(
        "Cannot change subscription %(subscription)s now: its period ended on %(period_end)s and the billing run "
        "renews it shortly. Try again after the renewal."
    ),
    "apply a coupon to": gettext_lazy(
        "Cannot apply a coupon to subscription %(subscription)s now: its period ended on %(period_end)s and the "
        "billing run renews it shortly. Try again after the renewal."
    ),
    "add an option to": gettext_lazy(
        "Cannot add an option to subscription %(subscription)s now: its period ended on %(period_end)s and the "
        "billing run renews it shortly. Try again after the renewal."
    ),
    "remove an option from": gettext_lazy(
        "Cannot remove an option from subscription %(subscription)s now: its period ended on %(period_end)s and "
        "the billing run renews it shortly. Try again after the renewal."
    ),
}


def _require(sub: Subscription, *states: str, action: str) -> None:
    if sub.status not in states:
        raise InvalidSubscriptionState(
            str(_REFUSED_IN_STATE[action]) % {"status": sub.get_status_display().lower()},
            extra={"status": sub.status},
        )


def _require_current_period(sub: Subscription, *, at: dt.datetime, action: str) -> None:
    """An action that prorates within the current period needs one: from the period's end until the billing run
    renews the subscription, it is refused (409) instead of pricing a day outside the period."""
    if sub.next_billing_at is not None and sub.next_billing_at <= at:
        raise RenewalPending(
            str(_AWAITS_RENEWAL[action]) % {"subscription": sub.pk, "period_end": sub.current_period_end},
            extra={"period_end": sub.current_period_end.isoformat()},
        )


def _refuse_purchase_while_suspended(sub: Subscription, *, amount) -> None:
    """The prepaid rule's other half: a customer suspended for insufficient funds (the customer, or any of its
    subscriptions) cannot upgrade or buy until a top-up resumes it. Credits (amount <= 0) pass."""
    if amount <= 0:
        return
    suspended = sub.customer.status == Customer.Status.SUSPENDED or (
        Subscription.objects.filter(customer_id=sub.customer_id, status=Subscription.Status.SUSPENDED).exists()
    )
    if suspended:
        raise CustomerSuspended(
            _(
                "Customer %(customer_id)s is suspended for insufficient funds: top up the balance to "
                "resume its subscriptions before an upgrade or a purchase."
            )
            % {"customer_id": sub.customer_id},
            extra={"needed": str(amount), "currency": sub.currency},
        )


def _event(type_: str, sub: Subscription, **extra) -> None:
    payload = {
        "subscription_id": sub.pk,
        "customer_id": sub.customer_id,
        "status": sub.status,
        "plan_id": sub.plan_id,
        "quantity": sub.quantity,
        **extra,
    }
    event_emit(type=type_, payload=payload, customer_id=sub.customer_id)


def _snapshot(sub: Subscription, at: dt.datetime) -> SubscriptionSnapshot:
    return load_snapshots([sub.pk], as_of=at)[sub.pk]


def _use_discount_periods(subscription_ids: list[int]) -> None:
    SubscriptionDiscount.objects.filter(subscription_id__in=subscription_ids, periods_remaining__gt=0).update(
        periods_remaining=F("periods_remaining") - 1
    )
