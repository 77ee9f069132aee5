"""The double-entry ledger. PostgreSQL guards its invariants (billing/sql/ledger.sql): entries of a
transaction sum to zero per currency, an entry's currency is its account's, an entry joins only a
transaction of its own database transaction, Transaction/Entry rows can be neither updated nor
deleted, a cached balance changes only together with entries of its account, and TRUNCATE empties
the whole ledger or nothing. `ledger_verify` proves the cached balances daily (LedgerVerification).
Design note: docs/ledger.md.

Sign convention: entry amounts are signed, debit positive. An account's cached balance is the raw
sum of its entries: `Account.balance` for a customer account, and `Account.balance` plus the sum of
its balance slots for a system account (see AccountBalanceSlot). A customer's balance account is
a liability (credit-normal): money the customer holds with us makes its raw balance negative, and
`customer_balance` shows it with the sign a customer expects (positive = funds available).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from moneyed import Money

from billing.money import DECIMAL_PLACES, MAX_DIGITS, money_field


class AccountQuerySet(models.QuerySet):
    def with_slot_balance(self) -> AccountQuerySet:
        """Annotate `slot_balance` (the sum of the balance slots, 0 for none), read by `Account.total_balance`."""
        slots = (
            AccountBalanceSlot.objects.filter(account=OuterRef("pk"))
            .order_by()
            .values("account")
            .annotate(total=Sum("balance"))
            .values("total")
        )
        return self.annotate(
            slot_balance=Coalesce(Subquery(slots), Value(Decimal(0)), output_field=models.DecimalField())
        )


class Account(models.Model):
    class Kind(models.TextChoices):
        CUSTOMER = "customer", _("Customer balance")
        REVENUE = "revenue", _("Revenue")
        VAT_PAYABLE = "vat_payable", _("VAT payable")
        VAT_ADVANCES = "vat_advances", _("VAT on advances received")
        PROVIDER_CLEARING = "provider_clearing", _("Payment provider clearing")
        PROMO = "promo", _("Promotions and bonuses")
        REFUNDS = "refunds", _("Refunds")
        ADJUSTMENTS = "adjustments", _("Manual adjustments")

    CREDIT_NORMAL = {Kind.CUSTOMER, Kind.REVENUE, Kind.VAT_PAYABLE}

    kind = models.CharField(max_length=20, choices=Kind.choices, verbose_name=_("kind"))
    code = models.CharField(
        max_length=100, help_text=_("customer:<id>, revenue:<product>, vat_payable, …"), verbose_name=_("code")
    )
    name = models.CharField(max_length=255, verbose_name=_("name"))
    customer = models.ForeignKey(  # indexed by (customer, balance_currency)
        "billing.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
        db_index=False,
        verbose_name=_("customer"),
    )
    # balance_currency is the account's currency; balance caches the raw (debit-positive) entry sum.
    balance = money_field(editable=False, verbose_name=_("balance"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    objects = AccountQuerySet.as_manager()

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["code", "balance_currency"], name="account_code_currency_unique"),
            # A customer account names its customer and no other account names one: checked on INSERT by the
            # billing_account_guard trigger (billing/sql/ledger.sql), which also refuses any later change of kind
            # or customer; a CHECK would be evaluated again on every balance update.
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
    def total_balance(self) -> Money:
        """The cached balance: the row's own part plus, for a system account, its balance slots.

        Querysets annotated by `AccountQuerySet.with_slot_balance()` answer without a query."""
        slots = getattr(self, "slot_balance", None)
        if slots is None:
            slots = (
                0
                if self.kind == self.Kind.CUSTOMER
                else (self.balance_slots.aggregate(total=Sum("balance"))["total"] or 0)
            )
        return Money(self.balance.amount + slots, self.currency)

    @property
    def display_balance(self) -> Money:
        """Balance in the account's natural sign (credit-normal accounts flipped)."""
        total = self.total_balance
        return -total if self.is_credit_normal else total


class AccountBalanceSlot(models.Model):
    """A part of a system account's cached balance.

    Nearly every posting touches a system account (provider clearing, revenue, VAT payable, …). One cached
    balance on its row would make that row the lock every writer queues behind until commit, so the ledger
    adds a system account's deltas to one of SYSTEM_BALANCE_SLOTS slot rows instead, picked at random per
    posting, in the same database transaction under the slot's row lock. The account's cached balance is its
    row's `balance` plus the sum of its slots. Customer accounts have no slots: their one row is locked anyway
    to check the credit limit.
    """

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="balance_slots", db_index=False, verbose_name=_("account")
    )  # indexed by the unique (account, slot)
    slot = models.SmallIntegerField(verbose_name=_("slot"))  # a shard number: any value sums to the same balance
    balance = models.DecimalField(
        max_digits=MAX_DIGITS,
        decimal_places=DECIMAL_PLACES,
        default=Decimal(0),
        editable=False,
        verbose_name=_("balance"),
    )

    class Meta:
        verbose_name = _("account balance slot")
        verbose_name_plural = _("account balance slots")
        constraints = [models.UniqueConstraint(fields=["account", "slot"], name="account_balance_slot_unique")]
        default_permissions = ()  # internal: shown only as part of its account's balance

    def __str__(self) -> str:
        return f"{self.account_id}[{self.slot}]: {self.balance}"


