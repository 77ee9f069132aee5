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
    INVOICE = "invoice", _("Invoice for payment")


class DocumentCounter(models.Model):
    """The last number given per (document type, year). Numbers come from this row, locked inside the
    issuing transaction: a rolled-back issue gives its numbers back, so the sequence has no gaps."""

    doc_type = models.CharField(max_length=32, choices=DocumentType.choices, verbose_name=_("doc type"))
    year = models.PositiveSmallIntegerField(verbose_name=_("year"))
    last_number = models.PositiveIntegerField(default=0, verbose_name=_("last number"))

    class Meta:
        verbose_name = _("document counter")
        verbose_name_plural = _("document counters")
        ordering = ["doc_type", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["doc_type", "year"], name="document_counter_once_per_type_year"),
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
