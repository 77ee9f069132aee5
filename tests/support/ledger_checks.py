"""Whole-database checks of the ledger's invariants, for tests that bill many subscriptions at once."""

from __future__ import annotations

from django.db import connection

# (id, balance) of every account, its cached balance whole: the row's part plus its balance slots.
CACHED_BALANCES = """
    SELECT a.id, a.balance + COALESCE((SELECT SUM(s.balance) FROM billing_accountbalanceslot s
                                        WHERE s.account_id = a.id), 0) AS balance
      FROM billing_account a
"""


def _rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def unbalanced_transactions() -> list[tuple]:
    """(transaction id, currency, sum) of every transaction whose entries do not sum to zero in a currency."""
    return _rows("""
        SELECT transaction_id, amount_currency, SUM(amount) FROM billing_entry
         GROUP BY transaction_id, amount_currency HAVING SUM(amount) <> 0
    """)


def balances_differing_from_entries() -> list[tuple]:
    """(account id, cached balance, sum of entries) of every account whose cached balance drifted."""
    return _rows(f"""
        SELECT a.id, a.balance, COALESCE(SUM(e.amount), 0) FROM ({CACHED_BALANCES}) a
          LEFT JOIN billing_entry e ON e.account_id = a.id
         GROUP BY a.id, a.balance HAVING a.balance <> COALESCE(SUM(e.amount), 0)
    """)


def transactions_without_entries() -> list[int]:
    return [
        r[0]
        for r in _rows("""
        SELECT t.id FROM billing_transaction t
         WHERE NOT EXISTS (SELECT 1 FROM billing_entry e WHERE e.transaction_id = t.id)
    """)
    ]


def double_period_charges() -> list[tuple]:
    """(subscription, period start, kind, count) of per-period charges recorded more than once."""
    return _rows("""
        SELECT subscription_id, period_start, kind, count(*) FROM plans_charge
         WHERE kind IN ('recurring', 'usage', 'setup')
         GROUP BY subscription_id, period_start, kind HAVING count(*) > 1
    """)


def charges_disagreeing_with_ledger() -> list[tuple]:
    """(charge id, charge amount, customer-account debit of its transaction) where the two differ, plus charge
    transactions that no charge row points to (a charge the guard rows do not know about)."""
    return _rows("""
        SELECT c.id, c.amount, (SELECT COALESCE(SUM(e.amount), 0) FROM billing_entry e
                                  JOIN billing_account a ON a.id = e.account_id AND a.kind = 'customer'
                                 WHERE e.transaction_id = c.transaction_id)
          FROM plans_charge c
         WHERE c.amount <> (SELECT COALESCE(SUM(e.amount), 0) FROM billing_entry e
                              JOIN billing_account a ON a.id = e.account_id AND a.kind = 'customer'
                             WHERE e.transaction_id = c.transaction_id)
        UNION ALL
        SELECT NULL, NULL, t.id FROM billing_transaction t
         WHERE t.kind = 'charge' AND NOT EXISTS (SELECT 1 FROM plans_charge c WHERE c.transaction_id = t.id)
    """)


def assert_ledger_consistent() -> None:
    assert unbalanced_transactions() == []
    assert balances_differing_from_entries() == []
    assert transactions_without_entries() == []
    assert double_period_charges() == []
    assert charges_disagreeing_with_ledger() == []
