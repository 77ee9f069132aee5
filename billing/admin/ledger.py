"""The ledger, read only: accounts, transactions (with the reverse action) and entries. Postings come from
services; the admin can neither add, change nor delete ledger rows, not even for a superuser."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.admin.common import (
    ADJUST_PERMISSION,
    admin_url,
    entry_credit,
    entry_debit,
    money_text,
    transaction_credit,
    transaction_debit,
)
from billing.forms import ReverseTransactionsForm
from billing.models import Account, Entry, Transaction
from billing.services.ledger import ledger_reverse
from config.admin import ReadOnlyModelAdmin, ReadOnlyTabularInline
from config.errors import ApplicationError


class CurrencyFilter(admin.AllValuesFieldListFilter):
    """The currencies the rows use (not every currency of the installation), under a translated title."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.title = gettext_lazy("currency")


@admin.register(Account)
class AccountAdmin(ReadOnlyModelAdmin):
    list_display = ("code", "name", "kind", "currency", "balance_shown", "display_balance_shown", "customer")
    list_filter = ("kind", ("balance_currency", CurrencyFilter))
    search_fields = ("code", "name", "customer__name", "customer__external_id")
    list_select_related = ("customer",)
    fields = ("code", "name", "kind", "customer", "balance_shown", "display_balance_shown", "created_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).with_slot_balance()

    @admin.display(description=gettext_lazy("Balance (debit positive)"))
    def balance_shown(self, obj: Account) -> str:
        return money_text(obj.total_balance.amount, obj.currency)

    @admin.display(description=gettext_lazy("Display balance"))
    def display_balance_shown(self, obj: Account) -> str:
        return money_text(obj.display_balance.amount, obj.currency)


class EntryInline(ReadOnlyTabularInline):
    model = Entry
    fields = ("account", "debit", "credit", "memo")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account")

    @admin.display(description=gettext_lazy("Debit"))
    def debit(self, obj: Entry) -> str:
        return entry_debit(obj)

    @admin.display(description=gettext_lazy("Credit"))
    def credit(self, obj: Entry) -> str:
        return entry_credit(obj)


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyModelAdmin):
    # fits a 1280-pixel page: the date it counts for and who posted it are on the transaction's own page
    list_display = ("id", "posted_short", "kind_and_description", "customer", "debit", "credit")
    empty_value_display = ""
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

    @admin.display(description=gettext_lazy("posted at"), ordering="posted_at")
    def posted_short(self, obj: Transaction) -> str:
        posted = timezone.localtime(obj.posted_at)  # the operator's zone (TIME_ZONE)
        return format_html("{}<br>{}", date_format(posted, "SHORT_DATE_FORMAT"), date_format(posted, "TIME_FORMAT"))

    @admin.display(description=gettext_lazy("kind"), ordering="kind")
    def kind_and_description(self, obj: Transaction) -> str:
        """The kind, with the description under it, shortened (whole in its tooltip and on the transaction's page)."""
        text = obj.description or ""
        short = Truncator(text).chars(40)
        return format_html('{}<div class="help" title="{}">{}</div>', obj.get_kind_display(), text, short)

    @admin.display(description=gettext_lazy("Debit"))
    def debit(self, obj: Transaction) -> str:
        return transaction_debit(obj)

    @admin.display(description=gettext_lazy("Credit"))
    def credit(self, obj: Transaction) -> str:
        return transaction_credit(obj)

    @admin.display(description=gettext_lazy("Reversed by"))
    def reversed_by_link(self, obj: Transaction) -> str:
        reversal = Transaction.objects.filter(reverses=obj).only("pk").first()
        if reversal is None:
            return "—"
        return format_html('<a href="{}">#{}</a>', admin_url(reversal), reversal.pk)

    @admin.action(description=gettext_lazy("Reverse selected transactions…"), permissions=["reverse"])
    def reverse_transactions(self, request, queryset):
        transactions = list(queryset.order_by("pk"))
        if "apply" in request.POST:
            form = ReverseTransactionsForm(request.POST)
            if form.is_valid():
                for txn in transactions:
                    self._reverse(request, txn, form.cleaned_data["reason"])
                return None  # back to the list, with the messages
        else:
            form = ReverseTransactionsForm(
                initial={"reason": _("Reversed in admin by %(user)s") % {"user": request.user.get_username()}}
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Reverse transactions"),
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
                request,
                _("Transaction #%(id)s was already reversed by #%(reversal)s.")
                % {"id": txn.pk, "reversal": existing.pk},
                messages.WARNING,
            )
            return
        try:
            reversal = ledger_reverse(transaction_id=txn.pk, reason=reason, created_by=request.user.get_username())
        except ApplicationError as exc:
            self.message_user(
                request, _("Transaction #%(id)s: %(error)s") % {"id": txn.pk, "error": exc.message}, messages.ERROR
            )
            return
        self.message_user(
            request,
            format_html(
                _('Transaction #{} reversed by <a href="{}">#{}</a>.'), txn.pk, admin_url(reversal), reversal.pk
            ),
            messages.SUCCESS,
        )


@admin.register(Entry)
class EntryAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "transaction_short", "account", "debit", "credit", "memo")
    list_filter = ("account__kind", ("amount_currency", CurrencyFilter))
    empty_value_display = ""  # a ledger leaves the other side of an entry blank
    search_fields = ("account__code", "memo", "transaction__idempotency_key")
    list_select_related = ("transaction", "account")
    raw_id_fields = ("transaction", "account")

    @admin.display(description=gettext_lazy("transaction"), ordering="transaction_id")
    def transaction_short(self, obj: Entry) -> str:
        txn = obj.transaction
        return format_html(
            '<a href="{}">#{}</a><br>{}',
            admin_url(txn),
            txn.pk,
            date_format(txn.effective_date, "SHORT_DATE_FORMAT"),
        )

    @admin.display(description=gettext_lazy("Debit"), ordering="amount")
    def debit(self, obj: Entry) -> str:
        return entry_debit(obj)

    @admin.display(description=gettext_lazy("Credit"), ordering="-amount")
    def credit(self, obj: Entry) -> str:
        return entry_credit(obj)
