"""Properties of the subscription services, through the real services and the ledger (hypothesis).

(a) A period's net charges (charges minus credits) never exceed its full price and never go below
    zero, and equal the day-weighted price of what was held within one kopeck per posted line.
(b) An upgrade (or a quantity change) and the change back on the same day net to zero within 0.01.
(c) Random lifecycle sequences keep every transaction balanced per currency, every cached balance
    equal to the sum of its entries, and every Charge row equal to what it posted to the customer.

Runs with real commits (`transaction=True`) like tests/invariants/test_ledger_properties.py: each
example builds its own catalog (unique codes) and customers.
"""
