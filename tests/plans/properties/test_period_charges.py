"""Properties (a) and (b): a period's net charges stay within its price; a change and back net to zero."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from plans.models import Charge
from plans.services.subscriptions import (
    subscription_cancel,
    subscription_change_plan,
    subscription_create,
    subscription_option_add,
    subscription_option_remove,
)
from tests.factories.catalog import funded_customer, make_coupon, make_option, make_plan, make_product
from tests.plans.support import MSK, D, balance

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NO_LIMIT = "1000000000.00"  # what is charged is under test here, not the prepaid rule


KOPECK = D("0.01")


prices = st.decimals(min_value=D("0.00"), max_value=D("99999.99"), places=2)


percents = st.none() | st.decimals(min_value=D("0.01"), max_value=D("100.00"), places=2)


starts = st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2029, 12, 31))


intervals = st.sampled_from(["month", "quarter", "year"])


PROPERTY_SETTINGS = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def noon(day: dt.date, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 12, minute, tzinfo=MSK)


def _catalog(plan_prices, *, interval: str, option_price=None, percent=None):
    product = make_product()
    plans = [make_plan(price=price, product=product, interval=interval) for price in plan_prices]
    option = make_option(price=option_price, product=product) if option_price is not None else None
    coupon = make_coupon(percent=percent) if percent is not None else None
    return plans, option, coupon


# --- (a) ---------------------------------------------------------------------------------------------

steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=400),  # day offset (modulo the period's length)
        st.sampled_from(["plan", "quantity", "option"]),
        st.integers(min_value=0, max_value=2),  # target plan
        st.integers(min_value=1, max_value=9),
    ),  # target quantity
    max_size=4,
)


@PROPERTY_SETTINGS
@given(
    plan_prices=st.lists(prices, min_size=3, max_size=3),
    option_price=prices,
    percent=percents,
    start=starts,
    interval=intervals,
    quantity=st.integers(min_value=1, max_value=9),
    changes=steps,
    cancel=st.none() | st.integers(min_value=0, max_value=400),
)
def test_a_periods_net_charges_never_exceed_its_full_price(
    plan_prices, option_price, percent, start, interval, quantity, changes, cancel
):
    # given a subscription created on `start` with a forever percent coupon (or none)
    plans, option, coupon = _catalog(plan_prices, interval=interval, option_price=option_price, percent=percent)
    customer = funded_customer("0", credit_limit=NO_LIMIT)
    sub = subscription_create(
        customer_id=customer.pk,
        plan_code=plans[0].code,
        quantity=quantity,
        coupon_code=coupon.code if coupon else None,
        at=noon(start),
    )
    period_days = (sub.current_period_end - sub.current_period_start).days

    # when plan, quantity and option changes happen on random days of the period, maybe then a cancel
    plan_segments = [(start, plan_prices[0] * quantity)]  # (from day, full price per period)
    option_segments: list[tuple[dt.date, dt.date | None]] = []  # (added, removed)
    current, qty, option_on = 0, quantity, False
    days = sorted((offset % period_days, kind, target, q) for offset, kind, target, q in changes)
    minute = itertools.count(1)
    for offset, kind, target, q in days:
        day, at = start + dt.timedelta(days=offset), noon(start + dt.timedelta(days=offset), next(minute))
        if kind == "option":
            if option_on:
                subscription_option_remove(subscription_id=sub.pk, option_code=option.code, at=at)
                option_segments[-1] = (option_segments[-1][0], day)
            else:
                subscription_option_add(subscription_id=sub.pk, option_code=option.code, at=at)
                option_segments.append((day, None))
            option_on = not option_on
            continue
        new_plan = target if kind == "plan" else current
        if (new_plan, q) == (current, qty):
            continue
        code = plans[new_plan].code if new_plan != current else None
        subscription_change_plan(subscription_id=sub.pk, plan_code=code, quantity=q, at=at)
        current, qty = new_plan, q
        plan_segments.append((day, plan_prices[current] * qty))
    end = sub.current_period_end
    if cancel is not None:
        last = days[-1][0] if days else 0
        end = start + dt.timedelta(days=last + cancel % (period_days - last))
        subscription_cancel(subscription_id=sub.pk, at=noon(end, 59))

    # then
    charges = list(Charge.objects.filter(subscription=sub))
    net = sum((c.amount.amount for c in charges), D(0))
    lines = sum(len(c.lines) for c in charges)
    tolerance = KOPECK * lines  # each line is rounded once: half a kopeck, plus half of its discount's
    factor = 1 - (percent or 0) / D(100)
    bounds = [day for day, _ in plan_segments[1:]] + [end]
    plan_part = sum(
        (price * (upto - since).days for (since, price), upto in zip(plan_segments, bounds, strict=True)), D(0)
    )
    option_part = sum(
        (
            option_price * ((min(removed or end, end) - added).days if added < end else 0)
            for added, removed in option_segments
        ),
        D(0),
    )
    held = (plan_part + option_part) / period_days * factor
    full = (max(price for _, price in plan_segments) + (option_price if option_segments else 0)) * factor
    assert net <= full + tolerance, "charges minus credits exceed the period's full price"
    assert net >= -tolerance, "credits exceed what was charged for the period"
    assert abs(net - held) <= tolerance, f"net {net} is not the day-weighted price {held}"
    assert balance(customer) == -net


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    price=st.decimals(min_value=D("1.00"), max_value=D("99999.99"), places=2),
    percent=st.decimals(min_value=D("1.00"), max_value=D("100.00"), places=2),
    start=starts,
    offset=st.integers(min_value=0, max_value=400),
)
@example(price=D("1000.00"), percent=D("10.00"), start=dt.date(2027, 4, 1), offset=20)
def test_a_credits_in_the_period_of_a_once_discount_never_exceed_what_was_paid(price, percent, start, offset):
    # given the first period paid with a percent discount for that period only
    (plan,), _, _ = _catalog([price], interval="month")
    coupon = make_coupon(percent=percent, duration="once")
    customer = funded_customer("0", credit_limit=NO_LIMIT)
    sub = subscription_create(customer_id=customer.pk, plan_code=plan.code, coupon_code=coupon.code, at=noon(start))
    period_days = (sub.current_period_end - sub.current_period_start).days
    used = offset % period_days

    # when canceled `used` days later
    subscription_cancel(subscription_id=sub.pk, at=noon(start + dt.timedelta(days=used), 30))

    # then the period cost the used days at the discounted price
    net = -balance(customer)
    held = price * used / period_days * (1 - percent / D(100))
    assert abs(net - held) <= 3 * KOPECK


# --- (b) ---------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(
    old=prices,
    new=prices,
    percent=percents,
    start=starts,
    interval=intervals,
    quantity=st.integers(min_value=1, max_value=20),
    other_quantity=st.integers(min_value=1, max_value=20),
    offset=st.integers(min_value=0, max_value=400),
    same_plan=st.booleans(),
)
def test_b_a_change_and_the_change_back_on_the_same_day_net_to_zero(
    old, new, percent, start, interval, quantity, other_quantity, offset, same_plan
):
    # given
    (plan_a, plan_b), _, coupon = _catalog([old, new], interval=interval, percent=percent)
    customer = funded_customer("0", credit_limit=NO_LIMIT)
    sub = subscription_create(
        customer_id=customer.pk,
        plan_code=plan_a.code,
        quantity=quantity,
        coupon_code=coupon.code if coupon else None,
        at=noon(start),
    )
    day = start + dt.timedelta(days=offset % (sub.current_period_end - sub.current_period_start).days)
    before = balance(customer)
    if same_plan and other_quantity == quantity:
        other_quantity = quantity % 20 + 1
    there = {"plan_code": None, "quantity": other_quantity} if same_plan else {"plan_code": plan_b.code}
    back = {"plan_code": None, "quantity": quantity} if same_plan else {"plan_code": plan_a.code}

    # when changed there and back on the same day
    _, up = subscription_change_plan(subscription_id=sub.pk, at=noon(day, 10), **there)
    _, down = subscription_change_plan(subscription_id=sub.pk, at=noon(day, 20), **back)

    # then (a change with nothing to charge, e.g. between two plans of one price, records no charge: None)
    amounts = [c.amount.amount if c is not None else D(0) for c in (up, down)]
    assert abs(sum(amounts)) <= KOPECK
    assert abs(balance(customer) - before) <= KOPECK
