"""Bad input to the subscription and usage services: the specific error class with its field, and
nothing written (subscriptions, options, discounts, scheduled changes, charges, ledger transactions
and entries, events, usage events, coupon redemptions are counted before and after)."""
