"""Invoices for payment of postpaid customers (documents.services.invoicing.invoice_issue_postpaid).

Customers are in Europe/Moscow and subscribe at Moscow noon on Jan 15, 2026: the first monthly period is
[Jan 15, Feb 15) and the billing run that renews it comes at Feb 15 00:00 Moscow time. "Pro" (1000.00 a month)
is charged in advance, "Metered" (500.00 a month) in arrears. Every amount is worked out in the comment next to it.
"""
