"""Outbox event types of the documents app, with frozen-dataclass payloads (ids, dates and decimal strings)."""

from __future__ import annotations

from dataclasses import dataclass

INVOICE_ISSUED = "invoice.issued"


@dataclass(frozen=True)
class InvoiceIssued:
    invoice_id: int
    number: str
    customer_id: int
    currency: str
    total: str
    issue_date: str
    due_date: str
    period_start: str
    period_end: str  # exclusive
    charge_ids: tuple[int, ...]