SYSTEM_BALANCE_SLOTS = 128


class Transaction(models.Model):
    class Kind(models.TextChoices):
        PAYMENT = "payment", _("Payment / top-up")
        CHARGE = "charge", _("Charge")
        ADJUSTMENT = "adjustment", _("Manual adjustment")
        REFUND = "refund", _("Refund")
        PROMO = "promo", _("Promotion / bonus")
        REVERSAL = "reversal", _("Reversal")
        VAT = "vat", _("VAT on an advance")

    kind = models.CharField(max_length=20, choices=Kind.choices, verbose_name=_("kind"))
    idempotency_key = models.CharField(
        max_length=255, verbose_name=_("idempotency key")
    )  # unique: see Meta (no LIKE index on a hot insert path)
    content_hash = models.CharField(max_length=64, editable=False, verbose_name=_("content hash"))
    effective_date = models.DateField(verbose_name=_("effective date"))
    posted_at = models.DateTimeField(db_default=models.functions.Now(), editable=False, verbose_name=_("posted at"))
    customer = models.ForeignKey(  # indexed by (customer, -id)
        "billing.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transactions",
        db_index=False,
        verbose_name=_("customer"),
    )
    source_type = models.CharField(
        max_length=50, blank=True, help_text=_("What caused it: api, admin, payment, …"), verbose_name=_("source type")
    )
    source_id = models.CharField(max_length=100, blank=True, verbose_name=_("source id"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    reverses = models.ForeignKey(  # at most one reversal each: see Meta (a partial index: most rows have none)
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
        db_index=False,
        verbose_name=_("reverses"),
    )
    created_by = models.CharField(max_length=255, blank=True, verbose_name=_("created by"))
    metadata = models.JSONField(default=dict, blank=True, verbose_name=_("metadata"))

    class Meta:
        verbose_name = _("transaction")
        verbose_name_plural = _("transactions")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="transaction_idempotency_key_unique"),
            models.UniqueConstraint(
                fields=["reverses"], condition=Q(reverses__isnull=False), name="transaction_reversed_once"
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-id"]),
            models.Index(fields=["effective_date"]),
            models.Index(fields=["source_type", "source_id"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.effective_date}"


class Entry(models.Model):
    # Neither key is a database foreign key: the ledger's check (billing/sql/ledger.sql) proves, once per statement
    # that inserts entries, that their transactions exist, that every entry's account exists in the entry's currency
    # and that the entries sum to zero per currency (at commit for a transaction left open), instead of per-row
    # checks on every entry.
    # Accounts and transactions can never be deleted (triggers), so the proof holds. See docs/ledger.md.
    transaction = models.ForeignKey(
        Transaction,
        on_delete=models.PROTECT,
        related_name="entries",
        db_constraint=False,
        verbose_name=_("transaction"),
    )
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="entries",
        db_constraint=False,
        db_index=False,
        verbose_name=_("account"),
    )  # indexed by (account, id)
    amount = money_field(help_text=_("Signed: debit positive, credit negative."), verbose_name=_("amount"))
    memo = models.CharField(max_length=255, blank=True, verbose_name=_("memo"))

    class Meta:
        verbose_name = _("entry")
        ordering = ["id"]
        verbose_name_plural = _("entries")
        indexes = [
            models.Index(fields=["account", "id"]),
        ]
        # No zero amounts (entry_amount_non_zero) and entries that balance per currency: the ledger's
        # per-statement check (billing/sql/ledger.sql).

    def __str__(self) -> str:
        return f"{self.account_id}: {self.amount}"


class LedgerVerification(models.Model):
    """One run of `ledger_verify`: whether every cached balance equalled its account's entries and every transaction
    summed to zero per currency, and the differences found (capped, with their total counts)."""

    started_at = models.DateTimeField(db_default=models.functions.Now(), editable=False, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("finished at"))
    ok = models.BooleanField(
        null=True, editable=False, help_text=_("Empty while the verification runs."), verbose_name=_("ok")
    )
    accounts_checked = models.PositiveIntegerField(default=0, editable=False, verbose_name=_("accounts checked"))
    transactions_checked = models.PositiveIntegerField(
        default=0, editable=False, verbose_name=_("transactions checked")
    )
    differences = models.JSONField(default=dict, blank=True, editable=False, verbose_name=_("differences"))

    class Meta:
        verbose_name = _("ledger verification")
        verbose_name_plural = _("ledger verifications")
        ordering = ["-id"]
        default_permissions = ()  # no admin page of its own: every staff user sees the banner while the last failed

    def __str__(self) -> str:
        state = "running" if self.ok is None else ("ok" if self.ok else "DIFFERENCES")
        return f"Ledger verification #{self.pk} {self.started_at:%Y-%m-%d %H:%M} {state}"
