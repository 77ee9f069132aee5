"""Money coming in and going back: provider payments, their refunds, saved methods and autopay, bank statements.

A payment is credited once: the ledger transaction's idempotency key is the payment's, and a payment has one
(provider, provider payment id) and one bank document (dedupe key). Each state change is a PaymentStateChange row.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing.money import money_field


class PaymentMethod(models.Model):
    """A card (or another method) the provider saved for charges without the customer: autopay."""

    customer = models.ForeignKey(
        "billing.Customer", on_delete=models.PROTECT, related_name="payment_methods", verbose_name=_("customer")
    )
    provider = models.CharField(max_length=20, verbose_name=_("provider"))
    provider_method_id = models.CharField(max_length=255, verbose_name=_("provider method id"))
    provider_customer_ref = models.CharField(max_length=255, blank=True, verbose_name=_("provider customer id"))
    title = models.CharField(max_length=100, blank=True, verbose_name=_("title"))
    expires_on = models.DateField(null=True, blank=True, verbose_name=_("expires on"))
    is_active = models.BooleanField(default=True, verbose_name=_("active"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("saved payment method")
        verbose_name_plural = _("saved payment methods")
        constraints = [
            models.UniqueConstraint(fields=["provider", "provider_method_id"], name="payment_method_provider_unique")
        ]

    def __str__(self) -> str:
        return self.title or f"{self.provider}:{self.provider_method_id}"


class Payment(models.Model):
    class Kind(models.TextChoices):
        TOPUP = "topup", _("Top-up through a provider")
        AUTOPAY = "autopay", _("Autopay (saved method)")
        BANK_TRANSFER = "bank_transfer", _("Bank transfer")
        MANUAL = "manual", _("Manual (cash, other)")

    class Status(models.TextChoices):
        CREATED = "created", _("Created")  # recorded; the provider not asked yet (or its answer lost)
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        CANCELED = "canceled", _("Canceled")
        FAILED = "failed", _("Failed")

    FINAL = frozenset({Status.SUCCEEDED, Status.CANCELED, Status.FAILED})

    customer = models.ForeignKey(
        "billing.Customer", on_delete=models.PROTECT, related_name="payments", verbose_name=_("customer")
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, verbose_name=_("kind"))
    provider = models.CharField(max_length=20, verbose_name=_("provider"))  # test, yookassa, stripe, bank, cash, …
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATED, verbose_name=_("status"))
    amount = money_field(verbose_name=_("amount"))
    refunded = models.DecimalField(max_digits=19, decimal_places=4, default=0, verbose_name=_("refunded"))
    description = models.CharField(max_length=255, blank=True, verbose_name=_("description"))
    provider_payment_id = models.CharField(max_length=255, null=True, blank=True, verbose_name=_("provider payment id"))
    provider_key = models.CharField(  # the Idempotence-Key the provider sees: a retry repeats the same request
        max_length=100, blank=True, verbose_name=_("provider idempotency key")
    )
    provider_data = models.JSONField(default=dict, blank=True, verbose_name=_("provider data"))
    confirmation_url = models.URLField(max_length=2000, blank=True, verbose_name=_("confirmation URL"))
    return_url = models.URLField(max_length=2000, blank=True, verbose_name=_("return URL"))
    failure_reason = models.CharField(max_length=255, blank=True, verbose_name=_("failure reason"))
    save_method = models.BooleanField(default=False, verbose_name=_("save the method for autopay"))
    method = models.ForeignKey(
        PaymentMethod,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("payment method"),
    )
    invoice_number = models.CharField(  # the invoice for payment it pays, when known (bank transfers)
        max_length=64, blank=True, verbose_name=_("invoice number")
    )
    transaction = models.OneToOneField(
        "billing.Transaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payment",
        verbose_name=_("ledger transaction"),
    )
    created_by = models.CharField(max_length=255, blank=True, verbose_name=_("created by"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    succeeded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("succeeded at"))

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        indexes = [
            models.Index(fields=["customer", "-id"], name="payment_customer_recent"),
            models.Index(fields=["status", "created_at"], name="payment_status_created"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_payment_id"],
                condition=Q(provider_payment_id__isnull=False),
                name="payment_provider_id_unique",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(refunded__gte=0) & Q(refunded__lte=models.F("amount")), name="payment_refunded_in_range"
            ),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | Q(transaction__isnull=False), name="payment_succeeded_posted"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.amount} {self.get_status_display()}"


class PaymentStateChange(models.Model):
    """One step of a payment's life, as it happened: who or what moved it (api, admin, webhook, poll)."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="changes", verbose_name=_("payment"))
    from_status = models.CharField(max_length=10, blank=True, verbose_name=_("from"))
    to_status = models.CharField(max_length=10, verbose_name=_("to"))
    source = models.CharField(max_length=20, verbose_name=_("source"))
    detail = models.CharField(max_length=255, blank=True, verbose_name=_("detail"))
    at = models.DateTimeField(auto_now_add=True, verbose_name=_("at"))

    class Meta:
        verbose_name = _("payment state change")
        verbose_name_plural = _("payment state changes")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.from_status or '·'} → {self.to_status}"


