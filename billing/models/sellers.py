"""Sellers: the legal entities of the SaaS that serve customers, book revenue and VAT, and issue documents.

A seller lives in billing, not in documents: the ledger splits every charge into revenue and VAT payable at the
seller's rate in force on the shipment date (plans prices through it), and payments match bank transfers to the
seller's settlement accounts; both sit below documents. documents reads the requisites, signatories and numbering
settings from here to issue and print. See docs/architecture.md ("Sellers and VAT").

Which seller serves a charge: the customer's own seller if set, else the seller of the subscription plan's
product, else the default seller; with no seller at all nothing is split (every charge is revenue, as before).
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing import identifiers
from billing.vat import VatRate, rate_on

VAT_RATE_CHOICES = [
    (VatRate.STANDARD.value, _("Standard rate by date (20% to 2025, 22% from 2026)")),
    (VatRate.R22.value, "22%"),
    (VatRate.R20.value, "20%"),
    (VatRate.R10.value, "10%"),
    (VatRate.R7.value, _("7% (simplified tax system)")),
    (VatRate.R5.value, _("5% (simplified tax system)")),
    (VatRate.R0.value, "0%"),
    (VatRate.NONE.value, _("Without VAT")),
]


class Seller(models.Model):
    class Kind(models.TextChoices):
        LEGAL_ENTITY = "legal_entity", _("Legal entity")
        SOLE_PROPRIETOR = "sole_proprietor", _("Sole proprietor")

    class NumberingReset(models.TextChoices):
        YEARLY = "yearly", _("Every year")
        NEVER = "never", _("Never")

    class MonthlyIssue(models.TextChoices):
        ISSUE = "issue", _("Issue them directly")
        DRAFT = "draft", _("Create drafts for review")

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.LEGAL_ENTITY, verbose_name=_("kind"))
    name = models.CharField(max_length=255, help_text=_("Short name, e.g. ООО «Ромашка»."), verbose_name=_("name"))
    full_name = models.CharField(
        max_length=500,
        help_text=_("Full name per the state register (ЕГРЮЛ/ЕГРИП), as printed on documents."),
        verbose_name=_("full name"),
    )
    inn = models.CharField(max_length=12, verbose_name=_("INN"))
    kpp = models.CharField(max_length=9, blank=True, verbose_name=_("KPP"))
    ogrn = models.CharField(max_length=15, verbose_name=_("OGRN"))
    address = models.TextField(help_text=_("Legal address per the state register."), verbose_name=_("address"))
    email = models.EmailField(blank=True, verbose_name=_("email"))
    phone = models.CharField(max_length=32, blank=True, verbose_name=_("phone"))
    edo_id = models.CharField(
        max_length=100, blank=True, help_text=_("EDO participant id, e.g. 2BM-…"), verbose_name=_("EDO id")
    )
    is_default = models.BooleanField(
        default=False,
        help_text=_("Serves customers and products that name no seller. At most one."),
        verbose_name=_("is default"),
    )
    facsimile = models.ImageField(
        upload_to="sellers/", blank=True, help_text=_("Optional signature facsimile."), verbose_name=_("facsimile")
    )
    stamp = models.ImageField(upload_to="sellers/", blank=True, verbose_name=_("stamp"))
    # documents
    number_prefix = models.CharField(
        max_length=16,
        blank=True,
        help_text=_("Put before every document number, e.g. «МСК-»."),
        verbose_name=_("number prefix"),
    )
    numbering_reset = models.CharField(
        max_length=10,
        choices=NumberingReset.choices,
        default=NumberingReset.YEARLY,
        verbose_name=_("numbering restarts"),
    )
    monthly_documents = models.CharField(
        max_length=10,
        choices=MonthlyIssue.choices,
        default=MonthlyIssue.ISSUE,
        help_text=_("What the monthly closing does with acts and VAT invoices."),
        verbose_name=_("monthly documents"),
    )
    # payments: 54-FZ fiscal receipts sent with individuals' card payments (YooKassa's receipts)
    fiscal_receipts = models.BooleanField(
        default=False,
        db_default=False,
        help_text=_("Send a 54-FZ fiscal receipt with every card payment of an individual."),
        verbose_name=_("fiscal receipts"),
    )
    tax_system_code = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        choices=[
            (1, _("General (ОСН)")),
            (2, _("Simplified, income (УСН доходы)")),
            (3, _("Simplified, income minus expenses (УСН доходы минус расходы)")),
            (5, _("Single agricultural tax (ЕСХН)")),
            (6, _("Patent (ПСН)")),
        ],
        help_text=_("The tax system printed on receipts (when the cash register holds several)."),
        verbose_name=_("tax system"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("seller")
        verbose_name_plural = _("sellers")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="seller_one_default"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, ValidationError] = {}
        if not identifiers.is_valid_inn(self.inn):
            errors["inn"] = ValidationError(gettext("ИНН check digits do not match."), code="invalid_checksum")
        elif self.kind == self.Kind.LEGAL_ENTITY and len(self.inn) != 10:
            errors["inn"] = ValidationError(gettext("A legal entity needs a 10-digit ИНН."), code="invalid_length")
        elif self.kind == self.Kind.SOLE_PROPRIETOR and len(self.inn) != 12:
            errors["inn"] = ValidationError(gettext("A sole proprietor needs a 12-digit ИНН."), code="invalid_length")
        if self.kind == self.Kind.LEGAL_ENTITY:
            if not identifiers.is_valid_kpp(self.kpp):
                errors["kpp"] = ValidationError(
                    gettext("КПП must be 4 digits, 2 digits or capital letters, 3 digits."), code="invalid_format"
                )
            if not identifiers.is_valid_ogrn(self.ogrn):
                errors["ogrn"] = ValidationError(gettext("ОГРН check digit does not match."), code="invalid_checksum")
        else:
            if self.kpp:
                errors["kpp"] = ValidationError(gettext("A sole proprietor has no КПП."), code="not_allowed")
            if not identifiers.is_valid_ogrnip(self.ogrn):
                errors["ogrn"] = ValidationError(gettext("ОГРНИП check digit does not match."), code="invalid_checksum")
        if errors:
            raise ValidationError(errors)

    def vat_rate_on(self, day: dt.date) -> VatRate:
        """The seller's VAT rate for a shipment on `day`, resolved (STANDARD → the law's rate then); «без НДС»
        before its first rate row. Reads the rate rows (prefetch `vat_rates` to read them once)."""
        rows = sorted(self.vat_rates.all(), key=lambda r: r.valid_from)
        current = VatRate.NONE
        for row in rows:
            if row.valid_from <= day:
                current = VatRate(row.rate)
        return rate_on(current, day)


class SellerVatRate(models.Model):
    """The seller's VAT mode from a date on: the standard rate (general system), a fixed rate (10 %, 0 %, the
    simplified system's 5 %/7 %) or «без НДС». The row in force on the shipment date applies."""

    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="vat_rates", verbose_name=_("seller"))
    valid_from = models.DateField(verbose_name=_("valid from"))
    rate = models.CharField(max_length=10, choices=VAT_RATE_CHOICES, verbose_name=_("rate"))

    class Meta:
        verbose_name = _("seller VAT rate")
        verbose_name_plural = _("seller VAT rates")
        ordering = ["seller", "valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["seller", "valid_from"], name="seller_vat_rate_once_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.get_rate_display()} from {self.valid_from}"


