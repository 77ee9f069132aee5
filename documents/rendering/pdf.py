"""The HTML of a document, its PDF (WeasyPrint, bundled fonts, deterministic) and the stored, cached file."""

from __future__ import annotations

import atexit
import functools
import hashlib
import logging
import threading
from collections.abc import Iterable
from pathlib import Path

from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.template.loader import select_template
from django.utils import translation
from django.utils.text import get_valid_filename

from documents.models import Document, DocumentType
from documents.rendering.context import document_context

logger = logging.getLogger(__name__)

# Bump when the PDF changes for a reason the HTML does not show (WeasyPrint options, the fonts): every stored PDF's
# input hash changes with it, so the next render replaces them.
RENDERER_VERSION = "1"
STATIC_DIR = "documents"  # static/documents/: pdf.css and fonts/
NBSP = "\u00a0"
DASH = "—"

TEMPLATES = {
    DocumentType.INVOICE: "payment_invoice",
    DocumentType.PAYMENT_INVOICE: "payment_invoice",
    DocumentType.ACT: "act",
    DocumentType.VAT_INVOICE: "vat_invoice",
    DocumentType.ADVANCE_VAT_INVOICE: "vat_invoice",
    DocumentType.UPD: "upd",
    DocumentType.CREDIT_NOTE: "credit_note",
    DocumentType.CORRECTIVE_VAT_INVOICE: "corrective_vat_invoice",
}


@functools.lru_cache(maxsize=1)
def _static_dir() -> Path:
    """static/documents/ (found by the staticfiles finders, so a collected STATIC_ROOT works too)."""
    found = finders.find(f"{STATIC_DIR}/pdf.css")
    if not found:
        raise FileNotFoundError("static/documents/pdf.css is missing: the PDF stylesheet and fonts live there")
    return Path(found).parent


