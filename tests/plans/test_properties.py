"""Properties of the subscription services, through the real services and the ledger (hypothesis).

(a) A period's net charges (charges minus credits) never exceed its full price and never go below
    zero, and equal the day-weighted price of what was held within one kopeck per posted line.
(b) An upgrade (or a quantity change) and the change back on the same day net to zero within 0.01.
(c) Random lifecycle sequences keep every transaction balanced per currency, every cached balance
    equal to the sum of its entries, and every Charge row equal to what it posted to the customer.

Runs with real commits (`transaction=True`) like tests/invariants/test_ledger_properties.py: each
example builds its own catalog (unique codes) and customers.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from config.errors import ApplicationError
from plans.models import Charge
from plans.services.billing_run import customer_funds_recheck
from plans.services.subscriptions import (
    subscription_cancel,
    subscription_change_plan,
    subscription_create,
    subscription_option_add,
    subscription_option_remove,
    subscription_pause,
    subscription_resume,
)
from tests.factories.catalog import funded_customer, make_coupon, make_option, make_plan, make_product, top_up
from tests.plans.support import (
    MSK,
    D,
    balance,
    balances_differing_from_entries,
    msk,
    run_billing,
    transactions_without_entries,
    unbalanced_transactions,
    written,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

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
    customer = funded_customer("0")
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
    customer = funded_customer("0")
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
    customer = funded_customer("0")
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

    # then
    assert abs(up.amount.amount + down.amount.amount) <= KOPECK
    assert abs(balance(customer) - before) <= KOPECK


# --- (c) ---------------------------------------------------------------------------------------------

_example = itertools.count()


def charges_differing_from_postings() -> list[tuple]:
    """Charges whose amount is not what their transaction put on the customer's balance account (a
    charge without a transaction must be zero)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT ch.id, ch.amount, COALESCE(SUM(e.amount), 0)
              FROM plans_charge ch
              JOIN plans_subscription s ON s.id = ch.subscription_id
              LEFT JOIN billing_entry e ON e.transaction_id = ch.transaction_id
              LEFT JOIN billing_account a ON a.id = e.account_id
             WHERE a.id IS NULL OR a.code = 'customer:' || s.customer_id
             GROUP BY ch.id, ch.amount HAVING ch.amount <> COALESCE(SUM(e.amount), 0)
            """
        )
        return cursor.fetchall()


def charge_rows_differing_from_lines() -> list[int]:
    return [c.pk for c in Charge.objects.all() if c.amount.amount != sum((D(x["amount"]) for x in c.lines), D(0))]


class LifecycleMachine(RuleBasedStateMachine):
    """Two customers (Moscow, and Vladivostok with a credit limit), a small catalog, and a clock that
    only moves forward. Refused operations must write nothing."""

    @initialize()
    def set_up(self):
        self.n = next(_example)
        product = make_product()
        self.plans = [make_plan(price=price, product=product) for price in ("0.00", "333.33", "990.00", "1500.00")]
        self.plans.append(make_plan(price="700.00", product=product, charge_timing="in_arrears"))
        self.plans.append(make_plan(price="250.00", product=product, interval="week"))
        self.options = [
            make_option(price="150.00", product=product),
            make_option(price="500.00", product=product, kind="one_time"),
        ]
        self.coupons = [
            None,
            make_coupon(percent="15").code,
            make_coupon(amount="100.00").code,
            make_coupon(percent="50", duration="once").code,
        ]
        self.customers = [
            funded_customer("20000.00"),
            funded_customer("3000.00", timezone="Asia/Vladivostok", credit_limit="500.00"),
        ]
        self.now = msk(2027, 1, 28, 9)
        self.refused = 0
        # one subscription each to start from (the 31st-ish anchor meets February soon)
        self.subs: list[int] = [
            subscription_create(
                customer_id=self.customers[0].pk,
                plan_code=self.plans[2].code,
                coupon_code=self.coupons[1],
                at=self._tick(),
            ).pk,
            subscription_create(
                customer_id=self.customers[1].pk,
                plan_code=self.plans[1].code,
                quantity=2,
                options=[(self.options[0].code, 1)],
                at=self._tick(),
            ).pk,
        ]

    # --- helpers -------------------------------------------------------------------------------

    def _tick(self, minutes: int = 7) -> dt.datetime:
        self.now += dt.timedelta(minutes=minutes)
        return self.now

    def _sub(self, index: int) -> int:
        return self.subs[index % len(self.subs)]

    def _try(self, call):
        """Run a service call; an ApplicationError must leave nothing written."""
        before = written()
        try:
            return call()
        except ApplicationError:
            assert written() == before
            self.refused += 1
            return None

    # --- rules ---------------------------------------------------------------------------------

    @rule(
        who=st.integers(0, 1),
        plan=st.integers(0, 5),
        quantity=st.integers(1, 4),
        coupon=st.integers(0, 3),
        option=st.booleans(),
    )
    def create(self, who, plan, quantity, coupon, option):
        sub = self._try(
            lambda: subscription_create(
                customer_id=self.customers[who].pk,
                plan_code=self.plans[plan].code,
                quantity=quantity,
                coupon_code=self.coupons[coupon],
                options=[(self.options[0].code, 1)] if option else [],
                at=self._tick(),
            )
        )
        if sub is not None:
            self.subs.append(sub.pk)

    @precondition(lambda self: self.subs)
    @rule(
        index=st.integers(0, 99),
        plan=st.integers(0, 5),
        quantity=st.integers(1, 4),
        when=st.sampled_from(["now", "now", "period_end"]),
    )
    def change(self, index, plan, quantity, when):
        self._try(
            lambda: subscription_change_plan(
                subscription_id=self._sub(index),
                plan_code=self.plans[plan].code,
                quantity=quantity,
                when=when,
                at=self._tick(),
            )
        )

    @precondition(lambda self: self.subs)
    @rule(index=st.integers(0, 99), quantity=st.integers(1, 6))
    def change_quantity(self, index, quantity):
        self._try(
            lambda: subscription_change_plan(subscription_id=self._sub(index), quantity=quantity, at=self._tick())
        )

    @precondition(lambda self: self.subs)
    @rule(index=st.integers(0, 99), option=st.integers(0, 1), quantity=st.integers(1, 3))
    def add_option(self, index, option, quantity):
        self._try(
            lambda: subscription_option_add(
                subscription_id=self._sub(index),
                option_code=self.options[option].code,
                quantity=quantity,
                at=self._tick(),
            )
        )

    @precondition(lambda self: self.subs)
    @rule(index=st.integers(0, 99), option=st.integers(0, 1))
    def remove_option(self, index, option):
        self._try(
            lambda: subscription_option_remove(
                subscription_id=self._sub(index), option_code=self.options[option].code, at=self._tick()
            )
        )

    @precondition(lambda self: self.subs)
    @rule(index=st.integers(0, 99))
    def pause(self, index):
        self._try(lambda: subscription_pause(subscription_id=self._sub(index), at=self._tick()))

    @precondition(lambda self: self.subs)
    @rule(index=st.integers(0, 99))
    def resume(self, index):
        self._try(lambda: subscription_resume(subscription_id=self._sub(index), at=self._tick()))

    @precondition(lambda self: self.subs)
    @rule(index=st.integers(0, 99), at_period_end=st.booleans())
    def cancel(self, index, at_period_end):
        self._try(
            lambda: subscription_cancel(subscription_id=self._sub(index), at_period_end=at_period_end, at=self._tick())
        )

    @rule(hours=st.integers(1, 24 * 20))
    def run_billing_later(self, hours):
        run = run_billing(self._tick(hours * 60))
        assert run.failed == 0, run.failures

    @rule(who=st.integers(0, 1), amount=st.decimals(min_value=D("0.01"), max_value=D("5000.00"), places=2))
    def top_up(self, who, amount):
        customer = self.customers[who]
        top_up(customer, amount)
        customer_funds_recheck(customer_id=customer.pk, at=self._tick())

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def every_transaction_balances_per_currency(self):
        assert unbalanced_transactions() == []
        assert transactions_without_entries() == []

    @invariant()
    def every_cached_balance_is_the_sum_of_its_entries(self):
        assert balances_differing_from_entries() == []

    @invariant()
    def every_charge_is_what_it_posted(self):
        assert charges_differing_from_postings() == []


def test_c_random_lifecycles_keep_the_ledger_balanced():
    # given fresh customers and catalog per example
    # when hypothesis runs random sequences of creates, changes, options, pauses, resumes, cancels, runs, top-ups
    # then after every step the ledger balances, cached balances equal their entries, charges equal their postings
    run_state_machine_as_test(
        LifecycleMachine,
        settings=settings(
            max_examples=8,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    assert unbalanced_transactions() == []
    assert balances_differing_from_entries() == []
    assert charge_rows_differing_from_lines() == []
    assert Charge.objects.exclude(amount=0).exists()