class SellerBankAccount(models.Model):
    """A settlement account of the seller: printed on invoices for payment, matched on bank statements."""

    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="bank_accounts", verbose_name=_("seller"))
    bank_name = models.CharField(max_length=255, verbose_name=_("bank name"))
    bik = models.CharField(max_length=9, verbose_name=_("BIK"))
    correspondent_account = models.CharField(max_length=20, verbose_name=_("correspondent account"))
    account = models.CharField(max_length=20, verbose_name=_("settlement account"))
    is_primary = models.BooleanField(
        default=True, help_text=_("The one printed on invoices for payment."), verbose_name=_("is primary")
    )

    class Meta:
        verbose_name = _("seller bank account")
        verbose_name_plural = _("seller bank accounts")
        ordering = ["seller", "-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(fields=["bik", "account"], name="seller_bank_account_unique"),
            models.UniqueConstraint(
                fields=["seller"], condition=Q(is_primary=True), name="seller_one_primary_bank_account"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bank_name} {self.account}"

    def clean(self) -> None:
        errors: dict[str, ValidationError] = {}
        if not identifiers.is_valid_bik(self.bik):
            errors["bik"] = ValidationError(
                gettext("БИК must be 9 digits starting with 04 or 01."), code="invalid_format"
            )
        else:
            if not identifiers.is_valid_account(self.correspondent_account, self.bik, correspondent=True):
                errors["correspondent_account"] = ValidationError(
                    gettext("The correspondent account's control key does not match the БИК."),
                    code="invalid_checksum",
                )
            if not identifiers.is_valid_account(self.account, self.bik):
                errors["account"] = ValidationError(
                    gettext("The settlement account's control key does not match the БИК."), code="invalid_checksum"
                )
        if errors:
            raise ValidationError(errors)


class SellerSignatory(models.Model):
    """Who signs the seller's documents: the director, the chief accountant, or a person with a power of
    attorney (its number and date are printed next to the name)."""

    class Role(models.TextChoices):
        DIRECTOR = "director", _("Director")
        CHIEF_ACCOUNTANT = "chief_accountant", _("Chief accountant")

    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="signatories", verbose_name=_("seller"))
    role = models.CharField(max_length=20, choices=Role.choices, verbose_name=_("role"))
    full_name = models.CharField(max_length=255, help_text=_("Surname, name, patronymic."), verbose_name=_("full name"))
    position = models.CharField(max_length=255, help_text=_("E.g. Генеральный директор."), verbose_name=_("position"))
    poa_number = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("Power of attorney number, when not the head."),
        verbose_name=_("power of attorney number"),
    )
    poa_date = models.DateField(null=True, blank=True, verbose_name=_("power of attorney date"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))

    class Meta:
        verbose_name = _("seller signatory")
        verbose_name_plural = _("seller signatories")
        ordering = ["seller", "role", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["seller", "role"], condition=Q(is_active=True), name="seller_one_active_signatory_per_role"
            ),
            models.CheckConstraint(
                condition=Q(poa_number="", poa_date=None) | (~Q(poa_number="") & Q(poa_date__isnull=False)),
                name="seller_signatory_poa_number_and_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.full_name}"
