"""Documents in the admin. Invoices of postpaid periods and issued documents are read-only: services issue them and
nobody edits an issued document (the database refuses it too). The accountant finds documents by number or
customer, filters them by type, status, seller, customer and period, issues drafts, marks documents sent, voids
one with a reason (a page of its own), and follows the monthly closing runs."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import content_disposition_header
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, gettext_lazy

from billing.admin.panels import customer_card_panel_register
from billing.money import format_money
from config.admin import ReadOnlyModelAdmin, ReadOnlyTabularInline
from config.errors import ApplicationError
from documents.admin_exports import EXPORT_ACTIONS, DocumentExportActions
from documents.models import Document, DocumentCounter, DocumentLine, Invoice, InvoiceLine
from documents.services.corrections import CORRECTABLE, corrective_vat_invoice_issue
from documents.services.issuing import document_pdf, document_void, documents_issue, documents_mark_sent
from documents.services.payment_invoices import payment_invoice_issue


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
    list_display = ("seller", "doc_type", "year", "last_number", "last_date")
    list_filter = ("doc_type", "seller")


class DocumentLineInline(ReadOnlyTabularInline):
    model = DocumentLine
    fields = (
        "position",
        "name",
        "okei_code",
        "unit_name",
        "quantity",
        "price",
        "amount_net",
        "vat_rate",
        "vat",
        "amount",
    )
    readonly_fields = fields


class PeriodFilter(admin.SimpleListFilter):
    """The month a document covers (its period's first day), for the documents that have a period."""

    title = gettext_lazy("period")
    parameter_name = "period"

    def lookups(self, request, model_admin):
        months = (
            Document.objects.exclude(period_start=None)
            .order_by("-period_start")
            .values_list("period_start", flat=True)
            .distinct()[:24]
        )
        return [(m.isoformat(), f"{m:%Y-%m}") for m in months]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(period_start=self.value())
        return queryset


@admin.register(Document)
class DocumentAdmin(DocumentExportActions, admin.ModelAdmin):
    """Documents are written by services (the monthly closing, an invoice for payment): never added here; an issued
    one changes only by the actions (sent, void)."""

    list_display = ("number_or_draft", "doc_type", "status", "customer", "seller", "issue_date", "document_total")
    list_filter = ("doc_type", "status", "seller", PeriodFilter, "issue_date")
    search_fields = ("number", "customer__name", "customer__legal_name", "customer__inn", "key")
    list_select_related = ("customer", "seller")
    date_hierarchy = "issue_date"
    inlines = [DocumentLineInline]
    actions = ["issue_drafts", "mark_sent", *EXPORT_ACTIONS]
    readonly_fields = (
        "doc_type",
        "number",
        "status",
        "customer",
        "seller",
        "issue_date",
        "period_start",
        "period_end",
        "due_date",
        "language",
        "upd_status",
        "currency",
        "total_net",
        "total_vat",
        "total",
        "refers_to",
        "payment_purpose",
        "key",
        "closing_run",
        "issued_at",
        "issued_by",
        "sent_at",
        "voided_at",
        "voided_by",
        "void_reason",
    )
    fields = readonly_fields
    change_form_template = "admin/documents/document/change_form.html"

    def add_view(self, request, form_url="", extra_context=None):
        """Adding a document here is requesting an invoice for payment of an amount from a customer (the other
        types come from the monthly closing): the service issues it, numbered, with its payment purpose."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = PaymentInvoiceForm(
            request.POST or None,
            initial={"customer": request.GET.get("customer"), "key": uuid.uuid4().hex},
        )
        if request.method == "POST" and form.is_valid():
            try:
                doc = payment_invoice_issue(
                    customer_id=form.cleaned_data["customer"],
                    amount=form.cleaned_data["amount"],
                    key=f"admin:{form.cleaned_data['key']}",
                    by=request.user.get_username(),
                )
            except ApplicationError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                self.message_user(request, gettext("Invoice %(number)s issued.") % {"number": doc.number})
                return HttpResponseRedirect(reverse("admin:documents_document_change", args=[quote(doc.pk)]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Invoice for payment"),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/documents/document/payment_invoice.html", context)

    def has_delete_permission(self, request, obj=None):
        # a draft may be thrown away; an issued document never (the database refuses it too)
        return obj is not None and obj.status == Document.Status.DRAFT and super().has_delete_permission(request, obj)

    @admin.display(description=gettext_lazy("Number"), ordering="number")
    def number_or_draft(self, doc: Document) -> str:
        return doc.number or gettext("(draft)")

    @admin.display(description=gettext_lazy("Total"), ordering="total")
    def document_total(self, doc: Document) -> str:
        return format_money(doc.total, doc.currency)

    @admin.action(description=gettext_lazy("Issue the selected drafts"), permissions=["change"])
    def issue_drafts(self, request, queryset):
        try:
            issued = documents_issue(
                document_ids=list(queryset.filter(status=Document.Status.DRAFT).values_list("pk", flat=True)),
                by=request.user.get_username(),
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, gettext("%(n)s document(s) issued.") % {"n": len(issued)}, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Mark the selected documents sent"), permissions=["change"])
    def mark_sent(self, request, queryset):
        moved = documents_mark_sent(document_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, gettext("%(n)s document(s) marked sent.") % {"n": moved}, messages.SUCCESS)

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            path("<path:object_id>/void/", self.admin_site.admin_view(self.void_view), name="{}_{}_void".format(*info)),
            path(
                "<path:object_id>/correct/",
                self.admin_site.admin_view(self.correct_view),
                name="{}_{}_correct".format(*info),
            ),
            path("<path:object_id>/pdf/", self.admin_site.admin_view(self.pdf_view), name="{}_{}_pdf".format(*info)),
            *super().get_urls(),
        ]

    def pdf_view(self, request, object_id):
        """The document's PDF (an issued one stored once; a draft previewed)."""
        doc = self.get_object(request, object_id)
        if doc is None:
            raise Http404
        if not self.has_view_permission(request, doc):
            raise PermissionDenied
        content, name = document_pdf(doc)
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = content_disposition_header(False, name)  # a Cyrillic number: RFC 6266
        return response

    def void_view(self, request, object_id):
        """Void one issued or sent document with a reason (who and when are recorded; the number stays)."""
        doc = self.get_object(request, object_id)
        if doc is None:
            raise Http404
        if not self.has_change_permission(request, doc):
            raise PermissionDenied
        form = VoidForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                document_void(document_id=doc.pk, reason=form.cleaned_data["reason"], by=request.user.get_username())
            except ApplicationError as exc:
                form.add_error("reason" if exc.field == "reason" else None, exc.message)
            else:
                self.message_user(request, gettext("Document %(number)s is void.") % {"number": doc.number})
                return HttpResponseRedirect(reverse("admin:documents_document_change", args=[quote(doc.pk)]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Void %(document)s") % {"document": doc},
            "document": doc,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/documents/document/void.html", context)

    def correct_view(self, request, object_id):
        """A corrective VAT invoice to an issued VAT invoice or УПД: the lines' new amounts and the reason; the
        customer's balance, revenue and VAT payable move with it (documents.services.corrections)."""
        doc = self.get_object(request, object_id)
        if doc is None:
            raise Http404
        if not self.has_change_permission(request, doc):
            raise PermissionDenied
        correctable = doc.doc_type in CORRECTABLE and doc.status in (Document.Status.ISSUED, Document.Status.SENT)
        lines = list(doc.lines.order_by("position")) if correctable else []
        form = CorrectionForm(request.POST or None, lines=lines, initial={"key": uuid.uuid4().hex})
        if request.method == "POST" and correctable and form.is_valid():
            try:
                corrected = corrective_vat_invoice_issue(
                    document_id=doc.pk,
                    amounts=form.amounts(),
                    reason=form.cleaned_data["reason"],
                    key=f"admin:{form.cleaned_data['key']}",
                    by=request.user.get_username(),
                )
            except ApplicationError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                self.message_user(
                    request,
                    gettext("Corrective VAT invoice %(number)s is issued.") % {"number": corrected.number},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:documents_document_change", args=[quote(corrected.pk)]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Correct %(document)s") % {"document": doc},
            "document": doc,
            "form": form,
            "correctable": correctable,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/documents/document/correct.html", context)


class CorrectionForm(forms.Form):
    """The new amounts (VAT included) of a VAT invoice's or УПД's lines, and why."""

    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Why the price changes: a discount agreed later, a recalculation, an error found."),
    )
    key = forms.CharField(widget=forms.HiddenInput)  # one form, one corrective invoice

    def __init__(self, *args, lines=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.line_fields = []
        for line in lines:
            name = f"line_{line.position}"
            self.fields[name] = forms.DecimalField(
                label=f"{line.position}. {line.name}",
                max_digits=15,
                decimal_places=2,
                initial=line.amount,
                help_text=gettext_lazy("Now %(amount)s, VAT included.") % {"amount": line.amount},
            )
            self.line_fields.append((line.position, name, line.amount))

    def amounts(self) -> dict:
        return {
            position: self.cleaned_data[name]
            for position, name, before in self.line_fields
            if self.cleaned_data[name] != before
        }


class PaymentInvoiceForm(forms.Form):
    customer = forms.IntegerField(label=gettext_lazy("Customer id"), min_value=1)
    amount = forms.DecimalField(
        label=gettext_lazy("Amount"),
        max_digits=15,
        decimal_places=2,
        help_text=gettext_lazy("What the customer is to pay, VAT included."),
    )
    key = forms.CharField(widget=forms.HiddenInput)  # one form, one invoice: a second submit returns the first


class VoidForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Why the document is void: it is kept with its number, the reason and who voided it."),
    )


def customer_documents_panel(request, customer) -> str:
    """The customer card's documents (billing's card, filled by documents: billing imports no app above it): the
    newest ten, a link to all of them and to request an invoice for payment."""
    if not request.user.has_perm("documents.view_document"):
        return ""
    docs = list(Document.objects.filter(customer=customer).select_related("seller").order_by("-id")[:10])
    return render_to_string(
        "admin/documents/customer_documents.html",
        {
            "documents": [
                {
                    "doc": d,
                    "url": reverse("admin:documents_document_change", args=[quote(d.pk)]),
                    "pdf_url": reverse("admin:documents_document_pdf", args=[quote(d.pk)]),
                    "total": format_money(d.total, d.currency),
                }
                for d in docs
            ],
            "list_url": reverse("admin:documents_document_changelist") + f"?customer__id__exact={customer.pk}",
            "add_url": (
                reverse("admin:documents_document_add") + f"?customer={customer.pk}"
                if request.user.has_perm("documents.add_document")
                else None
            ),
        },
        request=request,
    )


customer_card_panel_register(customer_documents_panel)


from documents import admin_closing  # noqa: E402, F401  (the monthly closings' admin: documents/admin_closing.py)
