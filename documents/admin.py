"""Invoices, read-only: the service issues them and nobody edits an issued document (the database refuses it
too). The accountant finds them by number or customer and filters by status and issue date."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from billing.money import format_money
from config.admin import ReadOnlyModelAdmin, ReadOnlyTabularInline
from documents.models import DocumentCounter, Invoice, InvoiceLine


def _money(money) -> str:
    return format_money(money)


class InvoiceLineInline(ReadOnlyTabularInline):
    model = InvoiceLine
    fields = ("description", "period_start", "period_end", "line_amount", "charge_link", "detail_lines")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("charge")

    @admin.display(description=gettext_lazy("Amount"))
    def line_amount(self, line: InvoiceLine) -> str:
        return _money(line.amount)

    @admin.display(description=gettext_lazy("Charge"))
    def charge_link(self, line: InvoiceLine) -> str:
        url = reverse("admin:plans_charge_change", args=[quote(line.charge_id)])
        return format_html('<a href="{}">#{}</a>', url, line.charge_id)

    @admin.display(description=gettext_lazy("Details"))
    def detail_lines(self, line: InvoiceLine) -> str:
        if not line.details:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            "{}: {} {}",
            ((d.get("description", ""), d.get("amount", ""), d.get("currency", "")) for d in line.details),
        )


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyModelAdmin):
    list_display = ("number", "customer", "issue_date", "due_date", "invoice_total", "status")
    list_filter = ("status", "issue_date", "currency")
    search_fields = (
        "number",
        "customer__name",
        "customer__legal_name",
        "customer__inn",
        "customer__external_id",
        "buyer_name",
    )
    list_select_related = ("customer",)
    date_hierarchy = "issue_date"
    inlines = [InvoiceLineInline]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "number",
                    "status",
                    "customer",
                    "issue_date",
                    "due_date",
                    "period_start",
                    "period_end",
                    "invoice_total",
                    "created_at",
                )
            },
        ),
        (
            gettext_lazy("Buyer (as at issue)"),
            {"fields": ("buyer_name", "buyer_inn", "buyer_kpp", "buyer_address", "buyer_emails")},
        ),
    )
    readonly_fields = (
        "number",
        "status",
        "customer",
        "issue_date",
        "due_date",
        "period_start",
        "period_end",
        "invoice_total",
        "created_at",
        "buyer_name",
        "buyer_inn",
        "buyer_kpp",
        "buyer_address",
        "buyer_emails",
    )

    @admin.display(description=gettext_lazy("Total"), ordering="total")
    def invoice_total(self, invoice: Invoice) -> str:
        return _money(invoice.total)


@admin.register(DocumentCounter)
class DocumentCounterAdmin(ReadOnlyModelAdmin):
    list_display = ("doc_type", "year", "last_number")
    list_filter = ("doc_type",)


from documents import admin_closing  # noqa: E402, F401  (the monthly closings' admin: documents/admin_closing.py)
