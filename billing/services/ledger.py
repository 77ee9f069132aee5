"""The one writer of ledger rows.

`ledger_post` posts one balanced transaction: it locks the touched accounts in primary-key
order, checks the credit limit when asked, then in a single statement inserts the transaction
(ON CONFLICT on its idempotency key), its entries, bumps the cached balances and writes the
`transaction.posted` outbox event. PostgreSQL re-checks balance and immutability on its own
(migration 0002), so nothing here is the last line of defence.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from moneyed import Money

from billing import events
from billing.errors import (
    AlreadyReversed,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidPosting,
    UnbalancedTransaction,
)
from billing.models import Account, Customer, Transaction
from billing.money import UnknownCurrency, check_currency, is_rounded
from billing.services.outbox import outbox_kick


@dataclass(frozen=True)
class Leg:
    """One side of a posting: a signed amount (debit positive) on an account."""

    account_id: int
    amount: Decimal
    currency: str
    memo: str = ""

    @classmethod
    def debit(cls, account: Account, money: Money, memo: str = "") -> Leg:
        return cls(account.pk, money.amount, money.currency.code, memo)

    @classmethod
    def credit(cls, account: Account, money: Money, memo: str = "") -> Leg:
        return cls(account.pk, -money.amount, money.currency.code, memo)


# --- accounts -------------------------------------------------------------------------------

def _account_get_or_create(*, kind: str, code: str, name: str, currency: str, customer_id: int | None) -> Account:
    currency = check_currency(currency)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO billing_account (kind, code, name, customer_id, balance, balance_currency, created_at)
            VALUES (%s, %s, %s, %s, 0, %s, now())
            ON CONFLICT (code, balance_currency) DO NOTHING
            """,
            [kind, code, name, customer_id, currency],
        )
    return Account.objects.get(code=code, balance_currency=currency)


def account_system(*, kind: str, currency: str, code: str | None = None) -> Account:
    """A system account (revenue, VAT payable, clearing, promo, refunds, adjustments) in a currency."""
    if kind == Account.Kind.CUSTOMER:
        raise ValueError("customer accounts come from account_for_customer")
    code = code or kind
    return _account_get_or_create(
        kind=kind, code=code, name=f"{Account.Kind(kind).label}: {code}" if code != kind else Account.Kind(kind).label,
        currency=currency, customer_id=None,
    )


def account_for_customer(*, customer: Customer, currency: str | None = None) -> Account:
    currency = currency or customer.currency
    return _account_get_or_create(
        kind=Account.Kind.CUSTOMER, code=f"customer:{customer.pk}", name=f"Balance of {customer.name}"[:255],
        currency=currency, customer_id=customer.pk,
    )


# --- posting --------------------------------------------------------------------------------


def _validate_legs(legs: list[Leg]) -> list[Leg]:
    if len(legs) < 2:
        raise InvalidPosting("A transaction needs at least two legs.", field="legs")
    totals: dict[str, Decimal] = defaultdict(Decimal)
    clean: list[Leg] = []
    for index, leg in enumerate(legs):
        if not isinstance(leg.amount, Decimal) or not leg.amount.is_finite():
            raise InvalidPosting(f"Leg {index}: the amount must be a finite Decimal.", field=f"legs.{index}.amount")
        try:
            currency = check_currency(leg.currency)
        except UnknownCurrency as exc:
            raise InvalidPosting(str(exc), field=f"legs.{index}.currency") from exc
        if leg.amount == 0:
            raise InvalidPosting(f"Leg {index}: the amount must not be zero.", field=f"legs.{index}.amount")
        if not is_rounded(leg.amount, currency):
            raise InvalidPosting(
                f"Leg {index}: {leg.amount} is not rounded to the minor unit of {currency}.",
                field=f"legs.{index}.amount",
            )
        totals[currency] += leg.amount
        clean.append(Leg(leg.account_id, leg.amount, currency, leg.memo[:255]))
    unbalanced = {c: t for c, t in totals.items() if t != 0}
    if unbalanced:
        raise UnbalancedTransaction(
            "Legs must sum to zero per currency: " + ", ".join(f"{t} {c}" for c, t in unbalanced.items())
        )
    return clean


