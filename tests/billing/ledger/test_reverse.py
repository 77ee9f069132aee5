"""ledger_reverse: mirror entries that restore the balances, replays by key, a second reversal refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing import events
from billing.errors import AlreadyReversed
from billing.models import Event, Transaction
from billing.selectors import customer_balance
from billing.services.ledger import ledger_reverse
from tests.billing.ledger.helpers import balance_of, charge, entry_sum, ledger_snapshot, rub, top_up

pytestmark = pytest.mark.django_db


# --- reversal -------------------------------------------------------------------------------


def test_reverse_posts_mirror_entries_and_restores_balances(customer, customer_account, clearing, revenue):
    # given
    top_up(customer, customer_account, clearing, "100.00", "pay-1")
    original = charge(customer, customer_account, revenue, "40.00", "charge-1")

    # when
    reversal = ledger_reverse(transaction_id=original.pk, reason="charged by mistake")

    # then
    row = Transaction.objects.get(pk=reversal.pk)
    assert (row.kind, row.reverses_id, row.customer_id, row.idempotency_key) == (
        Transaction.Kind.REVERSAL,
        original.pk,
        customer.pk,
        f"reversal:{original.pk}",
    )
    mirrored = sorted((e.account_id, e.amount.amount) for e in row.entries.all())
    assert mirrored == sorted([(customer_account.pk, Decimal("-40.0000")), (revenue.pk, Decimal("40.0000"))])
    assert customer_balance(customer=customer) == rub("100.00")
    assert balance_of(revenue) == Decimal("0.0000") == entry_sum(revenue)
    assert Transaction.objects.get(pk=original.pk).entries.count() == 2  # the original is untouched
    assert Event.objects.filter(type=events.TRANSACTION_POSTED, payload__transaction_id=reversal.pk).count() == 1


def test_reverse_replay_with_same_key_returns_the_same(customer, customer_account, clearing):
    # given
    original = top_up(customer, customer_account, clearing, "100.00", "pay-1")
    first = ledger_reverse(transaction_id=original.pk, reason="refund")
    before = ledger_snapshot()

    # when
    again = ledger_reverse(transaction_id=original.pk, reason="refund")

    # then
    assert again.pk == first.pk
    assert ledger_snapshot() == before
    assert customer_balance(customer=customer) == rub("0.00")


def test_second_reversal_is_refused(customer, customer_account, clearing):
    # given
    original = top_up(customer, customer_account, clearing, "100.00", "pay-1")
    ledger_reverse(transaction_id=original.pk, reason="refund", key="rev-a")
    before = ledger_snapshot()

    # when
    with pytest.raises(AlreadyReversed):
        ledger_reverse(transaction_id=original.pk, reason="refund again", key="rev-b")

    # then
    assert ledger_snapshot() == before
    assert Transaction.objects.filter(reverses_id=original.pk).count() == 1
