"""The accountant's home: the customer card (balance, recent transactions, adjust, close), the ledger read-only,
the outbox, webhooks and API keys.

Every write goes through a service: the admin forms check the shape, the views call
billing.services.*, and an ApplicationError or ValidationError becomes a form error or a message.
The ledger can be neither added to, changed nor deleted here, not even by a superuser: postings come
from services (adjustments and reversals have their own views).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Func, Prefetch
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from billing.forms import (
    ApiKeyCreateForm,
    BalanceAdjustmentForm,
    CustomerAdminForm,
    ReverseTransactionsForm,
    WebhookEndpointForm,
    add_errors,
    errors_of,
)
from billing.models import (
    Account,
    ApiKey,
    BillingPolicy,
    Customer,
    Entry,
    Event,
    EventDelivery,
    IdempotencyRecord,
    Transaction,
    WebhookEndpoint,
)
from billing.money import round_amount
from billing.selectors import customer_balances
from billing.services.api_keys import api_key_create, api_key_revoke
from billing.services.customers import (
    UPDATABLE_FIELDS,
    customer_balance_adjust,
    customer_close,
    customer_create,
    customer_update,
)
from billing.services.ledger import ledger_reverse
from billing.services.outbox import event_redeliver
from config.errors import ApplicationError

RECENT_TRANSACTIONS = 50
ADJUST_PERMISSION = "billing.add_transaction"


def _money(amount, currency: str) -> str:
    """An amount as the ledger holds it (already rounded), shown at the currency's minor unit."""
    return f"{round_amount(amount, currency)} {currency}"


def _admin_url(obj, action: str = "change") -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{action}", args=[quote(obj.pk)])


# --- shared building blocks ---------------------------------------------------------------------------------------


class _ServiceRejected(Exception):
    """Raised from save_model when a service refuses a form that had validated; the form is shown again."""

    def __init__(self, errors: dict[str | None, list[str]]):
        super().__init__(errors)
        self.errors = errors


class ServiceModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose saves call services.

    Services own their transactions (`atomic(durable=True)`), so the add/change view runs without the atomic
    block Django puts around it. When a service raises after the form validated, the view is rendered again
    with the service's errors on the form: nothing was written and the user sees why.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return self._changeform_view(request, object_id, form_url, extra_context)
        except _ServiceRejected as rejected:
            request._billing_service_errors = rejected.errors
            return self._changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        errors = getattr(request, "_billing_service_errors", None)
        if errors:
            form = type(form.__name__, (form,), {"service_errors": errors})
        return form


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Viewable by whoever has the view permission; nobody adds, changes or deletes rows here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyTabularInline(admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TagFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        tags = (
            Customer.objects.annotate(tag=Func("tags", function="unnest"))
            .values_list("tag", flat=True)
            .distinct()
            .order_by("tag")
        )
        return [(tag, tag) for tag in tags]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(tags__contains=[self.value()])
        return queryset


# --- customers --------------------------------------------------------------------------------------------------


def _customer_amounts(txn: Transaction) -> str:
    """What the transaction did to the customer's balance, per currency (positive: funds added)."""
    totals: dict[str, object] = {}
    for entry in txn.entries.all():
        if entry.account.kind == Account.Kind.CUSTOMER and entry.account.customer_id == txn.customer_id:
            code = entry.amount.currency.code
            totals[code] = totals.get(code, 0) - entry.amount.amount
    if not totals:
        return "—"
    return ", ".join(f"{'+' if amount > 0 else ''}{_money(amount, code)}" for code, amount in sorted(totals.items()))


class RecentTransactionsFormSet(BaseInlineFormSet):
    """The newest transactions only: a customer card must not load a customer's whole history."""

    def get_queryset(self):
        if not hasattr(self, "_recent_queryset"):
            self._recent_queryset = super().get_queryset()[:RECENT_TRANSACTIONS]
        return self._recent_queryset


class CustomerTransactionInline(ReadOnlyTabularInline):
    model = Transaction
    fk_name = "customer"
    formset = RecentTransactionsFormSet
    verbose_name_plural = f"Transactions (newest {RECENT_TRANSACTIONS})"
    fields = ("posted_at", "effective_date", "kind", "customer_amount", "description", "created_by")
    readonly_fields = fields
    ordering = ("-id",)
    show_change_link = True  # each row is titled by its transaction, with a link to it

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("entries__account").order_by("-id")

    @admin.display(description="Amount")
    def customer_amount(self, obj: Transaction) -> str:
        return _customer_amounts(obj)


@admin.register(Customer)
class CustomerAdmin(ServiceModelAdmin):
    form = CustomerAdminForm
    list_display = ("name", "kind", "status", "currency", "balance", "external_id", "created_at")
    list_filter = ("status", "kind", "billing_model", "currency", TagFilter)
    search_fields = ("name", "inn", "external_id", "billing_emails")
    date_hierarchy = "created_at"
    inlines = [CustomerTransactionInline]
    actions = ["close_customers"]
    change_form_template = "admin/billing/customer/change_form.html"
    fieldsets = (
        (None, {"fields": ("kind", "name", "legal_name", "country", "external_id", "tags", "status", "balances")}),
        ("Requisites", {"fields": ("inn", "kpp", "ogrn", "legal_address")}),
        ("Contacts", {"fields": ("billing_emails", "phone")}),
        (
            "Billing",
            {
                "fields": (
                    "currency",
                    "credit_limit_amount",
                    "timezone",
                    "billing_model",
                    "postpaid_since",
                    "past_due_since",
                )
            },
        ),
        ("Other", {"classes": ("collapse",), "fields": ("metadata", "created_at", "updated_at", "closed_at")}),
    )
    _always_read_only = (
        "status",
        "balances",
        "postpaid_since",
        "past_due_since",
        "created_at",
        "updated_at",
        "closed_at",
    )

    def get_queryset(self, request):
        balances = Prefetch(
            "accounts",
            queryset=Account.objects.filter(kind=Account.Kind.CUSTOMER).order_by("pk"),
            to_attr="balance_accounts",
        )
        return super().get_queryset(request).prefetch_related(balances)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return [
                (name, {**opts, "fields": tuple(f for f in opts["fields"] if f not in self._always_read_only)})
                for name, opts in fieldsets
            ]
        if not self.has_change_permission(request, obj):  # view only: show the model's own credit_limit
            return [
                (
                    name,
                    {
                        **opts,
                        "fields": tuple("credit_limit" if f == "credit_limit_amount" else f for f in opts["fields"]),
                    },
                )
                for name, opts in fieldsets
            ]
        return fieldsets

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_readonly_fields(self, request, obj=None):
        # prepaid or postpaid is billing terms, not contact data: it takes its own permission (Support lacks it)
        terms = () if request.user.has_perm("billing.change_billing_model") else ("billing_model",)
        if obj is None:
            return terms
        return (*self._always_read_only, "currency", *terms)  # a customer's ledger currency never changes

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status == Customer.Status.CLOSED:
            return False  # a closed customer cannot be changed (customer_update refuses it)
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # no hard delete: customers are closed

    def has_adjust_balance_permission(self, request) -> bool:
        return request.user.has_perm(ADJUST_PERMISSION)

    @admin.display(description="Balance")
    def balance(self, obj: Customer) -> str:
        accounts = getattr(obj, "balance_accounts", None)
        if accounts is None:
            return ", ".join(_money(m.amount, m.currency.code) for m in customer_balances(customer=obj))
        shown = sorted(accounts, key=lambda a: a.currency != obj.currency)
        if not any(a.currency == obj.currency for a in shown):
            return _money(0, obj.currency)
        return ", ".join(_money(-a.balance.amount, a.currency) for a in shown)

    @admin.display(description="Balance per currency")
    def balances(self, obj: Customer) -> str:
        if obj.pk is None:
            return "—"
        return format_html_join(
            "", "<div>{}</div>", ((_money(m.amount, m.currency.code),) for m in customer_balances(customer=obj))
        )

    # saving through the services ------------------------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                changes = {name: data[name] for name in form.changed_data if name in UPDATABLE_FIELDS}
                if "credit_limit_amount" in form.changed_data:
                    changes["credit_limit"] = data["credit_limit_amount"]
                saved = customer_update(customer_id=obj.pk, **changes)
            else:
                fields = {
                    name: data[name]
                    for name in UPDATABLE_FIELDS
                    if name in data and name not in ("name", "credit_limit")
                }
                saved = customer_create(
                    name=data["name"], currency=data["currency"], credit_limit=data["credit_limit_amount"], **fields
                )
        except (ApplicationError, ValidationError) as exc:
            raise _ServiceRejected(errors_of(exc)) from exc
        obj.pk = saved.pk
        obj._state.adding = False
        obj.refresh_from_db()

    # buttons on the card ----------------------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        customer = self.get_object(request, unquote(object_id))
        extra_context = dict(extra_context or {})
        if customer is not None:
            is_open = customer.status != Customer.Status.CLOSED
            extra_context["can_adjust_balance"] = is_open and self.has_adjust_balance_permission(request)
            extra_context["can_close"] = is_open and self.has_change_permission(request, customer)
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/adjust-balance/",
                self.admin_site.admin_view(self.adjust_balance_view),
                name="{}_{}_adjust_balance".format(*info),
            ),
            path(
                "<path:object_id>/close/", self.admin_site.admin_view(self.close_view), name="{}_{}_close".format(*info)
            ),
            *super().get_urls(),
        ]

    def _customer_or_404(self, request, object_id) -> Customer:
        customer = self.get_object(request, unquote(object_id))
        if customer is None or not self.has_view_permission(request, customer):
            raise Http404("No such customer.")
        return customer

    def _context(self, request, customer: Customer, title: str, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": customer,
            "title": title,
            "subtitle": str(customer),
            "has_view_permission": True,
            **extra,
        }

    def adjust_balance_view(self, request, object_id):
        customer = self._customer_or_404(request, object_id)
        if not self.has_adjust_balance_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = BalanceAdjustmentForm(request.POST, customer=customer)
            if form.is_valid():
                try:
                    txn = customer_balance_adjust(
                        customer_id=customer.pk,
                        amount=form.cleaned_data["amount"],
                        currency=form.cleaned_data["currency"],
                        direction=form.cleaned_data["direction"],
                        reason=form.cleaned_data["reason"],
                        key=form.ledger_key,
                        created_by=request.user.get_username(),
                    )
                except ApplicationError as exc:
                    add_errors(form, errors_of(exc))
                else:
                    self.message_user(
                        request,
                        format_html(
                            'Posted {} of {} as <a href="{}">transaction #{}</a>.',
                            form.cleaned_data["direction"],
                            _money(form.cleaned_data["amount"], form.cleaned_data["currency"]),
                            _admin_url(txn),
                            txn.pk,
                        ),
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(_admin_url(customer))
        else:
            form = BalanceAdjustmentForm(customer=customer)
        context = self._context(
            request,
            customer,
            "Adjust balance",
            form=form,
            balances=[_money(m.amount, m.currency.code) for m in customer_balances(customer=customer)],
        )
        return TemplateResponse(request, "billing/admin/adjust_balance.html", context)

    def close_view(self, request, object_id):
        customer = self._customer_or_404(request, object_id)
        if not self.has_change_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            self._close(request, customer)
            return HttpResponseRedirect(_admin_url(customer))
        context = self._context(
            request,
            customer,
            "Close customer",
            balances=[_money(m.amount, m.currency.code) for m in customer_balances(customer=customer)],
        )
        return TemplateResponse(request, "billing/admin/close_customer.html", context)

    def _close(self, request, customer: Customer) -> bool:
        try:
            customer_close(customer_id=customer.pk)
        except ApplicationError as exc:
            self.message_user(request, f"{customer}: {exc.message}", messages.ERROR)
            return False
        self.message_user(request, f"{customer} is closed.", messages.SUCCESS)
        return True

    @admin.action(description="Close selected customers", permissions=["change"])
    def close_customers(self, request, queryset):
        for customer in queryset.order_by("pk"):
            if customer.status != Customer.Status.CLOSED:
                self._close(request, customer)


# --- ledger (read-only) -----------------------------------------------------------------------------------------


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
        return _money(obj.total_balance.amount, obj.currency)

    @admin.display(description="Display balance")
    def display_balance_shown(self, obj: Account) -> str:
        return _money(obj.display_balance.amount, obj.currency)


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
            return _customer_amounts(obj)
        debits: dict[str, object] = {}
        for entry in obj.entries.all():
            if entry.amount.amount > 0:
                code = entry.amount.currency.code
                debits[code] = debits.get(code, 0) + entry.amount.amount
        return ", ".join(_money(amount, code) for code, amount in sorted(debits.items())) or "—"

    @admin.display(description="Reversed by")
    def reversed_by_link(self, obj: Transaction) -> str:
        reversal = Transaction.objects.filter(reverses=obj).only("pk").first()
        if reversal is None:
            return "—"
        return format_html('<a href="{}">#{}</a>', _admin_url(reversal), reversal.pk)

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
            format_html('Transaction #{} reversed by <a href="{}">#{}</a>.', txn.pk, _admin_url(reversal), reversal.pk),
            messages.SUCCESS,
        )


