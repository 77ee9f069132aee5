"""Which documents an export takes: those of a month (by their date), optionally of one seller or one customer,
numbered (issued or sent; drafts have no number, void ones are not sales)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Prefetch, Q, QuerySet

from documents.models import Document, DocumentLine

EXPORTED_STATUSES = (Document.Status.ISSUED, Document.Status.SENT)


def documents_for_export(
    *,
    month: dt.date | None = None,
    months: list[dt.date] | None = None,
    seller_id: int | None = None,
    customer_id: int | None = None,
    ids=None,
) -> QuerySet[Document]:
    """Issued and sent documents of `month` or `months` (any day of each: by issue date) and/or with these `ids`,
    of one seller and/or one customer when given, in register order (date, type, number), lines prefetched."""
    qs = Document.objects.filter(status__in=EXPORTED_STATUSES)
    if month is not None or months is not None:
        within = Q(pk__in=[])
        for day in [month] if month is not None else months:
            first = day.replace(day=1)
            following = (first + dt.timedelta(days=32)).replace(day=1)
            within |= Q(issue_date__gte=first, issue_date__lt=following)
        qs = qs.filter(within)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    if seller_id is not None:
        qs = qs.filter(seller_id=seller_id)
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    return (
        qs.select_related("refers_to")
        .prefetch_related(
            Prefetch("lines", queryset=DocumentLine.objects.order_by("position")),
            Prefetch("refers_to__lines", queryset=DocumentLine.objects.order_by("position")),
        )
        .order_by("issue_date", "seller_id", "doc_type", "sequence", "id")
    )
