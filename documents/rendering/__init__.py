"""PDFs of documents: the context each template reads, the HTML, the PDF bytes, and the stored, cached file.

- `document_html(document)`: the HTML of templates/documents/pdf/<type>.html (`<type>_en.html` for a document in
  English, where one exists) from the document's own rows: the requisites copied at issue (`seller_data`,
  `buyer_data`, shaped by `seller_data_snapshot`/`buyer_data_snapshot`), its lines and totals, and the document it
  refers to. Never the live seller or customer: an issued document prints what was issued.
- `document_pdf_bytes(document)`: WeasyPrint renders that HTML with the bundled DejaVu fonts
  (static/documents/fonts/, loaded through @font-face, never the system's). Deterministic: no timestamps, the PDF
  identifier and dates come from the document, so the same document gives the same bytes.
- `document_pdf_store(documents)`: renders a chunk and stores each PDF in `Document.pdf` (the default storage;
  the file is named after the number and the input hash), with `pdf_sha256` = the SHA-256 of the rendering input
  (the HTML, the stylesheet, the renderer's version). A document whose input hash is unchanged and whose file
  exists is skipped: that is the cache. Only `pdf` and `pdf_sha256` are written (one UPDATE per chunk), which is
  all an issued, immutable document lets change.

WeasyPrint (and so Pango and HarfBuzz from the system) is imported only when a PDF is rendered.

Modules: `requisites` (the snapshots), `text` (how numbers, dates and names print), `context` (what each template
reads), `pdf` (HTML, PDF, storage); the templates are templates/documents/pdf/, the stylesheet and fonts
static/documents/.

Amounts in the Russian forms are plain numbers «1 234,56» (no-break space between groups, comma before kopecks);
the English invoice prints «1,234.56». Kopeck-exact: stored amounts are rounded already; the one value computed
here (a unit price with VAT, amount ÷ quantity) is rounded by the one rounding helper.
"""

from documents.rendering.context import document_context
from documents.rendering.pdf import (
    document_html,
    document_pdf_bytes,
    document_pdf_store,
    document_render_input_hash,
    documents_for_rendering,
)
from documents.rendering.requisites import buyer_data_snapshot, seller_data_snapshot

__all__ = [
    "buyer_data_snapshot",
    "document_context",
    "document_html",
    "document_pdf_bytes",
    "document_pdf_store",
    "document_render_input_hash",
    "documents_for_rendering",
    "seller_data_snapshot",
]