@admin.register(Entry)
class EntryAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "transaction", "account", "amount", "memo")
    list_filter = ("account__kind", "amount_currency")
    search_fields = ("account__code", "memo", "transaction__idempotency_key")
    list_select_related = ("transaction", "account")
    raw_id_fields = ("transaction", "account")


# --- outbox and integrations ------------------------------------------------------------------------------------


class DispatchedFilter(admin.SimpleListFilter):
    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("dispatched", "Dispatched"), ("failing", "Failing (with an error)")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "pending":
            return queryset.filter(dispatched_at=None)
        if value == "dispatched":
            return queryset.exclude(dispatched_at=None)
        if value == "failing":
            return queryset.filter(dispatched_at=None).exclude(last_error="")
        return queryset


class EventDeliveryInline(ReadOnlyTabularInline):
    model = EventDelivery
    fields = ("subscriber", "delivered_at")
    readonly_fields = fields


@admin.register(Event)
class EventAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "type", "customer", "created_at", "dispatched_at", "attempts", "short_error")
    list_filter = ("type", DispatchedFilter, "created_at")
    search_fields = ("type", "customer__name", "customer__external_id", "last_error")
    list_select_related = ("customer",)
    date_hierarchy = "created_at"
    inlines = [EventDeliveryInline]
    actions = ["redeliver"]
    fields = ("type", "customer", "payload", "created_at", "dispatched_at", "attempts", "next_attempt_at", "last_error")
    readonly_fields = fields

    def has_redeliver_permission(self, request) -> bool:
        return request.user.has_perm("billing.change_event")

    @admin.display(description="Last error")
    def short_error(self, obj: Event) -> str:
        return Truncator(obj.last_error).chars(80)

    @admin.action(description="Redeliver selected events", permissions=["redeliver"])
    def redeliver(self, request, queryset):
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        for event_id in ids:
            event_redeliver(event_id=event_id)
        self.message_user(request, f"{len(ids)} event(s) will be delivered again.", messages.SUCCESS)


