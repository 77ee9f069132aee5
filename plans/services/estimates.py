"""The upcoming-charge estimate: what the next billing run will post for each active or trialing subscription of
a customer. Reads only; posts nothing.

It is the run's own renewal decision (plans.services.renewal) on the run's own snapshot
(plans.services.snapshots.load_renewal_snapshots): usage so far and fees in arrears of the current period, the
change scheduled for its end, a new price version, a trial's setup fee and first paid period, the suspension of
an overdue prepaid customer, a cancellation at period end. Prices are those valid when the run can first bill the
subscription (its `charge_at`, or now when that has passed), as the run reads them then.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing.models import BillingPolicy
from config.errors import ApplicationError
from plans.models import PlanPrice, Subscription
from plans.pricing.charges import ChargeLine, total
from plans.pricing.periods import Period
from plans.services.posting import nothing_to_charge
from plans.services.renewal import RenewalPlan, renewal_decision
from plans.services.snapshots import SubscriptionSnapshot, load_renewal_snapshots

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpcomingCharge:
    """One subscription's next renewal as the run will post it. `charges` are the Charge rows it records, in order
    ((kind, period, lines), zero ones included); `lines` are their lines in the same order, `total` their sum.
    `next_status` is the state it advances to (active, canceled, suspended), None when the run cannot bill it
    (`failure` says why: the reason the run records for a business error, only the error's class otherwise)."""

    subscription_id: int
    charge_at: dt.datetime
    period: Period
    lines: list[ChargeLine]
    total: Decimal
    currency: str
    charges: list[tuple[str, Period, list[ChargeLine]]] = field(default_factory=list)
    next_status: str | None = None
    next_period: Period | None = None
    next_plan: str | None = None
    next_quantity: int | None = None
    failure: str | None = None


def upcoming_charges_estimate(*, customer_id: int, at: dt.datetime | None = None) -> list[UpcomingCharge]:
    """One estimate per active or trialing subscription of the customer, in id order."""
    at = at or timezone.now()
    subs = list(
        Subscription.objects.filter(
            customer_id=customer_id, status__in=(Subscription.Status.ACTIVE, Subscription.Status.TRIALING)
        ).order_by("pk")
    )
    # the run bills a subscription at its next_billing_at at the earliest, with the prices valid then: when a price
    # version starts between now and a renewal, the subscriptions are loaded per renewal instant
    due = {sub.pk: max(at, sub.next_billing_at) if sub.next_billing_at else at for sub in subs}
    by_as_of: dict[dt.datetime, list[int]] = defaultdict(list)
    if due and PlanPrice.objects.filter(valid_from__gt=at, valid_from__lte=max(due.values())).exists():
        for sub in subs:
            by_as_of[due[sub.pk]].append(sub.pk)
    elif subs:
        by_as_of[at] = [sub.pk for sub in subs]
    grace = dt.timedelta(days=BillingPolicy.current().grace_days)
    out: dict[int, UpcomingCharge] = {}
    for as_of, ids in by_as_of.items():
        snaps, failures = _snapshots(ids, as_of=as_of)
        for snap in snaps.values():
            try:
                out[snap.id] = _estimate(snap, renewal_decision(snap, grace=grace))
            except Exception as exc:  # the run records such a subscription as failed and bills the others
                failures[snap.id] = exc
        for sub in subs:
            if sub.pk in failures:
                out[sub.pk] = _failed(sub, failures[sub.pk])
    return [out[sub.pk] for sub in subs]


def _snapshots(ids: list[int], *, as_of: dt.datetime) -> tuple[dict[int, SubscriptionSnapshot], dict[int, Exception]]:
    """The renewal snapshots of `ids`; when loading them together fails (bad catalog data), each one alone, so only
    the subscriptions that cannot be loaded are reported, with the error, as the run reports them."""
    try:
        with transaction.atomic():
            return load_renewal_snapshots(ids, as_of=as_of), {}
    except Exception:  # retried one by one below, where each failure is kept with its subscription
        logger.info("upcoming charges: loading %s subscriptions together failed, loading each alone", len(ids))
    snaps: dict[int, SubscriptionSnapshot] = {}
    failures: dict[int, Exception] = {}
    for sub_id in ids:
        try:
            with transaction.atomic():
                snaps.update(load_renewal_snapshots([sub_id], as_of=as_of))
        except Exception as exc:
            failures[sub_id] = exc
    return snaps, failures


def _estimate(snap: SubscriptionSnapshot, plan: RenewalPlan) -> UpcomingCharge:
    # what the run records: a charge with nothing to charge (only 0.00 lines) is not one (posting.nothing_to_charge)
    charges = [c for c in plan.charges if not nothing_to_charge(c[2])]
    lines = [x for _, _, charge_lines in charges for x in charge_lines]
    ends = plan.status == "canceled"
    return UpcomingCharge(
        subscription_id=snap.id,
        charge_at=snap.next_billing_at(snap.period.end),
        period=snap.period,
        lines=lines,
        total=total(lines) if lines else Decimal(0),
        currency=snap.currency,
        charges=charges,
        next_status=plan.status,
        next_period=None if ends else plan.period,
        next_plan=None if ends else snap.plan_code,
        next_quantity=None if ends else plan.quantity,
    )


def _failed(sub: Subscription, exc: Exception) -> UpcomingCharge:
    logger.warning("upcoming charges: subscription %s cannot be billed: %s", sub.pk, exc)
    return UpcomingCharge(
        subscription_id=sub.pk,
        charge_at=sub.next_billing_at,
        period=Period(sub.current_period_start, sub.current_period_end),
        lines=[],
        total=Decimal(0),
        currency=sub.currency,
        # an ApplicationError's message is for people; another error's text is the run's log's, not the API's
        failure=f"{type(exc).__name__}: {exc}" if isinstance(exc, ApplicationError) else type(exc).__name__,
    )