class Refund(models.Model):
    class Status(models.TextChoices):
        CREATED = "created", _("Created")  # recorded; the provider not asked yet, or its answer lost: retried
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATED, verbose_name=_("status"))
    amount = money_field(verbose_name=_("amount"))
    reason = models.CharField(max_length=255, verbose_name=_("reason"))
    provider_refund_id = models.CharField(max_length=255, null=True, blank=True, verbose_name=_("provider refund id"))
    provider_key = models.CharField(max_length=100, verbose_name=_("provider idempotency key"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    last_error = models.CharField(max_length=255, blank=True, verbose_name=_("last error"))
    failure_reason = models.CharField(max_length=255, blank=True, verbose_name=_("failure reason"))
    transaction = models.OneToOneField(
        "billing.Transaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refund",
        verbose_name=_("ledger transaction"),
    )
    created_by = models.CharField(max_length=255, blank=True, verbose_name=_("created by"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.UniqueConstraint(
                fields=["payment", "provider_refund_id"],
                condition=Q(provider_refund_id__isnull=False),
                name="refund_provider_id_unique",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.amount} {self.get_status_display()}"


class Autopay(models.Model):
    """A customer's consent to charge a saved method: when the balance falls below the threshold, and before a
    renewal the balance cannot cover. Stops itself after `max_failures` failures in a row."""

    customer = models.OneToOneField(
        "billing.Customer", on_delete=models.PROTECT, related_name="autopay", verbose_name=_("customer")
    )
    method = models.ForeignKey(
        PaymentMethod, on_delete=models.PROTECT, related_name="autopays", verbose_name=_("payment method")
    )
    is_active = models.BooleanField(default=True, verbose_name=_("active"))
    threshold = models.DecimalField(
        max_digits=19,
        decimal_places=4,
        verbose_name=_("threshold"),
        help_text=_("Top up when the balance falls below this amount (in the customer's currency)."),
    )
    amount = models.DecimalField(
        max_digits=19, decimal_places=4, verbose_name=_("top-up amount"), help_text=_("How much to charge each time.")
    )
    before_renewal = models.BooleanField(
        default=True,
        verbose_name=_("before renewals"),
        help_text=_("Also charge before a renewal the balance cannot cover."),
    )
    failures = models.PositiveSmallIntegerField(default=0, verbose_name=_("failures in a row"))
    max_failures = models.PositiveSmallIntegerField(default=3, verbose_name=_("stop after failures"))
    stopped_reason = models.CharField(max_length=255, blank=True, verbose_name=_("stopped because"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("autopay")
        verbose_name_plural = _("autopay settings")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="autopay_amount_positive"),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="autopay_threshold_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.amount} < {self.threshold}"


class BankStatement(models.Model):
    """One imported 1CClientBankExchange file, all or nothing."""

    file_name = models.CharField(max_length=255, verbose_name=_("file name"))
    sha256 = models.CharField(max_length=64, verbose_name=_("SHA-256"))
    accounts = models.CharField(max_length=255, blank=True, verbose_name=_("accounts"))
    date_from = models.DateField(null=True, blank=True, verbose_name=_("from"))
    date_to = models.DateField(null=True, blank=True, verbose_name=_("to"))
    documents = models.PositiveIntegerField(default=0, verbose_name=_("documents"))
    incoming = models.PositiveIntegerField(default=0, verbose_name=_("incoming"))
    matched = models.PositiveIntegerField(default=0, verbose_name=_("matched"))
    unmatched = models.PositiveIntegerField(default=0, verbose_name=_("unmatched"))
    duplicates = models.PositiveIntegerField(default=0, verbose_name=_("duplicates"))
    uploaded_by = models.CharField(max_length=255, blank=True, verbose_name=_("uploaded by"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("imported at"))

    class Meta:
        verbose_name = _("bank statement")
        verbose_name_plural = _("bank statements")

    def __str__(self) -> str:
        return f"{self.file_name} ({self.date_from}–{self.date_to})"


class BankTransfer(models.Model):
    """An incoming payment order from a statement. Matched to a customer (and an invoice) it becomes a Payment;
    unmatched it waits in the review queue for an accountant."""

    class Status(models.TextChoices):
        MATCHED = "matched", _("Matched")  # credited automatically
        UNMATCHED = "unmatched", _("Needs review")
        ASSIGNED = "assigned", _("Assigned by an accountant")
        IGNORED = "ignored", _("Ignored")

    statement = models.ForeignKey(
        BankStatement, on_delete=models.PROTECT, related_name="transfers", verbose_name=_("statement")
    )
    dedupe_key = models.CharField(max_length=255, unique=True, verbose_name=_("dedupe key"))
    line = models.PositiveIntegerField(verbose_name=_("line"))
    number = models.CharField(max_length=32, verbose_name=_("document number"))
    date = models.DateField(null=True, blank=True, verbose_name=_("document date"))
    received_on = models.DateField(null=True, blank=True, verbose_name=_("received on"))
    amount = money_field(verbose_name=_("amount"))
    payer_name = models.CharField(max_length=255, blank=True, verbose_name=_("payer"))
    payer_inn = models.CharField(max_length=12, blank=True, verbose_name=_("payer INN"))
    payer_account = models.CharField(max_length=20, blank=True, verbose_name=_("payer account"))
    payer_bik = models.CharField(max_length=9, blank=True, verbose_name=_("payer BIK"))
    purpose = models.TextField(blank=True, verbose_name=_("payment purpose"))
    recipient_account = models.CharField(max_length=20, blank=True, verbose_name=_("recipient account"))
    invoice_numbers = models.CharField(max_length=255, blank=True, verbose_name=_("invoice numbers found"))
    status = models.CharField(max_length=10, choices=Status.choices, verbose_name=_("status"))
    match_note = models.CharField(max_length=255, blank=True, verbose_name=_("match note"))
    customer = models.ForeignKey(
        "billing.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bank_transfers",
        verbose_name=_("customer"),
    )
    payment = models.OneToOneField(
        Payment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bank_transfer",
        verbose_name=_("payment"),
    )
    reviewed_by = models.CharField(max_length=255, blank=True, verbose_name=_("reviewed by"))

    class Meta:
        verbose_name = _("bank transfer")
        verbose_name_plural = _("bank transfers")
        indexes = [models.Index(fields=["status"], name="bank_transfer_status")]

    def __str__(self) -> str:
        return f"№ {self.number} {self.date} {self.amount}"