def _content_hash(*, kind: str, effective_date: dt.date, customer_id: int | None, legs: list[Leg],
                  reverses_id: int | None) -> str:
    canonical = {
        "kind": kind,
        "effective_date": effective_date.isoformat(),
        "customer_id": customer_id,
        "reverses_id": reverses_id,
        "legs": sorted([leg.account_id, str(leg.amount.normalize()), leg.currency, leg.memo] for leg in legs),
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def _existing(key: str, content_hash: str) -> Transaction | None:
    existing = Transaction.objects.filter(idempotency_key=key).first()
    if existing is not None and existing.content_hash != content_hash:
        raise IdempotencyConflict(
            f"Idempotency key {key!r} was already used for a different transaction (#{existing.pk}).",
            field="idempotency_key",
        )
    return existing


_LOCK_SQL = """
    SELECT a.id, a.kind, a.code, a.balance, a.balance_currency, a.customer_id, c.credit_limit
      FROM billing_account a
      LEFT JOIN billing_customer c ON c.id = a.customer_id
     WHERE a.id = ANY(%s)
     ORDER BY a.kind <> 'customer', a.id
       FOR NO KEY UPDATE OF a
"""
# The global lock order of ledger accounts: customer accounts by id, then system accounts by id. Every
# writer (this function, the batch writer, closing a customer) follows it, so none can deadlock another.

_POST_SQL = """
WITH t AS (
    INSERT INTO billing_transaction
        (kind, idempotency_key, content_hash, effective_date, posted_at, customer_id, source_type, source_id,
         description, reverses_id, created_by, metadata)
    VALUES (%(kind)s, %(key)s, %(hash)s, %(effective_date)s, now(), %(customer_id)s, %(source_type)s,
            %(source_id)s, %(description)s, %(reverses_id)s, %(created_by)s, %(metadata)s::jsonb)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, posted_at
), e AS (
    INSERT INTO billing_entry (transaction_id, account_id, amount, amount_currency, memo)
    SELECT t.id, x.account_id, x.amount, x.currency, x.memo
      FROM t, unnest(%(account_ids)s::bigint[], %(amounts)s::numeric[], %(currencies)s::varchar[],
                     %(memos)s::varchar[]) AS x(account_id, amount, currency, memo)
), u AS (
    UPDATE billing_account a
       SET balance = a.balance + d.delta
      FROM (SELECT account_id, SUM(amount) AS delta
              FROM unnest(%(account_ids)s::bigint[], %(amounts)s::numeric[]) AS y(account_id, amount)
             GROUP BY account_id) AS d
     WHERE a.id = d.account_id AND EXISTS (SELECT 1 FROM t)
), ev AS (
    INSERT INTO billing_event (type, payload, customer_id, created_at, attempts, last_error)
    SELECT %(event_type)s, %(payload)s::jsonb || jsonb_build_object('transaction_id', t.id), %(customer_id)s,
           now(), 0, ''
      FROM t
)
SELECT id, posted_at FROM t
"""


def ledger_post(
    *,
    kind: str,
    key: str,
    legs: list[Leg],
    effective_date: dt.date | None = None,
    customer: Customer | int | None = None,
    source_type: str = "",
    source_id: str = "",
    description: str = "",
    reverses: Transaction | None = None,
    created_by: str = "",
    metadata: dict | None = None,
    enforce_credit_limit: bool = False,
) -> Transaction:
    """Post one balanced transaction, idempotently by `key`.

    Same key and same content returns the transaction already posted; same key and other
    content raises IdempotencyConflict. With `enforce_credit_limit`, a customer account that
    would fall below minus its credit limit raises InsufficientFunds and nothing is written.
    """
    if kind not in Transaction.Kind.values:
        raise InvalidPosting(f"Unknown transaction kind {kind!r}.", field="kind")
    if not key or len(key) > 255:
        raise InvalidPosting("An idempotency key of 1 to 255 characters is required.", field="idempotency_key")
    legs = _validate_legs(legs)
    effective_date = effective_date or timezone.now().date()
    customer_id = customer.pk if isinstance(customer, Customer) else customer
    reverses_id = reverses.pk if reverses is not None else None
    content_hash = _content_hash(
        kind=kind, effective_date=effective_date, customer_id=customer_id, legs=legs, reverses_id=reverses_id
    )

    with transaction.atomic(savepoint=False):
        existing = _existing(key, content_hash)
        if existing is not None:
            return existing

        account_ids = sorted({leg.account_id for leg in legs})
        with connection.cursor() as cursor:
            cursor.execute(_LOCK_SQL, [account_ids])
            locked = {row[0]: row for row in cursor.fetchall()}
        deltas: dict[int, Decimal] = defaultdict(Decimal)
        for index, leg in enumerate(legs):
            row = locked.get(leg.account_id)
            if row is None:
                raise InvalidPosting(f"Leg {index}: account {leg.account_id} does not exist.",
                                     field=f"legs.{index}.account")
            if row[4] != leg.currency:
                raise InvalidPosting(
                    f"Leg {index}: account {row[2]} is in {row[4]}, not {leg.currency}.",
                    field=f"legs.{index}.currency",
                )
            deltas[leg.account_id] += leg.amount
        if enforce_credit_limit:
            for account_id, delta in deltas.items():
                _, kind_, code, balance, currency, acc_customer_id, credit_limit = locked[account_id]
                if kind_ == Account.Kind.CUSTOMER and delta > 0:
                    available = -balance + (credit_limit or 0)
                    if delta > available:
                        raise InsufficientFunds(
                            f"Insufficient funds: {delta} {currency} needed, {available} {currency} available "
                            "including the credit limit.",
                            extra={"needed": str(delta), "available": str(available), "currency": currency},
                        )

        entries = [
            {"account_id": leg.account_id, "account_code": locked[leg.account_id][2], "amount": str(leg.amount),
             "currency": leg.currency, "memo": leg.memo}
            for leg in legs
        ]
        payload = events.payload_of(
            events.TransactionPosted(
                transaction_id=0, kind=kind, customer_id=customer_id, effective_date=effective_date.isoformat(),
                idempotency_key=key, entries=tuple(entries),
            )
        )
        del payload["transaction_id"]  # filled in by the statement
        params = {
            "kind": kind, "key": key, "hash": content_hash, "effective_date": effective_date,
            "customer_id": customer_id, "source_type": source_type[:50], "source_id": str(source_id)[:100],
            "description": description, "reverses_id": reverses_id, "created_by": created_by[:255],
            "metadata": json.dumps(metadata or {}),
            "account_ids": [leg.account_id for leg in legs], "amounts": [leg.amount for leg in legs],
            "currencies": [leg.currency for leg in legs], "memos": [leg.memo for leg in legs],
            "event_type": events.TRANSACTION_POSTED, "payload": json.dumps(payload),
        }
        with connection.cursor() as cursor:
            cursor.execute(_POST_SQL, params)
            row = cursor.fetchone()
        if row is None:  # a concurrent poster committed the same key first
            existing = _existing(key, content_hash)
            assert existing is not None
            return existing
        outbox_kick()

    return Transaction(
        id=row[0], posted_at=row[1], kind=kind, idempotency_key=key, content_hash=content_hash,
        effective_date=effective_date, customer_id=customer_id, source_type=source_type, source_id=str(source_id),
        description=description, reverses_id=reverses_id, created_by=created_by, metadata=metadata or {},
    )


def ledger_reverse(*, transaction_id: int, reason: str, created_by: str = "", key: str | None = None) -> Transaction:
    """Post the mirror image of a transaction. A transaction is reversed at most once."""
    original = Transaction.objects.prefetch_related("entries").get(pk=transaction_id)
    key = key or f"reversal:{original.pk}"
    legs = [
        Leg(entry.account_id, -entry.amount.amount, entry.amount.currency.code, f"Reversal: {entry.memo}"[:255])
        for entry in original.entries.all()
    ]
    existing = Transaction.objects.filter(reverses=original).first()
    if existing is not None and existing.idempotency_key != key:
        raise AlreadyReversed(f"Transaction #{original.pk} was already reversed by #{existing.pk}.")
    try:
        return ledger_post(
            kind=Transaction.Kind.REVERSAL, key=key, legs=legs, effective_date=timezone.now().date(),
            customer=original.customer_id, source_type="reversal", source_id=str(original.pk),
            description=reason or f"Reversal of #{original.pk}", reverses=original, created_by=created_by,
        )
    except IntegrityError as exc:  # the one-reversal-per-transaction constraint decided a race
        if "reverses_id" not in str(exc):
            raise
        raise AlreadyReversed(f"Transaction #{original.pk} was already reversed.") from exc
