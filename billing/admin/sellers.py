"""Sellers: the SaaS's legal entities, with their bank accounts, signatories and VAT rate history, edited by
accountants. Every requisite is validated by the models' clean() (ИНН/КПП/ОГРН check digits, the БИК and the
accounts' control keys), so a mistake is a form error and nothing is saved."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy

from billing.models import Seller, SellerBankAccount, SellerSignatory, SellerVatRate


class SellerVatRateInline(admin.TabularInline):
    model = SellerVatRate
    extra = 0
    fields = ("valid_from", "rate")


class SellerBankAccountInline(admin.TabularInline):
    model = SellerBankAccount
    extra = 0
    fields = ("bank_name", "bik", "correspondent_account", "account", "is_primary")


class SellerSignatoryInline(admin.TabularInline):
    model = SellerSignatory
    extra = 0
    fields = ("role", "full_name", "position", "poa_number", "poa_date", "is_active")


@admin.register(Seller)
class SellerAdmin(admin.ModelAdmin):
    list_display = ("name", "inn", "kpp", "is_default", "current_vat_rate", "monthly_documents")
    search_fields = ("name", "full_name", "inn")
    list_filter = ("is_default", "monthly_documents")
    inlines = [SellerVatRateInline, SellerBankAccountInline, SellerSignatoryInline]
    fieldsets = (
        (None, {"fields": ("kind", "name", "full_name", "is_default")}),
        (gettext_lazy("Requisites"), {"fields": ("inn", "kpp", "ogrn", "address", "email", "phone", "edo_id")}),
        (
            gettext_lazy("Documents"),
            {"fields": ("number_prefix", "numbering_reset", "monthly_documents", "facsimile", "stamp")},
        ),
        (gettext_lazy("Payments"), {"fields": ("fiscal_receipts", "tax_system_code")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("vat_rates")

    @admin.display(description=gettext_lazy("VAT rate today"))
    def current_vat_rate(self, seller: Seller) -> str:
        from django.utils import timezone

        rate = seller.vat_rate_on(timezone.localdate())
        return dict(SellerVatRate._meta.get_field("rate").choices).get(rate.value, rate.value)
