"""A ZIP of documents' PDFs: all documents of a period of one customer, of one seller, or any selection.

Folders: <seller INN>/<customer>/<type>_<number>.pdf, and `register.csv` (documents.exports.register) at the root,
so the archive says what it holds. A document's stored PDF is used when it has one; otherwise it is rendered with
`renderer` (by default the documents app's renderer, documents.rendering.document_pdf_bytes). Entries carry the
document's date, so zipping the same documents twice gives the same bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterable

from django.utils.translation import gettext as _

from config.errors import ApplicationError
from documents.exports.register import register_csv
from documents.models import Document

Renderer = Callable[[Document], bytes]


class PdfRendererMissing(ApplicationError):
    code = "pdf_renderer_missing"


def default_renderer() -> Renderer:
    """documents.rendering.document_pdf_bytes, the one PDF renderer of the project."""
    try:
        from documents.rendering import document_pdf_bytes
    except ImportError as exc:  # the rendering module is not installed in this build
        raise PdfRendererMissing(_("PDF rendering is not available.")) from exc
    return document_pdf_bytes


_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_")[:80] or "_"


def document_file_name(document: Document) -> str:
    return f"{_safe(document.doc_type)}_{_safe(document.number or f'draft-{document.pk}')}.pdf"


def _folder(document: Document) -> str:
    seller, buyer = document.seller_data or {}, document.buyer_data or {}
    seller_part = _safe(seller.get("inn") or f"seller-{document.seller_id}")
    customer_part = _safe(
        f"{buyer.get('inn') or document.customer_id}_{buyer.get('full_name') or buyer.get('name') or ''}"
    )
    return f"{seller_part}/{customer_part}"


def _pdf_of(document: Document, renderer: Renderer | None) -> bytes:
    if document.pdf:
        with document.pdf.open("rb") as stored:
            return stored.read()
    if renderer is None:
        renderer = default_renderer()
    return renderer(document)


def documents_zip(documents: Iterable[Document], *, renderer: Renderer | None = None) -> bytes:
    """The ZIP of these documents (lines prefetched: see documents.exports.selection.documents_for_export)."""
    documents = list(documents)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for document in documents:
            day = document.issue_date
            info = zipfile.ZipInfo(
                f"{_folder(document)}/{document_file_name(document)}", (day.year, day.month, day.day, 0, 0, 0)
            )
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, _pdf_of(document, renderer))
        register = zipfile.ZipInfo("register.csv", (1980, 1, 1, 0, 0, 0))
        register.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(register, register_csv(documents))
    return out.getvalue()
