"""Documents: gapless counters and the invoice for payment (счёт на оплату) of postpaid customers.

An issued invoice is immutable: its number, amounts, period and buyer snapshot never change (the database refuses
it, migration 0002); only its status may move on (paid, void) in later issues. Its lines are the plans.Charge rows
it bills, each charge on at most one invoice (a unique link).
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from billing.money import money_field


class DocumentType(models.TextChoices):
    INVOICE = "invoice", _("Invoice for payment")  # of postpaid periods (the Invoice model, numbered INV-…)
    PAYMENT_INVOICE = "payment_invoice", _("Invoice for payment")  # for an amount: a top-up, a coming renewal
    ACT = "act", _("Act of services rendered")
    VAT_INVOICE = "vat_invoice", _("VAT invoice")
    UPD = "upd", _("Universal transfer document")
    ADVANCE_VAT_INVOICE = "advance_vat_invoice", _("Advance VAT invoice")
    CREDIT_NOTE = "credit_note", _("Credit note")
    CORRECTIVE_VAT_INVOICE = "corrective_vat_invoice", _("Corrective VAT invoice")


class DocumentCounter(models.Model):
    """The last number given per (document type, year). Numbers come from this row, locked inside the
    issuing transaction: a rolled-back issue gives its numbers back, so the sequence has no gaps."""

    seller = models.ForeignKey(
        "billing.Seller",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("seller"),
    )  # empty: the postpaid invoices' sequence of before sellers (INV-<year>-…)
    doc_type = models.CharField(max_length=32, choices=DocumentType.choices, verbose_name=_("doc type"))
    year = models.PositiveSmallIntegerField(
        help_text=_("0 for a seller whose numbering never restarts."), verbose_name=_("year")
    )
    last_number = models.PositiveIntegerField(default=0, verbose_name=_("last number"))
    last_date = models.DateField(
        null=True,
        blank=True,
        help_text=_("The date of the last document numbered: numbers run in chronological order."),
        verbose_name=_("last date"),
    )

    class Meta:
        verbose_name = _("document counter")
        verbose_name_plural = _("document counters")
        ordering = ["doc_type", "-year"]
        constraints = [
            models.UniqueConstraint(
                fields=["doc_type", "year"], condition=Q(seller=None), name="document_counter_once_per_type_year"
            ),
            models.UniqueConstraint(
                fields=["seller", "doc_type", "year"],
                condition=Q(seller__isnull=False),
                name="document_counter_once_per_seller_type_year",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_doc_type_display()} {self.year}: {self.last_number}"


class Invoice(models.Model):
    """An invoice for payment (счёт на оплату) of the charges of ended periods of a postpaid customer."""

    class Status(models.TextChoices):
        ISSUED = "issued", _("Issued")
        PAID = "paid", _("Paid")
        VOID = "void", _("Void")

    number = models.CharField(max_length=32, verbose_name=_("number"))  # unique: see Meta
    customer = models.ForeignKey(
        "billing.Customer",
        on_delete=models.PROTECT,
        related_name="invoices",
        db_index=False,
        verbose_name=_("customer"),
    )  # indexed by (customer, -id)
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    issue_date = models.DateField(verbose_name=_("issue date"))
    due_date = models.DateField(
        help_text=_("Payment terms: the issue date plus the policy's postpaid due days."), verbose_name=_("due date")
    )
    period_start = models.DateField(help_text=_("The first day its charges cover."), verbose_name=_("period start"))
    period_end = models.DateField(
        help_text=_("Exclusive: the day after the last day its charges cover."), verbose_name=_("period end")
    )
    total = money_field(help_text=_("The sum of the lines (credits are negative lines)."), verbose_name=_("total"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ISSUED, verbose_name=_("status"))
    # the buyer as it was at issue time (a later change of the customer's requisites does not touch the invoice)
    buyer_name = models.CharField(max_length=500, verbose_name=_("buyer name"))
    buyer_inn = models.CharField(max_length=12, blank=True, verbose_name=_("buyer INN"))
    buyer_kpp = models.CharField(max_length=9, blank=True, verbose_name=_("buyer KPP"))
    buyer_address = models.TextField(blank=True, verbose_name=_("buyer address"))
    buyer_emails = ArrayField(models.EmailField(), default=list, blank=True, verbose_name=_("buyer emails"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["customer", "-id"], name="invoice_customer_idx"),
            models.Index(fields=["issue_date"], name="invoice_issue_date_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="invoice_number_unique"),
            models.CheckConstraint(condition=Q(total__gt=0), name="invoice_total_positive"),
            models.CheckConstraint(condition=Q(total_currency=F("currency")), name="invoice_total_in_currency"),
            models.CheckConstraint(condition=Q(due_date__gte=F("issue_date")), name="invoice_due_not_before_issue"),
            models.CheckConstraint(condition=Q(period_end__gt=F("period_start")), name="invoice_period_not_empty"),
            models.CheckConstraint(condition=Q(status__in=["issued", "paid", "void"]), name="invoice_status_valid"),
        ]

    def __str__(self) -> str:
        return self.number


class InvoiceLine(models.Model):
    """One charge on an invoice. The one-to-one link to the charge puts a charge on at most one invoice."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines", verbose_name=_("invoice"))
    charge = models.OneToOneField(
        "plans.Charge", on_delete=models.PROTECT, related_name="invoice_line", verbose_name=_("charge")
    )
    description = models.CharField(max_length=500, verbose_name=_("description"))
    period_start = models.DateField(verbose_name=_("period start"))
    period_end = models.DateField(help_text=_("Exclusive."), verbose_name=_("period end"))
    amount = money_field(help_text=_("The charge's amount: negative for a credit."), verbose_name=_("amount"))
    details = models.JSONField(
        default=list,
        blank=True,
        help_text=_("The charge's own lines: [{kind, description, amount, currency, quantity, ref}]."),
        verbose_name=_("details"),
    )

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.description


