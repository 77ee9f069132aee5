"""Download responses of the exports, for admin actions and API views (the caller scopes the documents)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpResponse

from documents.exports.archive import Renderer, documents_zip
from documents.exports.edo import document_edo_xml
from documents.exports.register import register_csv, register_xlsx
from documents.models import Document

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(content: bytes, *, content_type: str, file_name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{file_name}"
    return response


def _stem(prefix: str, month: dt.date | None) -> str:
    return f"{prefix}-{month:%Y-%m}" if month else prefix


def zip_response(documents, *, month: dt.date | None = None, renderer: Renderer | None = None) -> HttpResponse:
    return _download(
        documents_zip(documents, renderer=renderer),
        content_type="application/zip",
        file_name=f"{_stem('documents', month)}.zip",
    )


def register_response(documents, *, fmt: str, month: dt.date | None = None) -> HttpResponse:
    """`fmt`: "csv" or "xlsx"."""
    if fmt == "xlsx":
        return _download(register_xlsx(documents), content_type=XLSX, file_name=f"{_stem('register', month)}.xlsx")
    return _download(
        register_csv(documents), content_type="text/csv; charset=utf-8", file_name=f"{_stem('register', month)}.csv"
    )


def edo_xml_response(document: Document) -> HttpResponse:
    name, content = document_edo_xml(document)
    return _download(content, content_type="application/xml; charset=windows-1251", file_name=name)