@admin.register(EventDelivery)
class EventDeliveryAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "event", "subscriber", "delivered_at")
    list_filter = ("subscriber",)
    search_fields = ("subscriber", "event__type")
    list_select_related = ("event",)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "is_active", "event_types", "description", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "description")


class RevokedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at=None)
        if self.value() == "revoked":
            return queryset.exclude(revoked_at=None)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(ServiceModelAdmin):
    """A key is created by api_key_create: its token is shown once, in a message, and only its hash is kept.
    Keys are never edited nor deleted; they are revoked."""

    form = ApiKeyCreateForm
    list_display = (
        "name",
        "prefix",
        "scope",
        "customer",
        "is_active",
        "created_by",
        "created_at",
        "revoked_at",
        "last_used_at",
    )
    list_filter = (RevokedFilter, "scope")
    search_fields = ("name", "prefix", "customer__name")
    list_select_related = ("customer", "created_by")
    autocomplete_fields = ("customer",)
    actions = ["revoke"]
    readonly_fields = ("prefix", "created_by", "created_at", "revoked_at", "last_used_at")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "scope", "customer")
        return ("name", "prefix", "scope", "customer", "created_by", "created_at", "revoked_at", "last_used_at")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("billing.change_apikey")

    @admin.display(boolean=True, description="Active")
    def is_active(self, obj: ApiKey) -> bool:
        return obj.is_active

    def save_model(self, request, obj, form, change):
        if change:  # has_change_permission is False: Django refuses a change before it gets here
            raise PermissionDenied
        data = form.cleaned_data
        customer = data.get("customer")
        try:
            api_key, raw = api_key_create(
                name=data["name"],
                scope=data["scope"],
                customer_id=customer.pk if customer else None,
                created_by=request.user,
            )
        except (ApplicationError, ValidationError) as exc:
            raise _ServiceRejected(errors_of(exc)) from exc
        obj.pk = api_key.pk
        obj._state.adding = False
        obj.refresh_from_db()
        self.message_user(
            request,
            format_html(
                "The key for “{}” is <code>{}</code>. Copy it now: it is not stored and will not be shown again.",
                api_key.name,
                raw,
            ),
            messages.SUCCESS,
        )

    def save_related(self, request, form, formsets, change):
        pass  # no m2m, no inlines

    @admin.action(description="Revoke selected keys", permissions=["revoke"])
    def revoke(self, request, queryset):
        ids = list(queryset.filter(revoked_at=None).order_by("pk").values_list("pk", flat=True))
        for api_key_id in ids:
            api_key_revoke(api_key_id=api_key_id)
        self.message_user(request, f"{len(ids)} key(s) revoked.", messages.SUCCESS)


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "api_key", "key", "state", "response_status", "created_at", "completed_at")
    list_filter = ("state", "response_status")
    search_fields = ("key",)
    list_select_related = ("api_key",)


# --- billing run and policy ---------------------------------------------------------------------------------------


@admin.register(BillingPolicy)
class BillingPolicyAdmin(admin.ModelAdmin):
    """One row of business policy, edited here (grace days, postpaid terms, chunk size)."""

    list_display = ("__str__", "grace_days", "postpaid_due_days", "chunk_size", "updated_at")

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not BillingPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
