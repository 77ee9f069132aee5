"""Helpers the billing admin pages share: amounts as shown, links to a row's admin page."""

from __future__ import annotations

from django.contrib.admin.utils import quote
from django.urls import reverse

from billing.models import Account, Transaction
from billing.money import round_amount

# adjusting a balance and reversing a transaction post to the ledger: both take this permission
ADJUST_PERMISSION = "billing.add_transaction"


def money_text(amount, currency: str) -> str:
    """An amount as the ledger holds it (already rounded), shown at the currency's minor unit."""
    return f"{round_amount(amount, currency)} {currency}"


def admin_url(obj, action: str = "change") -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{action}", args=[quote(obj.pk)])


def customer_amounts(txn: Transaction) -> str:
    """What the transaction did to the customer's balance, per currency (positive: funds added)."""
    totals: dict[str, object] = {}
    for entry in txn.entries.all():
        if entry.account.kind == Account.Kind.CUSTOMER and entry.account.customer_id == txn.customer_id:
            code = entry.amount.currency.code
            totals[code] = totals.get(code, 0) - entry.amount.amount
    if not totals:
        return "—"
    return ", ".join(
        f"{'+' if amount > 0 else ''}{money_text(amount, code)}" for code, amount in sorted(totals.items())
    )