@functools.lru_cache(maxsize=1)
def _stylesheet() -> str:
    return (_static_dir() / "pdf.css").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _fonts_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((_static_dir() / "fonts").glob("*.ttf")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _template_names(document: Document) -> list[str]:
    base = TEMPLATES[DocumentType(document.doc_type)]
    names = [f"documents/pdf/{base}.html"]
    if document.language == "en":
        names.insert(0, f"documents/pdf/{base}_en.html")
    return names


def document_html(document: Document) -> str:
    """The HTML the PDF is rendered from. The Russian forms' labels are fixed legal text, printed in Russian
    whatever the interface language; the English invoice is English throughout."""
    template = select_template(_template_names(document))
    context = document_context(document)
    with translation.override(context["language"]):
        return template.render(context)


def document_render_input_hash(html: str) -> str:
    """SHA-256 of everything a PDF depends on: the HTML (images are data: URIs), the stylesheet, the fonts and the
    renderer's version."""
    import weasyprint

    digest = hashlib.sha256()
    for part in (RENDERER_VERSION, weasyprint.__version__, _fonts_digest(), _stylesheet(), html):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _pdf_identifier(document: Document) -> bytes:
    """The PDF's file identifier (its trailer /ID), derived from the document instead of WeasyPrint's default."""
    return (
        hashlib.sha256(f"document:{document.pk}:{document.doc_type}:{document.number}".encode())
        .hexdigest()[:32]
        .encode()
    )


def _render(document: Document, html: str) -> bytes:
    html_class, stylesheet, font_config = _weasyprint()
    return html_class(string=html, base_url=_static_dir().as_uri() + "/").write_pdf(
        stylesheets=[stylesheet], font_config=font_config, pdf_identifier=_pdf_identifier(document)
    )


# WeasyPrint's user-agent stylesheet styles every HTML element there is (forms, lists, ruby, bidi…); matching its
# few hundred rules against every element is about a tenth of a document's rendering. The documents use a handful
# of elements, whose browser defaults pdf.css mostly sets anyway: this is all they need. (An override of a private
# hook: were WeasyPrint to rename it, the full stylesheet would apply again, the PDF would look the same and render
# a little slower.)
USER_AGENT_CSS = """
head, title, meta, style, script { display: none }
html, body, div, p, h1, h2, h3 { display: block }
h1, h2, h3, b, strong, th { font-weight: bold }
table { display: table; box-sizing: border-box; border-spacing: 0 }
thead { display: table-header-group }
tbody { display: table-row-group }
colgroup { display: table-column-group }
col { display: table-column }
tr { display: table-row }
td, th { display: table-cell }
br::before { content: "\\A"; white-space: pre-line }
"""


# One set per thread: the font configuration (a Pango font map) is not for sharing between threads, and a web
# server's threads may preview PDFs at the same time; a Celery worker process has one thread and so one set.
_per_thread = threading.local()
_all_sets: list[tuple] = []


def _weasyprint():
    """Once per thread: the HTML class with the documents' user-agent stylesheet, pdf.css parsed, and the font
    configuration its @font-face fonts load into (once, not per document)."""
    objects = getattr(_per_thread, "objects", None)
    if objects is None:
        objects = _per_thread.objects = _weasyprint_objects()
        _all_sets.append(objects)
    return objects


def _weasyprint_objects() -> tuple:
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    font_config = FontConfiguration()
    base_url = _static_dir().as_uri() + "/"
    user_agent = weasyprint.CSS(string=USER_AGENT_CSS, base_url=base_url, font_config=font_config)
    stylesheet = weasyprint.CSS(string=_stylesheet(), base_url=base_url, font_config=font_config)

    class DocumentHTML(weasyprint.HTML):
        def _ua_stylesheets(self, forms=False):
            return [user_agent]

    return DocumentHTML, stylesheet, font_config


@atexit.register
def _drop_font_configurations() -> None:
    """Before the interpreter tears modules down: a font configuration's __del__ removes its temporary directory
    and needs shutil still there."""
    _all_sets.clear()
    _per_thread.__dict__.clear()


def document_pdf_bytes(document: Document) -> bytes:
    """The PDF of `document`. The same document renders to the same bytes (the dates in the PDF's metadata are
    the document's, its identifier is derived from the document; nothing reads the clock)."""
    return _render(document, document_html(document))


def documents_for_rendering(ids: Iterable[int]) -> list[Document]:
    """The documents of `ids` with what rendering reads, in a fixed number of queries (lines, the referred
    document and its lines)."""
    from django.db.models import Prefetch

    from documents.models import DocumentLine

    return list(
        Document.objects.filter(pk__in=list(ids))
        .select_related("refers_to")
        .prefetch_related(
            Prefetch("lines", queryset=DocumentLine.objects.order_by("position")),
            Prefetch("refers_to__lines", queryset=DocumentLine.objects.order_by("position")),
        )
        .order_by("pk")
    )


def _file_name(document: Document, input_hash: str) -> str:
    number = document.number or f"draft-{document.pk}"
    day = document.issue_date
    name = get_valid_filename(f"{document.doc_type}_{number}_{input_hash[:12]}.pdf")
    return f"documents/{day:%Y}/{day:%m}/{name}"


def document_pdf_store(documents: Iterable[Document]) -> list[int]:
    """Render and store the PDFs of a chunk of documents (load them with `documents_for_rendering`); returns the
    ids rendered. A document whose input hash equals its `pdf_sha256` and whose file exists is skipped. The file
    name carries the hash, so two workers rendering the same document write the same file; the row update is one
    UPDATE of `pdf` and `pdf_sha256` for the chunk (all an issued document lets change). Replaced files are
    deleted after the update commits."""
    changed: list[Document] = []
    replaced: list[str] = []
    for document in documents:
        html = document_html(document)
        input_hash = document_render_input_hash(html)
        if document.pdf_sha256 == input_hash and document.pdf and default_storage.exists(document.pdf.name):
            continue
        name = _file_name(document, input_hash)
        if not default_storage.exists(name):
            saved = default_storage.save(name, ContentFile(_render(document, html)))
        else:
            saved = name
        if document.pdf and document.pdf.name != saved:
            replaced.append(document.pdf.name)
        document.pdf.name = saved
        document.pdf_sha256 = input_hash
        changed.append(document)
    if changed:
        with transaction.atomic():
            Document.objects.bulk_update(changed, ["pdf", "pdf_sha256"])
            transaction.on_commit(lambda: _delete_files(replaced))
    return [d.pk for d in changed]


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("old PDF %s could not be deleted", name)
