"""Property (c): random lifecycle sequences keep the ledger balanced and charges equal to their postings."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from hypothesis import HealthCheck, settings
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
    D,
    balances_differing_from_entries,
    msk,
    run_billing,
    transactions_without_entries,
    unbalanced_transactions,
    written,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


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
