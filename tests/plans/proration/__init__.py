"""End-to-end proration: subscription_change_plan posts exactly the hand-computed ledger lines, and
subscription_change_preview returns exactly what it posts.

Unlike tests/plans/pricing/test_proration.py (pure functions), every case here goes through the
services: a real subscription created (and sometimes renewed by the billing run) in the customer's
calendar, the change at a pinned instant, the Charge row, the ledger entries and the balance.
The day of the change counts on the new plan; each line is rounded once, half up to the kopeck.
Customers are in Europe/Moscow; changes happen at 15:00 Moscow time unless the row says otherwise.
"""