class Document(models.Model):
    """A document issued by a seller to a customer: an invoice for payment for an amount, an act, a VAT invoice,
    a УПД, an advance VAT invoice, a credit note or a corrective VAT invoice.

    A draft has no number. Issuing gives it the next number of its (seller, type, year) counter, in the issuing
    transaction. An issued document is immutable (the database refuses changes but the status moving on and the
    rendered PDF being attached); a correction is a new document that `refers_to` the old one; void keeps the
    number and records who and why. Requisites of both sides are copied at issue (`seller_data`, `buyer_data`).
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ISSUED = "issued", _("Issued")
        SENT = "sent", _("Sent")
        VOID = "void", _("Void")

    doc_type = models.CharField(max_length=32, choices=DocumentType.choices, verbose_name=_("type"))
    seller = models.ForeignKey(
        "billing.Seller", on_delete=models.PROTECT, related_name="documents", verbose_name=_("seller")
    )
    customer = models.ForeignKey(
        "billing.Customer",
        on_delete=models.PROTECT,
        related_name="documents",
        db_index=False,
        verbose_name=_("customer"),
    )  # indexed by (customer, -id)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, verbose_name=_("status"))
    key = models.CharField(
        max_length=255,
        null=True,
        blank=True,
        help_text=_("What it is issued for, once: act:<customer>:<seller>:<2026-11>, an Idempotency-Key, …"),
        verbose_name=_("key"),
    )  # unique: Meta
    number = models.CharField(max_length=40, blank=True, verbose_name=_("number"))  # empty while a draft
    sequence = models.PositiveIntegerField(null=True, blank=True, editable=False, verbose_name=_("sequence"))
    year = models.PositiveSmallIntegerField(null=True, blank=True, editable=False, verbose_name=_("year"))
    issue_date = models.DateField(verbose_name=_("date"))
    period_start = models.DateField(null=True, blank=True, verbose_name=_("period start"))
    period_end = models.DateField(null=True, blank=True, help_text=_("Exclusive."), verbose_name=_("period end"))
    due_date = models.DateField(null=True, blank=True, verbose_name=_("due date"))
    language = models.CharField(max_length=2, default="ru", verbose_name=_("language"))
    upd_status = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        choices=[(1, _("Status 1: VAT invoice and primary document")), (2, _("Status 2: primary document only"))],
        verbose_name=_("УПД status"),
    )
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    total_net = models.DecimalField(max_digits=19, decimal_places=2, default=0, verbose_name=_("total without VAT"))
    total_vat = models.DecimalField(max_digits=19, decimal_places=2, default=0, verbose_name=_("VAT"))
    total = models.DecimalField(max_digits=19, decimal_places=2, default=0, verbose_name=_("total"))
    refers_to = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="corrections",
        help_text=_("The document this one corrects, credits or accompanies (line 5а: the shipment document)."),
        verbose_name=_("refers to"),
    )
    correction_number = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text=_("Line 1а of a corrected VAT invoice."), verbose_name=_("correction number")
    )
    payment_purpose = models.CharField(max_length=210, blank=True, verbose_name=_("payment purpose"))
    payment_refs = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Line 5: the buyer's payment documents [{number, date, amount}]."),
        verbose_name=_("payment documents"),
    )
    seller_data = models.JSONField(default=dict, blank=True, verbose_name=_("seller requisites"))
    buyer_data = models.JSONField(default=dict, blank=True, verbose_name=_("buyer requisites"))
    closing_run = models.ForeignKey(
        "documents.ClosingRun",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="documents",
        db_index=False,
        verbose_name=_("closing run"),
    )
    pdf = models.FileField(upload_to="documents/%Y/%m/", blank=True, verbose_name=_("PDF"))
    pdf_sha256 = models.CharField(
        max_length=64, blank=True, help_text=_("Of the content the PDF was rendered from."), verbose_name=_("PDF hash")
    )
    issued_at = models.DateTimeField(null=True, blank=True, verbose_name=_("issued at"))
    issued_by = models.CharField(max_length=255, blank=True, verbose_name=_("issued by"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    voided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("voided at"))
    voided_by = models.CharField(max_length=255, blank=True, verbose_name=_("voided by"))
    void_reason = models.TextField(blank=True, verbose_name=_("void reason"))
    correction_reason = models.TextField(
        blank=True, help_text=_("Why a corrective document changes the one it refers to."), verbose_name=_("reason")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["customer", "-id"], name="document_customer_idx"),
            models.Index(fields=["issue_date", "doc_type"], name="document_date_type_idx"),
            models.Index(fields=["seller", "period_start"], name="document_seller_period_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["key"], name="document_key_unique"),
            models.UniqueConstraint(
                fields=["seller", "doc_type", "year", "sequence"],
                condition=Q(sequence__isnull=False),
                name="document_number_once_per_seller_type_year",
            ),
            models.CheckConstraint(
                condition=Q(status="draft", sequence=None) | (~Q(status="draft") & Q(sequence__isnull=False)),
                name="document_numbered_unless_draft",
            ),
            models.CheckConstraint(condition=~Q(status="void") | ~Q(void_reason=""), name="document_void_has_reason"),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "issued", "sent", "void"]), name="document_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(total=F("total_net") + F("total_vat")), name="document_total_is_net_plus_vat"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_doc_type_display()} {self.number or _('(draft)')}"


class DocumentLine(models.Model):
    """A line of a document: what, how much, at what price, the VAT rate and amounts. Amounts are rounded to the
    kopeck; VAT is computed per line once (billing.vat.split) and totals are the sums of the lines."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="lines", verbose_name=_("document"))
    position = models.PositiveSmallIntegerField(verbose_name=_("No."))
    name = models.CharField(max_length=500, verbose_name=_("name"))
    okei_code = models.CharField(max_length=4, blank=True, verbose_name=_("OKEI code"))
    unit_name = models.CharField(max_length=16, blank=True, verbose_name=_("unit"))
    quantity = models.DecimalField(max_digits=19, decimal_places=4, default=1, verbose_name=_("quantity"))
    price = models.DecimalField(
        max_digits=19, decimal_places=2, help_text=_("Per unit, without VAT."), verbose_name=_("price")
    )
    amount_net = models.DecimalField(max_digits=19, decimal_places=2, verbose_name=_("amount without VAT"))
    vat_rate = models.CharField(max_length=10, verbose_name=_("VAT rate"))  # billing.vat.VatRate value or 22/122
    vat = models.DecimalField(max_digits=19, decimal_places=2, default=0, verbose_name=_("VAT"))
    amount = models.DecimalField(max_digits=19, decimal_places=2, verbose_name=_("amount with VAT"))
    charge = models.ForeignKey(
        "plans.Charge",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="document_lines",
        verbose_name=_("charge"),
    )

    class Meta:
        verbose_name = _("document line")
        verbose_name_plural = _("document lines")
        ordering = ["document", "position"]
        constraints = [
            models.UniqueConstraint(fields=["document", "position"], name="document_line_position_unique"),
            models.CheckConstraint(condition=Q(amount=F("amount_net") + F("vat")), name="document_line_net_plus_vat"),
        ]

    def __str__(self) -> str:
        return self.name


class ClosingRun(models.Model):
    """One monthly closing: the acts and VAT invoices/УПД of a month for every customer charged in it, issued in
    chunks by parallel workers (SKIP LOCKED claims) with progress and failures, like the billing run."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        COMPLETED_WITH_FAILURES = "completed_with_failures", _("Completed with failures")
        INTERRUPTED = "interrupted", _("Interrupted")

    period_start = models.DateField(help_text=_("The first day of the month closed."), verbose_name=_("period start"))
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.RUNNING, verbose_name=_("status"))
    started_at = models.DateTimeField(auto_now_add=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    lease_until = models.DateTimeField(null=True, blank=True, verbose_name=_("lease until"))
    customers_total = models.PositiveIntegerField(default=0, verbose_name=_("customers"))
    customers_done = models.PositiveIntegerField(default=0, verbose_name=_("customers done"))
    documents_issued = models.PositiveIntegerField(default=0, verbose_name=_("documents issued"))
    failures = models.JSONField(
        default=list, blank=True, help_text=_("[{customer_id, seller_id, error}]"), verbose_name=_("failures")
    )

    class Meta:
        verbose_name = _("closing run")
        verbose_name_plural = _("closing runs")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.period_start:%Y-%m} #{self.pk} {self.status}"
