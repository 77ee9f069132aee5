"""Helpers the billing admin pages share: amounts as shown, Debit and Credit columns, links to a row's admin page."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.admin.utils import quote
from django.urls import reverse

from billing.models import Account, Entry, Transaction
from billing.money import format_money

# adjusting a balance and reversing a transaction post to the ledger: both take this permission
ADJUST_PERMISSION = "billing.add_transaction"


def money_text(amount, currency: str) -> str:
    """An amount as the ledger holds it (already rounded), as an accountant reads it (billing.money.format_money)."""
    return format_money(amount, currency)


def admin_url(obj, action: str = "change") -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{action}", args=[quote(obj.pk)])


def _customer_totals(txn: Transaction) -> dict[str, Decimal]:
    """The signed sum of the transaction's entries on its customer's accounts, per currency (debit positive)."""
    totals: dict[str, Decimal] = {}
    for entry in txn.entries.all():
        if entry.account.kind == Account.Kind.CUSTOMER and entry.account.customer_id == txn.customer_id:
            code = entry.amount.currency.code
            totals[code] = totals.get(code, Decimal(0)) + entry.amount.amount
    return totals


def _side(amounts: dict[str, Decimal], debit: bool) -> str:
    shown = [money_text(abs(a), code) for code, a in sorted(amounts.items()) if (a > 0 if debit else a < 0)]
    return ", ".join(shown) or ""


def transaction_debit(txn: Transaction) -> str:
    """The Debit column of a transaction: with a customer, what it debited to the customer's account (a charge);
    without one, its turnover (a balanced transaction's debits equal its credits)."""
    if txn.customer_id:
        return _side(_customer_totals(txn), debit=True)
    return _side(_turnover(txn), debit=True)


def transaction_credit(txn: Transaction) -> str:
    """The Credit column: with a customer, what it credited to the customer's account (a top-up, a refund of a
    charge); without one, its turnover."""
    if txn.customer_id:
        return _side(_customer_totals(txn), debit=False)
    return _side({code: -a for code, a in _turnover(txn).items()}, debit=False)


def _turnover(txn: Transaction) -> dict[str, Decimal]:
    debits: dict[str, Decimal] = {}
    for entry in txn.entries.all():
        if entry.amount.amount > 0:
            code = entry.amount.currency.code
            debits[code] = debits.get(code, Decimal(0)) + entry.amount.amount
    return debits


def entry_debit(entry: Entry) -> str:
    """An entry's signed amount is debit positive: a positive one is shown under Debit."""
    amount = entry.amount.amount
    return money_text(amount, entry.amount.currency.code) if amount > 0 else ""


def entry_credit(entry: Entry) -> str:
    """A negative amount is a credit, shown positive under Credit."""
    amount = entry.amount.amount
    return money_text(-amount, entry.amount.currency.code) if amount < 0 else ""
