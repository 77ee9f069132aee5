"""The one writer of ledger rows.

`ledger_post` posts one balanced transaction in a single SQL statement: it checks the
idempotency key, locks the touched accounts in the global order (customer accounts by id, then
system accounts by id), checks the credit limit when asked, inserts the transaction (ON CONFLICT
on its idempotency key) and its entries, bumps the cached balances and writes the
`transaction.posted` outbox event.
PostgreSQL re-checks balance and immutability on its own (billing/sql/ledger.sql), so nothing here is
the last line of defence. Design note: docs/ledger.md.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext
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
from billing.models.ledger import SYSTEM_BALANCE_SLOTS
from billing.money import UnknownCurrency, check_currency, is_rounded, round_amount
from billing.rounding import minor_unit_exponent
from billing.services.outbox import outbox_kick
from config.db import prepared_cursor


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


# --- posting --------------------------------------------------------------------------------


def _legs_valid_as_given(legs: list[Leg], exponents: dict[str, int]) -> bool:
    """Whether `legs` pass `_validate_legs` unchanged (the common case of a batch: legs built from rounded lines
    in a supported, upper-case currency): the same checks with the currency lookups memoized in `exponents`
    (currency → its minor unit's exponent, filled on first sight). False says nothing more: the caller then runs
    `_validate_legs`, which raises the precise error or cleans the legs."""
    if len(legs) < 2:
        return False
    totals: dict[str, Decimal] = {}
    for leg in legs:
        amount, currency = leg.amount, leg.currency
        exponent = exponents.get(currency)
        if exponent is None:
            try:
                if check_currency(currency) != currency:
                    return False
            except UnknownCurrency:
                return False
            exponent = exponents[currency] = minor_unit_exponent(currency).as_tuple().exponent
        if (
            type(amount) is not Decimal
            or not amount.is_finite()
            or not amount
            or amount.as_tuple().exponent < exponent
            or len(leg.memo) > 255
        ):
            return False
        totals[currency] = totals.get(currency, 0) + amount
    return not any(totals.values())


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
        clean.append(
            leg
            if currency == leg.currency and len(leg.memo) <= 255
            else Leg(leg.account_id, leg.amount, currency, leg.memo[:255])
        )
    unbalanced = {c: t for c, t in totals.items() if t != 0}
    if unbalanced:
        raise UnbalancedTransaction(
            "Legs must sum to zero per currency: " + ", ".join(f"{t} {c}" for c, t in unbalanced.items())
        )
    return clean


def _content_hash(
    *, kind: str, effective_date: dt.date, customer_id: int | None, legs: list[Leg], reverses_id: int | None
) -> str:
    """SHA-256 of the canonical JSON of a transaction: json.dumps({kind, effective_date, customer_id, reverses_id,
    legs: sorted [account_id, normalized amount, currency, memo]}, sort_keys=True), written out directly (the batch
    hashes a thousand per chunk); `_content_hash_reference` is that definition, and a test holds them equal."""
    rows = sorted((leg.account_id, str(leg.amount.normalize()), leg.currency, leg.memo) for leg in legs)
    text = "".join(
        (
            '{"customer_id": ',
            "null" if customer_id is None else str(int(customer_id)),
            ', "effective_date": "',
            effective_date.isoformat(),
            '", "kind": ',
            _json_str(kind),
            ', "legs": [',
            ", ".join(
                f"[{int(account)}, {_json_str(amount)}, {_json_str(currency)}, {_json_str(memo)}]"
                for account, amount, currency, memo in rows
            ),
            '], "reverses_id": ',
            "null" if reverses_id is None else str(int(reverses_id)),
            "}",
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


_json_str = json.encoder.encode_basestring_ascii  # a str as json.dumps writes it (ensure_ascii), quotes included


def _content_hash_reference(
    *, kind: str, effective_date: dt.date, customer_id: int | None, legs: list[Leg], reverses_id: int | None
) -> str:
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
            gettext("Idempotency key %(key)r was already used for a different transaction (#%(transaction)s).")
            % {"key": key, "transaction": existing.pk},
            field="idempotency_key",
        )
    return existing


# One statement, one round trip (atomic on its own in autocommit, or part of the caller's transaction):
# - the idempotency check: ON CONFLICT on the key skips the insert of a key already used, and every other write
#   hangs off the insert (Python then looks the existing transaction up: a replay or a conflict);
# - the customer accounts locked in id order (the global order: customer accounts first, then balance slots;
#   every writer follows it, so none can deadlock another);
# - the checks: account exists, currency, credit limit against the locked balance;
# - then the transaction, its entries, the customer balances, one balance slot per system account (see
#   AccountBalanceSlot) and the outbox event. Nothing is written when a check fails: the insert is gated on an
#   empty `bad`. The final SELECT says what happened.
# It runs as a prepared statement (config.db.prepared_cursor), parsed and planned once per connection, and is
# kept lean: Python aggregates the per-account deltas and builds the event payload.
#
# The plan is generic (planned once, for any parameters), so it must not depend on row estimates: the legs
# (`l`) and the per-account deltas (`d`) come as VALUES lists of scalar parameters, one statement text per
# shape (legs, accounts, credit limit enforced or not), so PostgreSQL knows exactly how many rows it joins,
# and accounts and customers are looked up one id at a time (lateral and scalar subqueries), each an index
# probe whatever the table's statistics. See docs/ledger.md, "The posting statement".
_POST_SQL = """
WITH bad AS (
    SELECT 'account' AS problem, l.n, l.account_id, NULL::numeric AS needed, NULL::numeric AS available,
           NULL AS currency
      FROM (@LEGS@) AS l(account_id, amount, currency, memo, n)
     WHERE (SELECT a.balance_currency FROM billing_account a WHERE a.id = l.account_id) IS DISTINCT FROM l.currency
@FUNDS@), t AS (
    INSERT INTO billing_transaction
        (kind, idempotency_key, content_hash, effective_date, posted_at, customer_id, source_type, source_id,
         description, reverses_id, created_by, metadata)
    SELECT %(kind)s, %(key)s, %(hash)s, %(effective_date)s, now(), %(customer_id)s, %(source_type)s,
           %(source_id)s, %(description)s, %(reverses_id)s, %(created_by)s, %(metadata)s::jsonb
     WHERE NOT EXISTS (SELECT 1 FROM bad)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, posted_at
), e AS (
    INSERT INTO billing_entry (transaction_id, account_id, amount, amount_currency, memo)
    SELECT t.id, l.account_id, l.amount, l.currency, l.memo
      FROM t, (@LEGS@) AS l(account_id, amount, currency, memo, n)
@UPDATES@), s AS (
    INSERT INTO billing_accountbalanceslot AS s (account_id, slot, balance)
    SELECT d.id, floor(random() * %(slots)s)::int, d.delta
      FROM (@DELTAS@) AS d(id, delta)
     WHERE EXISTS (SELECT 1 FROM t)
       AND d.id <> ALL (coalesce((SELECT array_agg(u.id) FROM u), '{}'))  -- every uN has run: lock order
     ORDER BY d.id
    ON CONFLICT (account_id, slot) DO UPDATE SET balance = s.balance + EXCLUDED.balance
), ev AS (
    INSERT INTO billing_event (type, payload, customer_id, created_at, attempts, last_error)
    SELECT %(event_type)s, jsonb_build_object('transaction_id', t.id) || %(payload)s::jsonb, %(customer_id)s,
           now(), 0, ''
      FROM t
)
SELECT 'posted', t.id, t.posted_at, NULL::bigint, NULL::bigint, NULL::numeric, NULL::numeric, NULL FROM t
UNION ALL
SELECT problem, NULL, NULL, n, account_id, needed, available, currency FROM bad
"""

# With enforce_credit_limit: the customer accounts locked up front, in id order, and checked against their
# customers' credit limits.
_FUNDS_SQL = """    UNION ALL
    SELECT 'funds', NULL, cust.id, cust.delta, cust.credit_limit - cust.balance, cust.balance_currency
      FROM (SELECT a.id, a.balance, a.balance_currency, d.delta,
                   (SELECT c.credit_limit FROM billing_customer c WHERE c.id = a.customer_id) AS credit_limit
              FROM (@DELTAS@) AS d(id, delta)
             CROSS JOIN LATERAL (SELECT a.id, a.balance, a.balance_currency, a.customer_id
                                   FROM billing_account a
                                  WHERE a.id = d.id AND a.kind = 'customer'
                                    FOR NO KEY UPDATE) a) cust
     WHERE cust.delta > 0 AND cust.delta > cust.credit_limit - cust.balance
"""

# A customer account's cached balance, one UPDATE per account by its id (u0, u1, … in ascending id order, each
# after the one before, so customer accounts are locked in the global order before any balance slot, which `s`
# upserts only once every uN has run); a system account's id matches no customer account and gets its delta in a
# balance slot instead.
_UPDATE_SQL = """), u{i} AS (
    UPDATE billing_account a SET balance = a.balance + %(dm{i})s::numeric
     WHERE a.id = %(da{i})s::bigint AND a.kind = 'customer' AND EXISTS (SELECT 1 FROM t)@AFTER@
    RETURNING a.id
"""

# u{i} (i > 0) waits for u{i-1} to have run to completion (a one-time filter over its output) before it locks its
# row: PostgreSQL promises no order between the data-modifying CTEs of a statement, so the id order is chained
# explicitly. It costs an aggregate over at most one row.
_AFTER_SQL = "\n       AND (SELECT count(*) FROM u{p}) >= 0"


@functools.lru_cache(maxsize=256)
def _post_sql(legs: int, accounts: int, enforce_credit_limit: bool) -> str:
    """The posting statement for `legs` legs touching `accounts` accounts (params da0, da1, … in ascending order)."""
    leg_rows = ", ".join(
        f"(%(la{i})s::bigint, %(lm{i})s::numeric, %(lc{i})s::varchar, %(ln{i})s::varchar, {i + 1})" for i in range(legs)
    )
    delta_rows = (
        "VALUES " + ", ".join(f"(%(da{i})s::bigint, %(dm{i})s::numeric)" for i in range(accounts))
        if accounts
        else "SELECT NULL::bigint, NULL::numeric WHERE false"
    )
    updates = "".join(
        _UPDATE_SQL.replace("@AFTER@", _AFTER_SQL.replace("{p}", str(i - 1)) if i else "").replace("{i}", str(i))
        for i in range(accounts)
    )
    updated = " UNION ALL ".join(f"SELECT id FROM u{i}" for i in range(accounts)) or "SELECT NULL::bigint WHERE false"
    return (
        _POST_SQL.replace("@FUNDS@", _FUNDS_SQL if enforce_credit_limit else "")
        .replace("@LEGS@", "VALUES " + leg_rows)
        .replace("@DELTAS@", delta_rows)
        .replace("@UPDATES@", f"{updates}), u(id) AS (\n    {updated}\n")
    )


_KINDS = frozenset(Transaction.Kind.values)


_TRANSACTION_FIELDS = tuple(field.attname for field in Transaction._meta.concrete_fields)


def _transaction_row(**values) -> tuple:
    """The posted transaction's field values in the model's field order, for the positional (cheaper) path of
    Model.__init__: ledger_post builds one Transaction per posting without a query."""
    return tuple(values[attname] for attname in _TRANSACTION_FIELDS)


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
    One SQL statement does it all (atomic on its own, or part of the caller's transaction).
    """
    if kind not in _KINDS:
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
    payload = {
        "kind": kind,
        "customer_id": customer_id,
        "effective_date": effective_date.isoformat(),
        "idempotency_key": key,  # the statement adds transaction_id
        "entries": [
            {"account_id": leg.account_id, "amount": str(leg.amount), "currency": leg.currency, "memo": leg.memo}
            for leg in legs
        ],
    }
    deltas: dict[int, Decimal] = {}
    for leg in legs:
        deltas[leg.account_id] = deltas.get(leg.account_id, Decimal(0)) + leg.amount
    deltas = {account_id: delta for account_id, delta in deltas.items() if delta}
    params = {
        "kind": kind,
        "key": key,
        "hash": content_hash,
        "effective_date": effective_date,
        "customer_id": customer_id,
        "source_type": source_type[:50],
        "source_id": str(source_id)[:100],
        "description": description,
        "reverses_id": reverses_id,
        "created_by": created_by[:255],
        "metadata": json.dumps(metadata) if metadata else "{}",
        "event_type": events.TRANSACTION_POSTED,
        "payload": json.dumps(payload),
        "slots": SYSTEM_BALANCE_SLOTS,
    }
    for i, leg in enumerate(legs):
        params[f"la{i}"], params[f"lm{i}"], params[f"lc{i}"], params[f"ln{i}"] = (
            leg.account_id,
            leg.amount,
            leg.currency,
            leg.memo,
        )
    for i, account_id in enumerate(sorted(deltas)):
        params[f"da{i}"], params[f"dm{i}"] = account_id, deltas[account_id]
    cursor = prepared_cursor()  # the connection's own cursor: not closed
    cursor.execute(_post_sql(len(legs), len(deltas), enforce_credit_limit), params)
    rows = cursor.fetchall()
    outcome = {row[0]: row for row in rows}
    if "posted" in outcome:
        outbox_kick()
        _, tx_id, posted_at, *_ = outcome["posted"]
        return Transaction(
            *_transaction_row(
                id=tx_id,
                posted_at=posted_at,
                kind=kind,
                idempotency_key=key,
                content_hash=content_hash,
                effective_date=effective_date,
                customer_id=customer_id,
                source_type=source_type,
                source_id=str(source_id),
                description=description,
                reverses_id=reverses_id,
                created_by=created_by,
                metadata=metadata or {},
            )
        )
    # not posted: the key was used already (ON CONFLICT skipped the insert) — a replay when the content matches,
    # else a conflict, whatever the checks say now — or a check failed
    existing = _existing(key, content_hash)
    if existing is not None:
        return existing
    _raise_problem(rows, legs)
    raise IdempotencyConflict(
        gettext("Idempotency key %(key)r is being used by a concurrent posting.") % {"key": key},
        field="idempotency_key",
    )


def _raise_problem(rows: list[tuple], legs: list[Leg]) -> None:
    problems = sorted(
        (row for row in rows if row[0] in ("account", "funds")), key=lambda r: (r[0] != "account", r[3] or 0)
    )
    if not problems:
        return  # nothing failed: the caller looks at the idempotency key
    problem, _, _, n, account_id, needed, available, currency = problems[0]
    if problem == "account":  # the account is missing or in another currency: say which (a failure, so rare)
        index = n - 1
        account = Account.objects.filter(pk=account_id).values_list("code", "balance_currency").first()
        if account is None:
            raise InvalidPosting(f"Leg {index}: account {account_id} does not exist.", field=f"legs.{index}.account")
        code, currency = account
        raise InvalidPosting(
            f"Leg {index}: account {code} is in {currency}, not {legs[index].currency}.", field=f"legs.{index}.currency"
        )
    needed, available = round_amount(needed, currency), round_amount(available, currency)
    raise InsufficientFunds(
        gettext(
            "Insufficient funds: %(needed)s %(currency)s needed, %(available)s %(currency)s available including the "
            "credit limit."
        )
        % {"needed": needed, "available": available, "currency": currency},
        extra={"needed": str(needed), "available": str(available), "currency": currency},
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
        raise AlreadyReversed(
            gettext("Transaction #%(id)s was already reversed by #%(reversal)s.")
            % {"id": original.pk, "reversal": existing.pk}
        )
    try:
        return ledger_post(
            kind=Transaction.Kind.REVERSAL,
            key=key,
            legs=legs,
            effective_date=timezone.now().date(),
            customer=original.customer_id,
            source_type="reversal",
            source_id=str(original.pk),
            description=reason or f"Reversal of #{original.pk}",
            reverses=original,
            created_by=created_by,
        )
    except IntegrityError as exc:  # the one-reversal-per-transaction constraint decided a race
        if "reverses_id" not in str(exc):
            raise
        raise AlreadyReversed(gettext("Transaction #%(id)s was already reversed.") % {"id": original.pk}) from exc
