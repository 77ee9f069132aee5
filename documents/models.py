"""Documents: gapless counters and the invoice for payment (счёт на оплату) of postpaid customers.

An issued invoice is immutable: its number, amounts, period and buyer snapshot never change (the database refuses
it, migration 0002); only its status may move on (paid, void) in later issues. Its lines are the plans.Charge rows
it bills, each charge on at most one invoice (a unique link).
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q

from billing.money import money_field


class DocumentType(models.TextChoices):
    INVOICE = "invoice", "Invoice for payment"


class DocumentCounter(models.Model):
    """The last number given per (document type, year). Numbers come from this row, locked inside the
    issuing transaction: a rolled-back issue gives its numbers back, so the sequence has no gaps."""

    doc_type = models.CharField(max_length=32, choices=DocumentType.choices)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["doc_type", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["doc_type", "year"], name="document_counter_once_per_type_year"),
        ]

    def __str__(self) -> str:
        return f"{self.get_doc_type_display()} {self.year}: {self.last_number}"


class Invoice(models.Model):
    """An invoice for payment (счёт на оплату) of the charges of ended periods of a postpaid customer."""

    class Status(models.TextChoices):
        ISSUED = "issued", "Issued"
        PAID = "paid", "Paid"
        VOID = "void", "Void"

    number = models.CharField(max_length=32)  # unique: see Meta
    customer = models.ForeignKey(
        "billing.Customer", on_delete=models.PROTECT, related_name="invoices", db_index=False
    )  # indexed by (customer, -id)
    currency = models.CharField(max_length=3)
    issue_date = models.DateField()
    due_date = models.DateField(help_text="Payment terms: the issue date plus the policy's postpaid due days.")
    period_start = models.DateField(help_text="The first day its charges cover.")
    period_end = models.DateField(help_text="Exclusive: the day after the last day its charges cover.")
    total = money_field(help_text="The sum of the lines (credits are negative lines).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ISSUED)
    # the buyer as it was at issue time (a later change of the customer's requisites does not touch the invoice)
    buyer_name = models.CharField(max_length=500)
    buyer_inn = models.CharField("buyer ИНН", max_length=12, blank=True)
    buyer_kpp = models.CharField("buyer КПП", max_length=9, blank=True)
    buyer_address = models.TextField(blank=True)
    buyer_emails = ArrayField(models.EmailField(), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
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

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    charge = models.OneToOneField("plans.Charge", on_delete=models.PROTECT, related_name="invoice_line")
    description = models.CharField(max_length=500)
    period_start = models.DateField()
    period_end = models.DateField(help_text="Exclusive.")
    amount = money_field(help_text="The charge's amount: negative for a credit.")
    details = models.JSONField(
        default=list,
        blank=True,
        help_text="The charge's own lines: [{kind, description, amount, currency, quantity, ref}].",
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.description
