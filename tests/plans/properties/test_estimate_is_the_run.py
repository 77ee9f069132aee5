"""Property (item 8 of issue 9): for random subscriptions, what the upcoming-charge estimate says, taken at the run's
instant, is exactly what the next billing run posts: the same Charge rows (kind, period, lines, amount) and the state
it says (status, period, plan, quantity).

Each example builds a few subscriptions whose periods end on the same day, each for a customer of its own: billed in
advance or in arrears, weekly, monthly or quarterly, in a trial or not, with a setup fee, a new price version
(published during the period, for the renewal itself, or after the run), a grandfathered plan, a change scheduled
for the period's end (another plan, billed otherwise, maybe in another product, or another quantity), a cancel at
period end, a discount for N periods (maybe limited to the plan), a recurring option, usage priced by tiers with a
minimum commitment, and a prepaid customer beyond the credit limit for longer or shorter than the grace days.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from billing.models import Customer
from billing.services.customers import customer_balance_adjust, customer_update
from billing.services.past_due import customers_mark_past_due
from plans.models import Charge, Subscription
from plans.pricing.charges import total
from plans.pricing.periods import add_months, local_midnight
from plans.services.estimates import upcoming_charges_estimate
from plans.services.posting import line_json
from plans.services.subscriptions import subscription_cancel, subscription_change_plan, subscription_create
from plans.services.usage import UsageEventIn, usage_record_batch
from tests.factories.catalog import (
    add_plan_price,
    funded_customer,
    make_coupon,
    make_metric,
    make_option,
    make_plan,
    make_product,
    make_usage_charge,
)
from tests.plans.support import D, run_billing

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

_example = itertools.count()

amounts = st.sampled_from([D("990.00"), D("333.33"), D("1500.00"), D("0.01"), D("0.00")]) | st.decimals(
    min_value=D("0.00"), max_value=D("5000.00"), places=2
)
optional_amounts = st.none() | amounts

plan_specs = st.fixed_dictionaries(
    {
        "timing": st.sampled_from(["in_advance", "in_arrears"]),
        "interval": st.sampled_from(["month", "month", "week", "quarter"]),
        "price": amounts,
        "setup_fee": optional_amounts,
        "minimum": optional_amounts,
    }
)

usage_specs = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["per_unit", "graduated", "volume", "package"]),
        "prices": st.tuples(amounts, amounts),
        "included": st.integers(min_value=0, max_value=50),
        # (quantity, where in the period: per mille of its length, outside 0..1000 before or after it)
        "events": st.lists(
            st.tuples(
                st.decimals(min_value=D("0"), max_value=D("400"), places=1),
                st.integers(min_value=-100, max_value=1100),
            ),
            max_size=6,
        ),
    }
)

sub_specs = st.fixed_dictionaries(
    {
        "plan": plan_specs,
        "tz": st.sampled_from(["Europe/Moscow", "Asia/Vladivostok", "UTC"]),
        "quantity": st.integers(min_value=1, max_value=5),
        "trial_days": st.sampled_from([0, 0, 0, 7, 14]),
        "grandfathered": st.booleans(),
        # (price, setup fee, minimum, when it becomes valid)
        "new_version": st.none()
        | st.tuples(amounts, optional_amounts, optional_amounts, st.sampled_from(["during", "renewal", "after"])),
        # (target plan or None for a quantity change, quantity, the target in another product)
        "change": st.none() | st.tuples(st.none() | plan_specs, st.integers(min_value=1, max_value=5), st.booleans()),
        "cancel_at_period_end": st.sampled_from([False, False, False, True]),
        # (percent or fixed, value, duration, periods, limited to the plan)
        "discount": st.none()
        | st.tuples(
            st.booleans(),
            st.decimals(min_value=D("1"), max_value=D("100"), places=0),
            st.sampled_from(["once", "repeating", "forever"]),
            st.integers(min_value=1, max_value=3),
            st.booleans(),
        ),
        "option": st.none() | st.tuples(amounts, st.integers(min_value=1, max_value=3)),
        "usage": st.none() | usage_specs,
        # days before the renewal since when the prepaid customer is beyond its credit limit (grace: 3 days)
        "overdue_days": st.sampled_from([None, None, 1, 5]),
    }
)


def _plan(spec: dict, product, *, grandfathered: bool = False, trial_days: int = 0):
    return make_plan(
        price=spec["price"],
        product=product,
        interval=spec["interval"],
        charge_timing=spec["timing"],
        setup_fee=spec["setup_fee"],
        minimum_commitment=spec["minimum"],
        grandfathered=grandfathered,
        trial_days=trial_days,
    )


def _start(boundary: dt.date, spec: dict) -> dt.date:
    """The day a subscription starts so that its current period (or trial) ends on `boundary`."""
    if spec["trial_days"]:
        return boundary - dt.timedelta(days=spec["trial_days"])
    interval = spec["plan"]["interval"]
    if interval == "week":
        return boundary - dt.timedelta(days=7)
    return add_months(boundary, -3 if interval == "quarter" else -1)


def _usage_charge(plan, spec: dict):
    low, high = spec["prices"]
    tiers = [{"up_to": "100", "unit_price": str(low)}, {"up_to": None, "unit_price": str(high)}]
    kwargs = {
        "per_unit": {"unit_price": low},
        "graduated": {"tiers": tiers},
        "volume": {"tiers": tiers},
        "package": {"package_size": "10", "package_price": high},
    }[spec["model"]]
    return make_usage_charge(plan, make_metric(), spec["model"], included=spec["included"], **kwargs)


def _build(spec: dict, boundary: dt.date, n: int) -> tuple[Customer, Subscription, dt.datetime]:
    """One customer and its subscription as `spec` says; returns them and the instant the run can bill it."""
    tz = spec["tz"]
    start = _start(boundary, spec)
    created = local_midnight(start, tz) + dt.timedelta(hours=12)
    renewal_at = local_midnight(boundary, tz)
    overdue = spec["overdue_days"] is not None
    customer = funded_customer(
        "0" if overdue else "10000000.00", timezone=tz, credit_limit="10000000" if overdue else "0", name=f"C{n}"
    )
    product = make_product()
    plan = _plan(spec["plan"], product, grandfathered=spec["grandfathered"], trial_days=spec["trial_days"])
    if spec["usage"] is not None:
        metric = _usage_charge(plan, spec["usage"]).metric
    options = []
    if spec["option"] is not None:
        options = [(make_option(price=spec["option"][0], product=product).code, spec["option"][1])]
    coupon = None
    if spec["discount"] is not None:
        is_percent, value, duration, periods, limited = spec["discount"]
        coupon = make_coupon(
            **({"percent": value} if is_percent else {"amount": value}),
            duration=duration,
            duration_periods=periods if duration == "repeating" else None,
            plans=[plan] if limited else [],
        ).code
    # usage events (those before the period sent first: once the customer has an open period they are refused)
    events = []
    if spec["usage"] is not None:
        span = renewal_at - local_midnight(start, tz)
        events = [
            UsageEventIn(
                f"e{n}-{i}", customer.pk, metric.code, quantity, local_midnight(start, tz) + span * where / 1000, {}
            )
            for i, (quantity, where) in enumerate(spec["usage"]["events"])
        ]
    if early := [e for e in events if e.timestamp < local_midnight(start, tz)]:
        usage_record_batch(events=early)
    sub = subscription_create(
        customer_id=customer.pk,
        plan_code=plan.code,
        quantity=spec["quantity"],
        options=options,
        coupon_code=coupon,
        at=created,
    )
    if spec["new_version"] is not None:
        price, setup_fee, minimum, when = spec["new_version"]
        valid_from = {
            "during": created + dt.timedelta(days=1),
            "renewal": renewal_at,
            "after": renewal_at + dt.timedelta(days=2),
        }[when]
        add_plan_price(plan, price, setup_fee=setup_fee, minimum_commitment=minimum, valid_from=valid_from)
    if spec["change"] is not None:
        target_spec, quantity, other_product = spec["change"]
        if target_spec is None:
            target, quantity = plan, spec["quantity"] % 5 + 1  # another quantity of the same plan
        else:
            target = _plan(target_spec, make_product() if other_product else product)
        subscription_change_plan(
            subscription_id=sub.pk,
            plan_code=target.code,
            quantity=quantity,
            when="period_end",
            at=created + dt.timedelta(hours=1),
        )
    if spec["cancel_at_period_end"]:
        subscription_cancel(subscription_id=sub.pk, at_period_end=True, at=created + dt.timedelta(hours=2))
    if later := [e for e in events if e.timestamp >= local_midnight(start, tz)]:
        usage_record_batch(events=later)
    if overdue:
        # beyond the credit limit since `overdue_days` before the renewal: a debt, then a limit that no longer covers it
        customer_balance_adjust(
            customer_id=customer.pk, amount=D("100.00"), direction="debit", reason="test", key=f"debt-{n}"
        )
        customer_update(customer_id=customer.pk, credit_limit=D(0))
        customers_mark_past_due(customer_ids=[customer.pk], at=renewal_at - dt.timedelta(days=spec["overdue_days"]))
    return customer, sub, renewal_at


def _estimated(estimate) -> list[tuple]:
    return [
        (str(kind), period.start, period.end, [line_json(x) for x in lines], total(lines) if lines else D(0))
        for kind, period, lines in estimate.charges
    ]


def _recorded(charges: list[Charge]) -> list[tuple]:
    return [(c.kind, c.period_start, c.period_end, c.lines, c.amount.amount) for c in charges]


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(
    boundary=st.dates(min_value=dt.date(2026, 3, 1), max_value=dt.date(2029, 12, 28)).map(
        lambda d: d.replace(day=min(d.day, 28))
    ),
    minutes=st.integers(min_value=0, max_value=600),
    specs=st.lists(sub_specs, min_size=1, max_size=4),
)
def test_the_estimate_is_what_the_next_run_posts(boundary, minutes, specs):
    n = next(_example)
    built = [_build(spec, boundary, n * 10 + i) for i, spec in enumerate(specs)]
    try:
        # given the estimate of each customer at the run's instant
        run_at = max(renewal_at for _, _, renewal_at in built) + dt.timedelta(minutes=minutes)
        estimates = {}
        for customer, sub, _ in built:
            [estimates[sub.pk]] = upcoming_charges_estimate(customer_id=customer.pk, at=run_at)
        before = Charge.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

        # when the run comes
        run = run_billing(run_at)

        # then it posted for each subscription exactly what the estimate said, and left it as it said
        failed = {f["subscription_id"]: f["reason"] for f in run.failures}
        for _, sub, _ in built:
            estimate = estimates[sub.pk]
            charges = list(Charge.objects.filter(subscription=sub, pk__gt=before).order_by("pk"))
            assert [x for c in charges for x in c.lines] == [line_json(x) for x in estimate.lines]
            assert sum((c.amount.amount for c in charges), D(0)) == estimate.total
            assert _recorded(charges) == _estimated(estimate)
            event(f"outcome: {estimate.next_status or 'failed'}")
            event(f"charges: {sorted({str(k) for k, _, lines in estimate.charges if lines})}")
            assert (sub.pk in failed) == (estimate.failure is not None), (failed.get(sub.pk), estimate.failure)
            sub.refresh_from_db()
            if estimate.failure is None:
                assert sub.status == estimate.next_status
                if sub.status != Subscription.Status.CANCELED:
                    assert (sub.current_period_start, sub.current_period_end) == (
                        estimate.next_period.start,
                        estimate.next_period.end,
                    )
                    assert (sub.plan.code, sub.quantity) == (estimate.next_plan, estimate.next_quantity)
                assert estimate.charge_at <= run_at
    finally:
        # out of the way of the next example's run
        Subscription.objects.filter(pk__in=[sub.pk for _, sub, _ in built]).update(
            status=Subscription.Status.EXPIRED, next_billing_at=None
        )
