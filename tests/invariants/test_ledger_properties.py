"""Property: whatever sequence of postings, reversals, replays and refused postings happens, every
transaction balances per currency and every cached balance equals the sum of its account's entries.

Runs with real commits (`transaction=True`), so PostgreSQL's deferred balance trigger takes part.
A model of the expected balances is kept alongside and compared after every step.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

import pytest
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
from moneyed import Money

from billing.errors import (
    AlreadyReversed,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidPosting,
    UnbalancedTransaction,
)
from billing.models import Account, Entry, Event, Transaction
from billing.services.accounts import account_for_customer, account_system
from billing.services.customers import customer_create
from billing.services.ledger import Leg, ledger_post, ledger_reverse
from tests.support.ledger_checks import (
    balances_differing_from_entries,
    transactions_without_entries,
    unbalanced_transactions,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000.00"), places=2)
_example = itertools.count()


@dataclass
class Posted:
    pk: int
    key: str
    kwargs: dict
    legs: list[Leg]
    reversed: bool = False


def written() -> tuple[int, int, int]:
    return Transaction.objects.count(), Entry.objects.count(), Event.objects.count()


class LedgerMachine(RuleBasedStateMachine):
    @initialize()
    def set_up(self):
        self.n = next(_example)
        limits = [Decimal("0"), Decimal("100.00"), Decimal("1000.00")]
        self.customers = [
            customer_create(name=f"P{self.n}-{i}", currency="RUB", credit_limit=limit) for i, limit in enumerate(limits)
        ]
        self.limits = {c.pk: limit for c, limit in zip(self.customers, limits, strict=True)}
        self.rub = [account_for_customer(customer=c) for c in self.customers]
        # a customer has one currency: the USD legs go to a customer billed in USD
        self.usd_customer = customer_create(name=f"P{self.n}-usd", currency="USD")
        self.usd = account_for_customer(customer=self.usd_customer)
        self.clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="RUB")
        self.clearing_usd = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="USD")
        self.revenue = account_system(kind=Account.Kind.REVENUE, currency="RUB", code="revenue:prop")
        self.vat = account_system(kind=Account.Kind.VAT_PAYABLE, currency="RUB")
        self.promo = account_system(kind=Account.Kind.PROMO, currency="RUB")
        all_accounts = [*self.rub, self.usd, self.clearing, self.clearing_usd, self.revenue, self.vat, self.promo]
        # system accounts are shared between examples: the model starts from what is there
        self.expected = {a.pk: Account.objects.get(pk=a.pk).total_balance.amount for a in all_accounts}
        self.customer_of = {a.pk: c for a, c in zip(self.rub, self.customers, strict=True)}
        self.customer_of[self.usd.pk] = self.customers[0]
        self.posted: list[Posted] = []
        self.keys = itertools.count()

    # --- helpers ----------------------------------------------------------------------------

    def _key(self) -> str:
        return f"prop-{self.n}-{next(self.keys)}"

    def _post(self, *, kind: str, legs: list[Leg], customer=None, enforce: bool = False) -> None:
        """Post and update the model; when the model says the credit limit is broken, expect a refusal."""
        key = self._key()
        kwargs = {"kind": kind, "customer": customer, "enforce_credit_limit": enforce}
        deltas: dict[int, Decimal] = {}
        for leg in legs:
            deltas[leg.account_id] = deltas.get(leg.account_id, Decimal(0)) + leg.amount
        refused = enforce and any(
            pk in self.customer_of and delta > 0 and delta > -self.expected[pk] + self.limits[self.customer_of[pk].pk]
            for pk, delta in deltas.items()
        )
        before = written()
        if refused:
            with pytest.raises(InsufficientFunds):
                ledger_post(key=key, legs=legs, **kwargs)
            assert written() == before
            return
        txn = ledger_post(key=key, legs=legs, **kwargs)
        assert written() == (before[0] + 1, before[1] + len(legs), before[2] + 1)
        for pk, delta in deltas.items():
            self.expected[pk] += delta
        self.posted.append(Posted(txn.pk, key, kwargs, legs))

    # --- rules ------------------------------------------------------------------------------

    @rule(who=st.integers(0, 2), amount=amounts)
    def top_up(self, who, amount):
        money = Money(amount, "RUB")
        self._post(
            kind=Transaction.Kind.PAYMENT,
            customer=self.customers[who],
            legs=[Leg.credit(self.rub[who], money), Leg.debit(self.clearing, money)],
        )

    @rule(amount=amounts)
    def top_up_usd(self, amount):
        money = Money(amount, "USD")
        self._post(
            kind=Transaction.Kind.PAYMENT,
            customer=self.usd_customer,
            legs=[Leg.credit(self.usd, money), Leg.debit(self.clearing_usd, money)],
        )

    @rule(who=st.integers(0, 2), amount=amounts, enforce=st.booleans())
    def charge_with_vat(self, who, amount, enforce):
        # 20% VAT included: VAT is rounded once, revenue is the rest, so the legs stay exact
        vat = (amount * Decimal(20) / Decimal(120)).quantize(Decimal("0.01"))
        legs = [Leg.debit(self.rub[who], Money(amount, "RUB")), Leg.credit(self.revenue, Money(amount - vat, "RUB"))]
        if vat:
            legs.append(Leg.credit(self.vat, Money(vat, "RUB")))
        self._post(kind=Transaction.Kind.CHARGE, customer=self.customers[who], legs=legs, enforce=enforce)

    @rule(source=st.integers(0, 2), to=st.integers(0, 2), amount=amounts, enforce=st.booleans())
    def transfer(self, source, to, amount, enforce):
        money = Money(amount, "RUB")
        self._post(
            kind=Transaction.Kind.ADJUSTMENT,
            customer=self.customers[source],
            enforce=enforce,
            legs=[Leg.debit(self.rub[source], money), Leg.credit(self.rub[to], money)],
        )

    @rule(who=st.integers(0, 2), amount=amounts, usd=amounts)
    def bonus_in_two_currencies(self, who, amount, usd):
        self._post(
            kind=Transaction.Kind.PROMO,
            customer=self.customers[who],
            legs=[
                Leg.credit(self.rub[who], Money(amount, "RUB")),
                Leg.debit(self.promo, Money(amount, "RUB")),
                Leg.credit(self.usd, Money(usd, "USD")),
                Leg.debit(self.clearing_usd, Money(usd, "USD")),
            ],
        )

    @precondition(lambda self: self.posted)
    @rule(index=st.integers(min_value=0))
    def reverse(self, index):
        original = self.posted[index % len(self.posted)]
        before = written()
        if original.reversed:
            with pytest.raises(AlreadyReversed):
                ledger_reverse(transaction_id=original.pk, reason="again", key=self._key())
            assert written() == before
            return
        reversal = ledger_reverse(transaction_id=original.pk, reason="property")
        original.reversed = True
        assert written() == (before[0] + 1, before[1] + len(original.legs), before[2] + 1)
        mirror = [Leg(leg.account_id, -leg.amount, leg.currency) for leg in original.legs]
        for leg in mirror:
            self.expected[leg.account_id] += leg.amount
        self.posted.append(Posted(reversal.pk, f"reversal:{original.pk}", {}, mirror))

    @precondition(lambda self: any(p.kwargs for p in self.posted))
    @rule(index=st.integers(min_value=0))
    def replay(self, index):
        candidates = [p for p in self.posted if p.kwargs]
        earlier = candidates[index % len(candidates)]
        before = written()
        again = ledger_post(key=earlier.key, legs=list(reversed(earlier.legs)), **earlier.kwargs)
        assert again.pk == earlier.pk
        assert written() == before

    @precondition(lambda self: any(p.kwargs for p in self.posted))
    @rule(index=st.integers(min_value=0), extra=amounts)
    def replay_with_other_content(self, index, extra):
        candidates = [p for p in self.posted if p.kwargs]
        earlier = candidates[index % len(candidates)]
        first, second, *rest = earlier.legs
        legs = [
            Leg(first.account_id, first.amount - extra, first.currency),
            Leg(second.account_id, second.amount + extra, second.currency),
            *rest,
        ]
        if any(leg.amount == 0 for leg in legs):
            return
        before = written()
        with pytest.raises(IdempotencyConflict):
            ledger_post(key=earlier.key, legs=legs, **earlier.kwargs)
        assert written() == before

    @rule(
        who=st.integers(0, 2),
        amount=amounts,
        flaw=st.sampled_from(["unbalanced", "unrounded", "zero", "one_leg", "wrong_currency"]),
    )
    def refused_posting(self, who, amount, flaw):
        account, clearing = self.rub[who], self.clearing
        legs = {
            "unbalanced": [Leg(account.pk, -amount, "RUB"), Leg(clearing.pk, amount + Decimal("0.01"), "RUB")],
            "unrounded": [
                Leg(account.pk, -amount - Decimal("0.005"), "RUB"),
                Leg(clearing.pk, amount + Decimal("0.005"), "RUB"),
            ],
            "zero": [
                Leg(account.pk, -amount, "RUB"),
                Leg(clearing.pk, amount, "RUB"),
                Leg(clearing.pk, Decimal(0), "RUB"),
            ],
            "one_leg": [Leg(account.pk, -amount, "RUB")],
            "wrong_currency": [Leg(account.pk, -amount, "USD"), Leg(self.clearing_usd.pk, amount, "USD")],
        }[flaw]
        before = written()
        with pytest.raises((InvalidPosting, UnbalancedTransaction)):
            ledger_post(kind=Transaction.Kind.PAYMENT, key=self._key(), customer=self.customers[who], legs=legs)
        assert written() == before

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def every_transaction_balances_per_currency(self):
        assert unbalanced_transactions() == []
        assert transactions_without_entries() == []

    @invariant()
    def every_cached_balance_is_the_sum_of_entries(self):
        assert balances_differing_from_entries() == []

    @invariant()
    def cached_balances_match_the_model(self):
        actual = {
            a.pk: a.total_balance.amount for a in Account.objects.filter(pk__in=self.expected).with_slot_balance()
        }
        assert actual == self.expected


def test_random_postings_keep_the_ledger_balanced():
    # given a fresh set of customers per example, and system accounts shared between examples
    # when hypothesis runs random sequences of postings, reversals, replays and refused postings
    # then after every step: every transaction balances, every cached balance equals its entries and the model
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=50,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    assert unbalanced_transactions() == []
    assert balances_differing_from_entries() == []
    assert Transaction.objects.count() > 0
