"""Past due: when a prepaid customer's balance is beyond the credit limit, and since when.

The grace period before suspension counts from `Customer.past_due_since`. Charging marks it (the billing run,
per chunk; a single charge, per customer); money coming in clears it once the balance is back within the limit.
What follows from it for subscriptions (suspension, resumption) is the plans app's business.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection

from config.db import array_literal

_MARK_SQL = """
UPDATE billing_customer c SET past_due_since = %s
  FROM billing_account a
 WHERE a.customer_id = c.id AND a.kind = 'customer' AND a.balance_currency = c.currency
   AND c.id = ANY(%s::bigint[]) AND c.billing_model = 'prepaid' AND c.past_due_since IS NULL
   AND a.balance > c.credit_limit
"""

_CLEAR_SQL = """
UPDATE billing_customer c SET past_due_since = NULL
  FROM billing_account a
 WHERE c.id = %s AND a.customer_id = c.id AND a.kind = 'customer' AND a.balance_currency = c.currency
   AND c.past_due_since IS NOT NULL AND a.balance <= c.credit_limit
"""


_CLEAR_MANY_SQL = """
UPDATE billing_customer c SET past_due_since = NULL
  FROM billing_account a
 WHERE c.id = ANY(%s::bigint[]) AND a.customer_id = c.id AND a.kind = 'customer' AND a.balance_currency = c.currency
   AND c.past_due_since IS NOT NULL AND a.balance <= c.credit_limit
"""


def customers_past_due_clear(*, customer_ids: list[int]) -> None:
    """`customer_past_due_clear` for many customers in one statement (a bank statement's credits)."""
    with connection.cursor() as cursor:
        cursor.execute(_CLEAR_MANY_SQL, [array_literal(customer_ids)])


def customers_mark_past_due(*, customer_ids: list[int], at: dt.datetime) -> None:
    """Start the grace period of prepaid customers whose balance went beyond the credit limit (one statement)."""
    with connection.cursor() as cursor:
        cursor.execute(_MARK_SQL, [at, array_literal(customer_ids)])


def customer_past_due_clear(*, customer_id: int) -> bool:
    """Clear the past-due mark once the balance is back within the credit limit. Returns whether the customer is
    within the limit now (True also when it was never past due). Idempotent."""
    with connection.cursor() as cursor:
        cursor.execute(_CLEAR_SQL, [customer_id])
        cursor.execute("SELECT past_due_since IS NULL FROM billing_customer WHERE id = %s", [customer_id])
        row = cursor.fetchone()
    return bool(row and row[0])
