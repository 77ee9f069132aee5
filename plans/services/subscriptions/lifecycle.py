"""Cancel, pause, resume, and the resumption of subscriptions suspended for insufficient funds; each settles
the interrupted period (the unused part credited, the used part charged) so no day is charged twice."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.locks import lock_customer
from billing.services.funds import prepaid_funds_cover
from plans import events
from plans.errors import (
    InvalidSubscriptionState,
)
from plans.models import (
    Charge,
    Plan,
    ScheduledChange,
    Subscription,
)
from plans.pricing.charges import ChargeLine, LineKind
from plans.pricing.periods import Period, local_date, local_midnight, period_at
from plans.services.charging import recurring_lines, unused_credit_lines, usage_lines, used_lines
from plans.services.posting import charge_post
from plans.services.snapshots import SubscriptionSnapshot, load_usage
from plans.services.subscriptions.common import (
    _event,
    _lock_subscription,
    _require,
    _require_current_period,
    _snapshot,
    _use_discount_periods,
)
from plans.services.subscriptions.create import first_charges, post_first_charges


def _charge_usage_until(snap: SubscriptionSnapshot, *, day: dt.date, at: dt.datetime) -> Charge | None:
    """Bill the usage of [period start, `day`) when the period is cut short (cancel now, pause, a suspension
    settled before a restart): the billing run bills usage only at renewal, which an interrupted period
    never reaches. Posted under the run's own key and guard (subscription, period start, usage), so it is
    the period's one usage charge: the run can never bill the same period start again. Hence a period whose
    usage was billed cannot go on (`subscription_resume` restarts it instead of taking the pause back).
    The minimum commitment is prorated by days: the part's usage is topped up to minimum × days used / days
    of the period, as a whole period's usage is topped up to the whole minimum (usage_lines, per plan of the
    period when it had a plan change "now")."""
    period = snap.period
    if not snap.bills_usage or snap.status == Subscription.Status.TRIALING or not period.start < day:
        return None  # no usage billed on the plan, in a trial, or not a single day used
    part = Period(period.start, min(day, period.end))
    load_usage([snap], {snap.id: part})
    lines = usage_lines(snap, part)
    return charge_post(
        snap=snap,
        kind=Charge.Kind.USAGE,
        period=part,
        lines=lines,
        key=f"sub:{snap.id}:{period.start}:{Charge.Kind.USAGE}",
        effective_date=local_date(at, snap.customer_tz),
        at=at,
    )


def _settle(sub: Subscription, *, at: dt.datetime, key: str, day: dt.date | None = None) -> Charge | None:
    """Settle the current period up to `day` (default: the customer's today): credit the unused part of a
    period paid in advance, or charge the used part of one billed in arrears; and bill its usage up to
    `day` (`_charge_usage_until`). Posted as of today."""
    snap = _snapshot(sub, at)
    day = day or local_date(at, snap.customer_tz)
    _charge_usage_until(snap, day=day, at=at)
    if snap.in_advance:
        lines = unused_credit_lines(snap, day=day)
        kind = Charge.Kind.CANCEL_CREDIT
    else:
        lines = used_lines(snap, day=day)
        kind = Charge.Kind.PRORATION
    return charge_post(
        snap=snap,
        kind=kind,
        period=snap.period,
        lines=lines,
        key=key,
        effective_date=local_date(at, snap.customer_tz),
        at=at,
    )


def _settle_now(sub: Subscription, *, at: dt.datetime, key: str) -> Charge | None:
    """Settle an active subscription's period as of today (cancel now, pause)."""
    if sub.status != Subscription.Status.ACTIVE:
        return None
    return _settle(sub, at=at, key=key)


def subscription_cancel(
    *,
    subscription_id: int,
    at_period_end: bool = False,
    key: str | None = None,
    customer_scope: int | None = None,
    at: dt.datetime | None = None,
) -> tuple[Subscription, Charge | None]:
    """Cancel now (the unused part is credited back to the balance) or at the end of the period."""
    at = at or timezone.now()
    with transaction.atomic(durable=True):
        sub = _lock_subscription(subscription_id, customer_scope=customer_scope)
        if sub.status == Subscription.Status.CANCELED and not at_period_end:
            return sub, None  # retry of a cancellation: nothing more to do
        _require(sub, *Subscription.LIVE, Subscription.Status.INCOMPLETE, action="cancel")
        if at_period_end:
            if sub.status in (
                Subscription.Status.PAUSED,
                Subscription.Status.SUSPENDED,
                Subscription.Status.INCOMPLETE,
            ):
                raise InvalidSubscriptionState(
                    _("A subscription that is %(status)s is canceled now, not at period end.")
                    % {"status": sub.get_status_display().lower()},
                    field="at_period_end",
                )
            sub.cancel_at_period_end = True
            sub.save(update_fields=["cancel_at_period_end", "updated_at"])
            _event(events.SUBSCRIPTION_UPDATED, sub, cancel_at_period_end=True)
            return sub, None
        charge = None
        if sub.status == Subscription.Status.INCOMPLETE:
            pass  # never started, nothing charged: nothing to settle
        elif sub.status == Subscription.Status.SUSPENDED:
            _require_current_period(sub, at=at, action="cancel")
            # settle the period it was suspended in (the unused part of a period paid in advance is credited
            # from the suspension day); a cancellation on the day of the suspension settles like an active one
            reopened, charge = _settle_suspension(sub, at=at)
            if reopened:
                charge = _settle_now(sub, at=at, key=f"sub:{sub.pk}:cancel:{key or 'now'}")
        else:
            _require_current_period(sub, at=at, action="cancel")
            charge = _settle_now(sub, at=at, key=f"sub:{sub.pk}:cancel:{key or 'now'}")
        sub.status = Subscription.Status.CANCELED
        sub.canceled_at = sub.ended_at = at
        sub.next_billing_at = None
        sub.save(update_fields=["status", "canceled_at", "ended_at", "next_billing_at", "updated_at"])
        ScheduledChange.objects.filter(subscription=sub, applied_at=None, canceled_at=None).update(canceled_at=at)
        _event(events.SUBSCRIPTION_CANCELED, sub, charge_id=charge.pk if charge else None)
    return sub, charge


def subscription_pause(
    *, subscription_id: int, customer_scope: int | None = None, at: dt.datetime | None = None
) -> tuple[Subscription, Charge | None]:
    """Pause now: the unused part of the period is credited; no renewals until resumed."""
    at = at or timezone.now()
    with transaction.atomic(durable=True):
        sub = _lock_subscription(subscription_id, customer_scope=customer_scope)
        if sub.status == Subscription.Status.PAUSED:
            return sub, None
        _require(sub, Subscription.Status.ACTIVE, action="pause")
        _require_current_period(sub, at=at, action="pause")
        # one key per pause (the state check above makes a retry a no-op): a pause undone by a resume the
        # same day and paused again must be credited again
        charge = _settle_now(sub, at=at, key=f"sub:{sub.pk}:pause:{at.astimezone(dt.UTC).isoformat()}")
        sub.status, sub.paused_at, sub.next_billing_at = Subscription.Status.PAUSED, at, None
        sub.save(update_fields=["status", "paused_at", "next_billing_at", "updated_at"])
        _event(events.SUBSCRIPTION_PAUSED, sub, charge_id=charge.pk if charge else None)
    return sub, charge


def _reopen(sub: Subscription, *, status: str) -> None:
    """Carry on with the current period as if it had never been interrupted (same anchor, same renewal)."""
    sub.status, sub.paused_at, sub.suspended_at = status, None, None
    sub.next_billing_at = local_midnight(sub.current_period_end, sub.customer.timezone)
    sub.save(update_fields=["status", "paused_at", "suspended_at", "next_billing_at", "updated_at"])


def _undo_pause(sub: Subscription, *, at: dt.datetime) -> Charge | None:
    """A resume on the day of the pause: the pause is taken back. Not a single day was skipped, so the
    period goes on as it was and what the pause settled (the credit of the unused part of a period paid
    in advance, or the charge of the used part of one billed in arrears) is posted back, line by line."""
    paused = (
        Charge.objects.filter(
            subscription=sub, key__startswith=f"sub:{sub.pk}:pause:", period_start=sub.current_period_start
        )
        .order_by("-pk")
        .first()
    )
    _reopen(sub, status=Subscription.Status.ACTIVE)
    if paused is None:
        return None
    period = Period(paused.period_start, paused.period_end)
    lines = []
    for x in paused.lines:
        amount = -Decimal(x["amount"]) if Decimal(x["amount"]) else Decimal(x["amount"])
        kind = (
            LineKind.DISCOUNT
            if x["kind"] == LineKind.DISCOUNT
            else LineKind.PRORATION_CHARGE
            if amount > 0
            else LineKind.PRORATION_CREDIT
        )
        # a taxed line is taken back as it was taxed (its amount is the gross): not taxed a second time
        taxed = {"vat_rate": x["vat_rate"], "vat": -Decimal(x["vat"])} if x.get("vat_rate") else {}
        lines.append(
            ChargeLine(
                kind,
                f"{x['description']}: pause taken back"[:255],
                amount,
                x["currency"],
                quantity=Decimal(x["quantity"]),
                ref=x["ref"],
                period=period,
                **taxed,
            )
        )
    snap = _snapshot(sub, at)
    return charge_post(
        snap=snap,
        kind=Charge.Kind.PRORATION,
        period=period,
        lines=lines,
        key=f"sub:{sub.pk}:unpause:{paused.pk}",
        effective_date=local_date(at, snap.customer_tz),
        at=at,
        funds_of=sub.customer,
    )


def _was_trial(sub: Subscription) -> bool:
    return sub.trial_end is not None and sub.current_period_start < sub.trial_end


def _settle_suspension(sub: Subscription, *, at: dt.datetime) -> tuple[bool, Charge | None]:
    """Before a suspended subscription restarts: settle the period it was suspended in.

    A suspension at a period boundary (billing run `_renewal`) charges no new period, so there is
    nothing to settle: the period it keeps has already ended. A suspension in the middle of a period
    (`subscriptions_suspend_overdue`) cuts a period short that was paid in advance (or is billed in
    arrears): it is settled as of the day of the suspension, like a pause (the unused part credited, or
    the used part charged), so the fresh period that starts on the day of the top-up never charges a
    day twice, and the suspended days are not charged at all. A restart on the very day of the
    suspension skipped no day: the period simply goes on (returns True, nothing posted); so does a trial
    suspended and restarted before its end."""
    tz = sub.customer.timezone
    period = Period(sub.current_period_start, sub.current_period_end)
    suspended_on = local_date(sub.suspended_at or at, tz)
    if not period.contains(suspended_on):
        return False, None  # suspended at (or after) the period's end: nothing of it was left
    if suspended_on == local_date(at, tz):
        _reopen(sub, status=Subscription.Status.TRIALING if _was_trial(sub) else Subscription.Status.ACTIVE)
        return True, None
    if _was_trial(sub):
        if local_date(at, tz) < sub.trial_end:
            # still within the trial: it goes on to its end (the suspended days were free anyway), and the
            # billing run converts it to the paid plan at `trial_end` as it would have
            _reopen(sub, status=Subscription.Status.TRIALING)
            return True, None
        return False, None  # the trial ended while suspended: a paid period starts today (a trial is never billed)
    if (
        sub.plan.charge_timing == Plan.ChargeTiming.IN_ADVANCE
        and not Charge.objects.filter(subscription=sub, kind=Charge.Kind.RECURRING, period_start=period.start).exists()
    ):
        _charge_usage_until(_snapshot(sub, at), day=suspended_on, at=at)  # what was used is billed all the same
        return False, None  # nothing was charged for it, nothing to credit
    return False, _settle(sub, at=at, day=suspended_on, key=f"sub:{sub.pk}:suspension:{period.start}:{suspended_on}")


def _restart(sub: Subscription, *, at: dt.datetime, reason: str) -> Charge | None:
    """Start a fresh period on the customer's today (resume, or recovery from suspension), charged in
    advance for plans billed in advance. The caller has settled the interrupted period (pause: when it
    paused; suspension: `_settle_suspension`), so no day is in two charged periods. A period cannot
    start where a charged one did (one recurring charge per period start): a restart on the day of the
    interruption carries on with the current period instead (`_undo_pause`, `_settle_suspension`)."""
    tz = sub.customer.timezone
    day = local_date(at, tz)
    period = period_at(day, sub.plan.interval, 0, count=sub.plan.interval_count)
    sub.billing_anchor, sub.current_period_start, sub.current_period_end = day, period.start, period.end
    sub.status, sub.paused_at, sub.suspended_at = Subscription.Status.ACTIVE, None, None
    sub.next_billing_at = local_midnight(period.end, tz)
    sub.save(
        update_fields=[
            "billing_anchor",
            "current_period_start",
            "current_period_end",
            "status",
            "paused_at",
            "suspended_at",
            "next_billing_at",
            "updated_at",
        ]
    )
    if sub.plan.charge_timing != Plan.ChargeTiming.IN_ADVANCE:
        return None
    snap = _snapshot(sub, at)
    charge = charge_post(
        snap=snap,
        kind=Charge.Kind.RECURRING,
        period=period,
        lines=recurring_lines(snap, period),
        key=f"sub:{sub.pk}:{period.start}:recurring",
        effective_date=day,
        at=at,
        # a resume the customer asks for is an immediate charge (the prepaid rule); one that money brought back
        # (reason "funds") follows the top-up that cleared the debt, and the billing run's rules after it
        funds_of=sub.customer if reason == "resume" else None,
    )
    _use_discount_periods([sub.pk])
    return charge


def subscription_resume(
    *, subscription_id: int, customer_scope: int | None = None, at: dt.datetime | None = None
) -> tuple[Subscription, Charge | None]:
    """Resume a paused subscription: a new period starts today and is charged in advance.

    A resume on the day of the pause (the customer's calendar) takes the pause back instead: the
    period goes on with its anchor and what the pause credited is charged again (`_undo_pause`). A
    fresh period from that day would start where the credited one did and could not be charged (one
    recurring charge per period start), which would give the customer the period for free."""
    at = at or timezone.now()
    with transaction.atomic(durable=True):
        sub = _lock_subscription(subscription_id, customer_scope=customer_scope)
        if sub.status == Subscription.Status.ACTIVE:
            return sub, None
        _require(sub, Subscription.Status.PAUSED, action="resume")
        tz = sub.customer.timezone
        # a pause that billed the period's usage cannot be taken back: the run would never bill the rest of
        # that period's usage (one usage charge per period start), so the resume starts a fresh period
        usage_billed = Charge.objects.filter(
            subscription=sub, kind=Charge.Kind.USAGE, period_start=sub.current_period_start
        ).exists()
        if sub.paused_at is not None and local_date(sub.paused_at, tz) == local_date(at, tz) and not usage_billed:
            charge = _undo_pause(sub, at=at)
        else:
            charge = _restart(sub, at=at, reason="resume")
        _event(events.SUBSCRIPTION_RESUMED, sub, charge_id=charge.pk if charge else None)
    return sub, charge


def _start_awaiting(sub: Subscription, *, at: dt.datetime) -> bool:
    """Start a subscription created awaiting payment, once the balance plus credit limit covers its first charge:
    its first period starts today and is charged once (the keys of `first_charges`). Else it keeps waiting, its
    (uncharged) period moved to today."""
    tz = sub.customer.timezone
    day = local_date(at, tz)
    period = period_at(day, sub.plan.interval, 0, count=sub.plan.interval_count)
    sub.billing_anchor, sub.current_period_start, sub.current_period_end = day, period.start, period.end
    sub.save(update_fields=["billing_anchor", "current_period_start", "current_period_end", "updated_at"])
    first = first_charges(sub, at=at, period=period, day=day)
    if not prepaid_funds_cover(customer=sub.customer, amount=first.total):
        return False
    sub.status, sub.next_billing_at = Subscription.Status.ACTIVE, local_midnight(period.end, tz)
    sub.save(update_fields=["status", "next_billing_at", "updated_at"])
    post_first_charges(sub, first, day=day, at=at)
    _event(events.SUBSCRIPTION_RESUMED, sub, reason="first_payment")
    return True


def subscriptions_reactivate_for_customer(*, customer_id: int, at: dt.datetime | None = None) -> list[int]:
    """Resume the customer's subscriptions suspended for insufficient funds (called once a top-up
    covers the debt). The period each was suspended in is settled as of the suspension day
    (`_settle_suspension`); then each restarts with a period from today, charged in advance (or, on the
    day of the suspension, simply goes on with its period)."""
    at = at or timezone.now()
    resumed = []
    with transaction.atomic(durable=True):
        lock_customer(customer_id)  # the global order: the customer, then its subscriptions, then the ledger's accounts
        subs = list(
            Subscription.objects.select_for_update(of=("self",), no_key=True)
            .select_related("customer", "plan")
            .filter(customer_id=customer_id, status__in=[Subscription.Status.SUSPENDED, Subscription.Status.INCOMPLETE])
            .order_by("pk")
        )
        # suspended ones first (they were running), then those awaiting their first payment, oldest first
        subs.sort(key=lambda s: (s.status == Subscription.Status.INCOMPLETE, s.pk))
        for sub in subs:
            if sub.status == Subscription.Status.INCOMPLETE:
                if _start_awaiting(sub, at=at):
                    resumed.append(sub.pk)
                continue
            reopened, credit = _settle_suspension(sub, at=at)
            charge = None if reopened else _restart(sub, at=at, reason="funds")
            _event(
                events.SUBSCRIPTION_RESUMED,
                sub,
                reason="funds",
                charge_id=charge.pk if charge else None,
                settlement_id=credit.pk if credit else None,
            )
            resumed.append(sub.pk)
    return resumed
