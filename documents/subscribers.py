"""Outbox subscribers of the documents app; imported from DocumentsConfig.ready().

`documents.refund_credit_note`: a refund succeeded (billing's refund.succeeded): its credit note, and the VAT of
the refunded advance taken back. Idempotent by the refund's keys.
"""

from __future__ import annotations

from billing import events as billing_events
from billing.events import subscriber
from billing.models import Event
from documents.services.refund_documents import refund_credit_note_issue


@subscriber("documents.refund_credit_note", event_types={billing_events.REFUND_SUCCEEDED})
def issue_refund_credit_note(event: Event) -> None:
    refund_credit_note_issue(refund_id=event.payload["refund_id"])
