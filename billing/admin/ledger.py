"""The ledger, read only: accounts, transactions (with the reverse action) and entries. Postings come from
services; the admin can neither add, change nor delete ledger rows, not even for a superuser."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.html import format_html

from billing.admin.common import ADJUST_PERMISSION, admin_url, customer_amounts, money_text
from billing.forms import ReverseTransactionsForm
from billing.models import Account, Entry, Transaction
from billing.services.ledger import ledger_reverse
from config.admin import ReadOnlyModelAdmin, ReadOnlyTabularInline
from config.errors import ApplicationError


@admin.register(Account)
class AccountAdmin(ReadOnlyModelAdmin):
    list_display = ("code", "name", "kind", "currency", "balance_shown", "display_balance_shown", "customer")
    list_filter = ("kind", "balance_currency")
    search_fields = ("code", "name", "customer__name", "customer__external_id")
    list_select_related = ("customer",)
    fields = ("code", "name", "kind", "customer", "balance_shown", "display_balance_shown", "created_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).with_slot_balance()

    @admin.display(description="Balance (debit positive)")
    def balance_shown(self, obj: Account) -> str:
        return money_text(obj.total_balance.amount, obj.currency)

    @admin.display(description="Display balance")
    def display_balance_shown(self, obj: Account) -> str:
        return money_text(obj.display_balance.amount, obj.currency)


class EntryInline(ReadOnlyTabularInline):
    model = Entry
    fields = ("account", "amount", "memo")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account")


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "posted_at", "effective_date", "kind", "customer", "amounts", "description", "created_by")
    list_filter = ("kind", "source_type", "effective_date")
    search_fields = ("idempotency_key", "description", "source_id", "customer__name", "customer__external_id")
    list_select_related = ("customer",)
    date_hierarchy = "effective_date"
    inlines = [EntryInline]
    actions = ["reverse_transactions"]
    fields = (
        "kind",
        "customer",
        "effective_date",
        "posted_at",
        "idempotency_key",
        "source_type",
        "source_id",
        "description",
        "reverses",
        "reversed_by_link",
        "created_by",
        "metadata",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("entries__account")

    def has_reverse_permission(self, request) -> bool:
        return request.user.has_perm(ADJUST_PERMISSION)

    @admin.display(description="Amounts")
    def amounts(self, obj: Transaction) -> str:
        if obj.customer_id:
            return customer_amounts(obj)
        debits: dict[str, object] = {}
        for entry in obj.entries.all():
            if entry.amount.amount > 0:
                code = entry.amount.currency.code
                debits[code] = debits.get(code, 0) + entry.amount.amount
        return ", ".join(money_text(amount, code) for code, amount in sorted(debits.items())) or "—"

    @admin.display(description="Reversed by")
    def reversed_by_link(self, obj: Transaction) -> str:
        reversal = Transaction.objects.filter(reverses=obj).only("pk").first()
        if reversal is None:
            return "—"
        return format_html('<a href="{}">#{}</a>', admin_url(reversal), reversal.pk)

    @admin.action(description="Reverse selected transactions…", permissions=["reverse"])
    def reverse_transactions(self, request, queryset):
        transactions = list(queryset.order_by("pk"))
        if "apply" in request.POST:
            form = ReverseTransactionsForm(request.POST)
            if form.is_valid():
                for txn in transactions:
                    self._reverse(request, txn, form.cleaned_data["reason"])
                return None  # back to the list, with the messages
        else:
            form = ReverseTransactionsForm(initial={"reason": f"Reversed in admin by {request.user.get_username()}"})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Reverse transactions",
            "transactions": transactions,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": "reverse_transactions",
        }
        return TemplateResponse(request, "billing/admin/reverse_transactions.html", context)

    def _reverse(self, request, txn: Transaction, reason: str) -> None:
        existing = Transaction.objects.filter(reverses=txn).only("pk").first()
        if existing is not None:  # only to say so; the service and a unique constraint are the guard
            self.message_user(
                request, f"Transaction #{txn.pk} was already reversed by #{existing.pk}.", messages.WARNING
            )
            return
        try:
            reversal = ledger_reverse(transaction_id=txn.pk, reason=reason, created_by=request.user.get_username())
        except ApplicationError as exc:
            self.message_user(request, f"Transaction #{txn.pk}: {exc.message}", messages.ERROR)
            return
        self.message_user(
            request,
            format_html('Transaction #{} reversed by <a href="{}">#{}</a>.', txn.pk, admin_url(reversal), reversal.pk),
            messages.SUCCESS,
        )


@admin.register(Entry)
class EntryAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "transaction", "account", "amount", "memo")
    list_filter = ("account__kind", "amount_currency")
    search_fields = ("account__code", "memo", "transaction__idempotency_key")
    list_select_related = ("transaction", "account")
    raw_id_fields = ("transaction", "account")
