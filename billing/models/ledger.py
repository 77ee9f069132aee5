"""The double-entry ledger. PostgreSQL guards its invariants (see migration 0002):
entries of a transaction sum to zero per currency, an entry's currency is its account's,
and Transaction/Entry rows can be neither updated nor deleted.

Sign convention: entry amounts are signed, debit positive. `Account.balance` caches the raw
sum of the account's entries. A customer's balance account is a liability (credit-normal):
money the customer holds with us makes its raw balance negative, and `customer_balance`
shows it with the sign a customer expects (positive = funds available).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from billing.money import money_field


class Account(models.Model):
    class Kind(models.TextChoices):
        CUSTOMER = "customer", "Customer balance"
        REVENUE = "revenue", "Revenue"
        VAT_PAYABLE = "vat_payable", "VAT payable"
        PROVIDER_CLEARING = "provider_clearing", "Payment provider clearing"
        PROMO = "promo", "Promotions and bonuses"
        REFUNDS = "refunds", "Refunds"
        ADJUSTMENTS = "adjustments", "Manual adjustments"

    CREDIT_NORMAL = {Kind.CUSTOMER, Kind.REVENUE, Kind.VAT_PAYABLE}

    kind = models.CharField(max_length=20, choices=Kind.choices)
    code = models.CharField(max_length=100, help_text="customer:<id>, revenue:<product>, vat_payable, …")
    name = models.CharField(max_length=255)
    customer = models.ForeignKey(  # indexed by (customer, balance_currency)
        "billing.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="accounts", db_index=False
    )
    # balance_currency is the account's currency; balance caches the raw (debit-positive) entry sum.
    balance = money_field(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["code", "balance_currency"], name="account_code_currency_unique"),
            models.UniqueConstraint(fields=["id", "balance_currency"], name="account_id_currency_unique"),
            models.CheckConstraint(
                condition=Q(kind="customer", customer__isnull=False) | (~Q(kind="customer") & Q(customer=None)),
                name="account_customer_iff_customer_kind",
            ),
        ]
        indexes = [models.Index(fields=["customer", "balance_currency"])]

    def __str__(self) -> str:
        return f"{self.name} [{self.currency}]"

    @property
    def currency(self) -> str:
        return self.balance_currency

    @property
    def is_credit_normal(self) -> bool:
        return self.kind in self.CREDIT_NORMAL

    @property
    def display_balance(self):
        """Balance in the account's natural sign (credit-normal accounts flipped)."""
        return -self.balance if self.is_credit_normal else self.balance


class Transaction(models.Model):
    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment / top-up"
        CHARGE = "charge", "Charge"
        ADJUSTMENT = "adjustment", "Manual adjustment"
        REFUND = "refund", "Refund"
        PROMO = "promo", "Promotion / bonus"
        REVERSAL = "reversal", "Reversal"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=255)  # unique: see Meta (no LIKE index on a hot insert path)
    content_hash = models.CharField(max_length=64, editable=False)
    effective_date = models.DateField()
    posted_at = models.DateTimeField(db_default=models.functions.Now(), editable=False)
    customer = models.ForeignKey(  # indexed by (customer, -id)
        "billing.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="transactions",
        db_index=False,
    )
    source_type = models.CharField(max_length=50, blank=True, help_text="What caused it: api, admin, payment, …")
    source_id = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    created_by = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="transaction_idempotency_key_unique")]
        indexes = [
            models.Index(fields=["customer", "-id"]),
            models.Index(fields=["effective_date"]),
            models.Index(fields=["source_type", "source_id"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.effective_date}"


class Entry(models.Model):
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    # The database checks (account, amount_currency) against (account id, balance_currency) with a composite
    # foreign key (migration 0002), which also proves the account exists; a second plain key would double the
    # checks on the ledger's hottest insert. Indexed by (account, id).
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries", db_constraint=False,
                                db_index=False)
    amount = money_field(help_text="Signed: debit positive, credit negative.")
    memo = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "entries"
        indexes = [
            models.Index(fields=["account", "id"]),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_non_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.amount}"
