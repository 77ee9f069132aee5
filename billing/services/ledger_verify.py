"""The scheduled proof of what the database does not check at commit: every account's cached balance (its row plus
its balance slots) equals the sum of its entries, and every transaction's entries sum to zero per currency.

Two aggregate queries over the whole ledger (one hash aggregate of the entries per account, one per transaction and
currency), read in one REPEATABLE READ snapshot so that postings committing meanwhile cannot show as differences.
The result is stored (LedgerVerification, shown in the admin) and a difference is logged at ERROR. Run daily by
Celery beat (billing.tasks.ledger_verify) and by `manage.py ledger_verify`. See docs/ledger.md.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from billing.models import LedgerVerification

logger = logging.getLogger(__name__)

# How many differences of each kind a verification keeps (the counts are always complete).
DIFFERENCES_KEPT = 100

# Every account whose cached balance is not the sum of its entries, and every account id that entries name but
# no account has (the FULL JOIN's right side).
_ACCOUNT_DIFFERENCES = """
WITH e AS (SELECT account_id, sum(amount) AS total FROM billing_entry GROUP BY account_id),
     s AS (SELECT account_id, sum(balance) AS total FROM billing_accountbalanceslot GROUP BY account_id)
SELECT coalesce(a.id, e.account_id), a.code, a.balance_currency, a.balance + coalesce(s.total, 0),
       coalesce(e.total, 0)
  FROM billing_account a
  FULL JOIN e ON e.account_id = a.id
  LEFT JOIN s ON s.account_id = a.id
 WHERE a.id IS NULL OR a.balance + coalesce(s.total, 0) <> coalesce(e.total, 0)
 ORDER BY 1
"""

_TRANSACTION_DIFFERENCES = """
SELECT transaction_id, amount_currency, sum(amount) FROM billing_entry
 GROUP BY transaction_id, amount_currency HAVING sum(amount) <> 0
 ORDER BY 1, 2
"""

_COUNTS = "SELECT (SELECT count(*) FROM billing_account), (SELECT count(*) FROM billing_transaction)"


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def ledger_verify() -> LedgerVerification:
    """Prove the cached balances and the per-transaction sums against the entries; store and return the result.

    A difference is logged at ERROR (with the first few) and kept on the returned row, whose `ok` is then False."""
    verification = LedgerVerification.objects.create()
    own_transaction = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if own_transaction:  # not inside a caller's transaction: one snapshot for every query
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute(_COUNTS)
        accounts_checked, transactions_checked = cursor.fetchone()
        cursor.execute(_ACCOUNT_DIFFERENCES)
        accounts = cursor.fetchall()
        cursor.execute(_TRANSACTION_DIFFERENCES)
        transactions = cursor.fetchall()
    differences = {
        "accounts_count": len(accounts),
        "accounts": [
            {
                "account_id": account_id,
                "code": code,
                "currency": currency,
                "cached_balance": _amount(cached),
                "sum_of_entries": _amount(entries),
            }
            for account_id, code, currency, cached, entries in accounts[:DIFFERENCES_KEPT]
        ],
        "transactions_count": len(transactions),
        "transactions": [
            {"transaction_id": transaction_id, "currency": currency, "sum": _amount(total)}
            for transaction_id, currency, total in transactions[:DIFFERENCES_KEPT]
        ],
    }
    verification.finished_at = timezone.now()
    verification.ok = not accounts and not transactions
    verification.accounts_checked = accounts_checked
    verification.transactions_checked = transactions_checked
    verification.differences = differences if not verification.ok else {}
    verification.save(update_fields=["finished_at", "ok", "accounts_checked", "transactions_checked", "differences"])
    if not verification.ok:
        logger.error(
            "LEDGER VERIFICATION #%s FAILED: %s account(s) whose cached balance differs from the sum of its entries "
            "(first: %s), %s transaction(s) whose entries do not sum to zero (first: %s)",
            verification.pk,
            len(accounts),
            differences["accounts"][:5],
            len(transactions),
            differences["transactions"][:5],
        )
    else:
        logger.info(
            "ledger verification #%s: %s accounts and %s transactions agree with their entries",
            verification.pk,
            accounts_checked,
            transactions_checked,
        )
    return verification
