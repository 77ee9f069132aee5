"""The accountant's home, the customer card: balances, recent transactions, adjust, close.

Every write goes through a service: the admin forms check the shape, the views call billing.services.*, and an
ApplicationError or ValidationError becomes a form error or a message."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Func, Prefetch
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.functional import lazy
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.admin.common import ADJUST_PERMISSION, admin_url, money_text, transaction_credit, transaction_debit
from billing.admin.panels import customer_card_panels
from billing.forms import BalanceAdjustmentForm, CustomerAdminForm, add_errors, errors_of
from billing.models import Account, Customer, Transaction
from billing.selectors import customer_balances
from billing.services.customers import (
    UPDATABLE_FIELDS,
    customer_balance_adjust,
    customer_close,
    customer_create,
    customer_update,
)
from config.admin import ReadOnlyTabularInline, ServiceModelAdmin, ServiceRejected
from config.errors import ApplicationError

RECENT_TRANSACTIONS = 50


class TagFilter(admin.SimpleListFilter):
    title = gettext_lazy("tag")
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
    verbose_name_plural = lazy(lambda: _("Transactions (newest %(count)s)") % {"count": RECENT_TRANSACTIONS}, str)()
    fields = ("posted_at", "effective_date", "kind", "debit", "credit", "description", "created_by")
    readonly_fields = fields
    ordering = ("-id",)
    show_change_link = True  # each row is titled by its transaction, with a link to it

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("entries__account").order_by("-id")

    @admin.display(description=gettext_lazy("Debit"))
    def debit(self, obj: Transaction) -> str:
        """Taken from the customer's balance (a charge, a debit adjustment)."""
        return transaction_debit(obj)

    @admin.display(description=gettext_lazy("Credit"))
    def credit(self, obj: Transaction) -> str:
        """Added to the customer's balance (a payment, a credit adjustment, a refund of a charge)."""
        return transaction_credit(obj)


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
        (gettext_lazy("Requisites"), {"fields": ("inn", "kpp", "ogrn", "legal_address")}),
        (gettext_lazy("Contacts"), {"fields": ("billing_emails", "phone")}),
        (
            gettext_lazy("Documents"),
            {
                "fields": (
                    "seller",
                    "closing_documents",
                    "document_language",
                    "pays_by_bank_transfer",
                    "contract_number",
                    "contract_date",
                    "edo_id",
                )
            },
        ),
        (
            gettext_lazy("Billing"),
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
        (
            gettext_lazy("Other"),
            {"classes": ("collapse",), "fields": ("metadata", "created_at", "updated_at", "closed_at")},
        ),
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
        # the seller and the closing documents are terms too
        terms = (
            ()
            if request.user.has_perm("billing.change_billing_model")
            else ("billing_model", "seller", "closing_documents", "pays_by_bank_transfer")
        )
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

    @admin.display(description=gettext_lazy("Balance"))
    def balance(self, obj: Customer) -> str:
        accounts = getattr(obj, "balance_accounts", None)
        if accounts is None:
            return ", ".join(money_text(m.amount, m.currency.code) for m in customer_balances(customer=obj))
        shown = sorted(accounts, key=lambda a: a.currency != obj.currency)
        if not any(a.currency == obj.currency for a in shown):
            return money_text(0, obj.currency)
        return ", ".join(money_text(-a.balance.amount, a.currency) for a in shown)

    @admin.display(description=gettext_lazy("Balance per currency"))
    def balances(self, obj: Customer) -> str:
        if obj.pk is None:
            return "—"
        return format_html_join(
            "", "<div>{}</div>", ((money_text(m.amount, m.currency.code),) for m in customer_balances(customer=obj))
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
            raise ServiceRejected(errors_of(exc)) from exc
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
            extra_context["customer_panels"] = customer_card_panels(request, customer)  # other apps' rows of it
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
            path(
                "<path:object_id>/top-up/",
                self.admin_site.admin_view(self.top_up_view),
                name="{}_{}_top_up".format(*info),
            ),
            path(
                "<path:object_id>/manual-payment/",
                self.admin_site.admin_view(self.manual_payment_view),
                name="{}_{}_manual_payment".format(*info),
            ),
            *super().get_urls(),
        ]

    def _customer_or_404(self, request, object_id) -> Customer:
        customer = self.get_object(request, unquote(object_id))
        if customer is None or not self.has_view_permission(request, customer):
            raise Http404(_("No such customer."))
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

    def top_up_view(self, request, object_id):
        from billing.admin.payments import customer_topup_view

        return customer_topup_view(self, request, self._customer_or_404(request, object_id))

    def manual_payment_view(self, request, object_id):
        from billing.admin.payments import customer_manual_payment_view

        return customer_manual_payment_view(self, request, self._customer_or_404(request, object_id))

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
                            _('Posted {} of {} as <a href="{}">transaction #{}</a>.'),
                            {"credit": _("credit"), "debit": _("debit")}[form.cleaned_data["direction"]],
                            money_text(form.cleaned_data["amount"], form.cleaned_data["currency"]),
                            admin_url(txn),
                            txn.pk,
                        ),
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(admin_url(customer))
        else:
            form = BalanceAdjustmentForm(customer=customer)
        context = self._context(
            request,
            customer,
            _("Adjust balance"),
            form=form,
            balances=[money_text(m.amount, m.currency.code) for m in customer_balances(customer=customer)],
        )
        return TemplateResponse(request, "billing/admin/adjust_balance.html", context)

    def close_view(self, request, object_id):
        customer = self._customer_or_404(request, object_id)
        if not self.has_change_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            self._close(request, customer)
            return HttpResponseRedirect(admin_url(customer))
        context = self._context(
            request,
            customer,
            _("Close customer"),
            balances=[money_text(m.amount, m.currency.code) for m in customer_balances(customer=customer)],
        )
        return TemplateResponse(request, "billing/admin/close_customer.html", context)

    def _close(self, request, customer: Customer) -> bool:
        try:
            customer_close(customer_id=customer.pk)
        except ApplicationError as exc:
            self.message_user(
                request, _("%(customer)s: %(error)s") % {"customer": customer, "error": exc.message}, messages.ERROR
            )
            return False
        self.message_user(request, _("%(customer)s is closed.") % {"customer": customer}, messages.SUCCESS)
        return True

    @admin.action(description=gettext_lazy("Close selected customers"), permissions=["change"])
    def close_customers(self, request, queryset):
        for customer in queryset.order_by("pk"):
            if customer.status != Customer.Status.CLOSED:
                self._close(request, customer)
