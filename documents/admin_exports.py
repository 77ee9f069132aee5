"""Export actions of the documents list (DocumentAdmin): the selected documents as a ZIP of PDFs, a register (CSV,
XLSX), or their EDO XML (one file, or a ZIP of files when several are selected). Drafts are left out (no number)."""

from __future__ import annotations

import io
import zipfile

from django.contrib import admin, messages
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.errors import ApplicationError
from documents.exports.edo import document_edo_xml
from documents.exports.http import edo_xml_response, register_response, zip_response
from documents.exports.selection import documents_for_export
from documents.models import DocumentType

EXPORT_ACTIONS = ["download_zip", "download_register_csv", "download_register_xlsx", "download_edo_xml"]


class DocumentExportActions:
    def has_export_permission(self, request) -> bool:
        return request.user.has_perm("documents.view_document")

    def _selected(self, queryset):
        return documents_for_export(ids=queryset.values_list("pk", flat=True))

    @admin.action(description=gettext_lazy("Download the selected documents (ZIP of PDFs)"), permissions=["export"])
    def download_zip(self, request, queryset):
        return zip_response(self._selected(queryset))

    @admin.action(description=gettext_lazy("Download the register of the selected documents (CSV)"),
                  permissions=["export"])  # fmt: skip
    def download_register_csv(self, request, queryset):
        return register_response(self._selected(queryset), fmt="csv")

    @admin.action(description=gettext_lazy("Download the register of the selected documents (XLSX)"),
                  permissions=["export"])  # fmt: skip
    def download_register_xlsx(self, request, queryset):
        return register_response(self._selected(queryset), fmt="xlsx")

    @admin.action(
        description=gettext_lazy("Download EDO XML of the selected УПД / VAT invoices"), permissions=["export"]
    )
    def download_edo_xml(self, request, queryset):
        documents = list(self._selected(queryset).filter(doc_type__in=[DocumentType.UPD, DocumentType.VAT_INVOICE]))
        if not documents:
            self.message_user(request, _("Select issued УПД or VAT invoices: only they have an EDO XML."),
                              messages.WARNING)  # fmt: skip
            return None
        try:
            if len(documents) == 1:
                return edo_xml_response(documents[0])
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for document in documents:
                    name, content = document_edo_xml(document)
                    archive.writestr(name, content)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return None
        response = HttpResponse(out.getvalue(), content_type="application/zip")
        response["Content-Disposition"] = "attachment; filename=edo-xml.zip"
        return response
