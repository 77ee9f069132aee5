from __future__ import annotations

import functools
import zoneinfo

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing import identifiers
from billing.money import money_field


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())  # reads the tz database from disk: once per process


def validate_timezone(value: str) -> None:
    if value not in _time_zones():
        raise ValidationError(
            gettext("%(value)r is not an IANA time zone.") % {"value": value}, code="invalid_timezone"
        )


class Customer(models.Model):
    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", _("Individual")
        LEGAL_ENTITY = "legal_entity", _("Legal entity")
        SOLE_PROPRIETOR = "sole_proprietor", _("Sole proprietor")

    class BillingModel(models.TextChoices):
        PREPAID = "prepaid", _("Prepaid balance")
        POSTPAID = "postpaid", _("Postpaid (invoiced at period end)")

    class ClosingDocuments(models.TextChoices):
        ACT_AND_VAT_INVOICE = "act_and_vat_invoice", _("Act and VAT invoice")
        UPD = "upd", _("Universal transfer document (УПД)")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        CLOSED = "closed", _("Closed")

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.INDIVIDUAL, verbose_name=_("kind"))
    name = models.CharField(max_length=255, verbose_name=_("name"))
    legal_name = models.CharField(
        max_length=500, blank=True, help_text=_("Full legal name for documents."), verbose_name=_("legal name")
    )
    country = models.CharField(
        max_length=2, default="RU", help_text=_("ISO 3166-1 alpha-2."), verbose_name=_("country")
    )
    inn = models.CharField(max_length=12, blank=True, verbose_name=_("INN"))
    kpp = models.CharField(max_length=9, blank=True, verbose_name=_("KPP"))
    ogrn = models.CharField(max_length=15, blank=True, verbose_name=_("OGRN"))
    legal_address = models.TextField(blank=True, verbose_name=_("legal address"))
    billing_emails = ArrayField(models.EmailField(), default=list, blank=True, verbose_name=_("billing emails"))
    phone = models.CharField(max_length=32, blank=True, verbose_name=_("phone"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    timezone = models.CharField(
        max_length=64, default="Europe/Moscow", validators=[validate_timezone], verbose_name=_("timezone")
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status"))
    billing_model = models.CharField(
        max_length=10, choices=BillingModel.choices, default=BillingModel.PREPAID, verbose_name=_("billing model")
    )
    postpaid_since = models.DateField(
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "The day (UTC) the customer became postpaid: only charges of periods starting on or after it are "
            "invoiced. Empty while prepaid."
        ),
        verbose_name=_("postpaid since"),
    )
    past_due_since = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text=_("Since when a prepaid balance is beyond the credit limit (suspension after the grace days)."),
        verbose_name=_("past due since"),
    )
    credit_limit = money_field(help_text=_("How far the balance may go below zero."), verbose_name=_("credit limit"))
    tags = ArrayField(models.CharField(max_length=64), default=list, blank=True, verbose_name=_("tags"))
    external_id = models.CharField(
        max_length=255,
        null=True,
        blank=True,
        unique=True,
        help_text=_("The integrator's own id for this customer."),
        verbose_name=_("external id"),
    )
    metadata = models.JSONField(default=dict, blank=True, verbose_name=_("metadata"))
    # documents
    seller = models.ForeignKey(
        "billing.Seller",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="customers",
        help_text=_("The legal entity that serves this customer; empty: the plan's product's seller or the default."),
        verbose_name=_("seller"),
    )
    closing_documents = models.CharField(
        max_length=20,
        choices=ClosingDocuments.choices,
        default=ClosingDocuments.ACT_AND_VAT_INVOICE,
        db_default=ClosingDocuments.ACT_AND_VAT_INVOICE,
        help_text=_("What the monthly closing issues to this customer."),
        verbose_name=_("closing documents"),
    )
    document_language = models.CharField(
        max_length=2,
        choices=[("ru", _("Russian")), ("en", _("English"))],
        default="ru",
        db_default="ru",
        help_text=_("English for foreign customers: their invoices are printed in English."),
        verbose_name=_("document language"),
    )
    pays_by_bank_transfer = models.BooleanField(
        default=False,
        db_default=False,
        help_text=_("Gets an invoice for payment before each renewal the balance cannot cover."),
        verbose_name=_("pays by bank transfer"),
    )
    contract_number = models.CharField(
        max_length=64, blank=True, default="", db_default="", verbose_name=_("contract number")
    )
    contract_date = models.DateField(null=True, blank=True, verbose_name=_("contract date"))
    edo_id = models.CharField(max_length=100, blank=True, default="", db_default="", verbose_name=_("EDO id"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("closed at"))

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["id"]
        permissions = [("change_billing_model", "Can switch a customer between prepaid and postpaid")]
        indexes = [
            models.Index(fields=["status"]),
            models.Index(fields=["inn"]),
            models.Index(fields=["created_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(credit_limit__gte=0), name="customer_credit_limit_non_negative"),
            models.CheckConstraint(
                condition=Q(credit_limit_currency=models.F("currency")), name="customer_credit_limit_in_currency"
            ),
            models.CheckConstraint(
                condition=Q(status="closed", closed_at__isnull=False) | (~Q(status="closed") & Q(closed_at=None)),
                name="customer_closed_at_matches_status",
            ),
            models.CheckConstraint(
                condition=Q(billing_model="postpaid", postpaid_since__isnull=False)
                | (~Q(billing_model="postpaid") & Q(postpaid_since=None)),
                name="customer_postpaid_since_matches_billing_model",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})" if self.pk else self.name

    @property
    def is_russian_business(self) -> bool:
        return self.country == "RU" and self.kind in (self.Kind.LEGAL_ENTITY, self.Kind.SOLE_PROPRIETOR)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        from billing.money import UnknownCurrency, check_currency

        try:
            self.currency = check_currency(self.currency)
        except UnknownCurrency as exc:
            errors["currency"] = str(exc)
        if self.inn and not identifiers.is_valid_inn(self.inn):
            errors["inn"] = ValidationError(gettext("ИНН check digits do not match."), code="invalid_checksum")
        if self.kpp and not identifiers.is_valid_kpp(self.kpp):
            errors["kpp"] = ValidationError(
                gettext("КПП must be 4 digits, 2 digits or capital letters, 3 digits."), code="invalid_format"
            )
        if self.ogrn:
            valid = identifiers.is_valid_ogrnip if self.kind == self.Kind.SOLE_PROPRIETOR else identifiers.is_valid_ogrn
            if not valid(self.ogrn):
                label = "ОГРНИП" if self.kind == self.Kind.SOLE_PROPRIETOR else "ОГРН"
                errors["ogrn"] = ValidationError(
                    gettext("%(label)s check digit does not match.") % {"label": label}, code="invalid_checksum"
                )
        if self.is_russian_business:
            if self.kind == self.Kind.LEGAL_ENTITY:
                if len(self.inn) != 10:
                    errors.setdefault(
                        "inn", ValidationError(gettext("A legal entity needs a 10-digit ИНН."), code="invalid_length")
                    )
                if not self.kpp:
                    errors.setdefault("kpp", ValidationError(gettext("A legal entity needs a КПП."), code="required"))
            else:
                if len(self.inn) != 12:
                    errors.setdefault(
                        "inn",
                        ValidationError(gettext("A sole proprietor needs a 12-digit ИНН."), code="invalid_length"),
                    )
                if self.kpp:
                    errors.setdefault(
                        "kpp", ValidationError(gettext("A sole proprietor has no КПП."), code="not_allowed")
                    )
        elif self.kind == self.Kind.INDIVIDUAL and self.kpp:
            errors["kpp"] = ValidationError(gettext("An individual has no КПП."), code="not_allowed")
        if errors:
            raise ValidationError(errors)
