"""Subscription lifecycle through the services and the billing run, time pinned with `at=`.

Every amount is computed by hand in the comment next to it. Customers are in Europe/Moscow
(UTC+3) unless a test says otherwise; instants are Moscow noon unless a test is about midnight.
"""
