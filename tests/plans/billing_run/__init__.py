"""The billing run (plans.services.billing_run, ledger_batch, the chunk's pricing, tasks and `manage.py bill`).

Customers are in Europe/Moscow (UTC+3, no DST) and subscribe at Moscow noon on Jan 15, 2026, so the first
monthly period is [Jan 15, Feb 15) and the run that renews it comes at Feb 15 00:00 Moscow time. Every amount
is computed by hand in the comment next to it.
"""
