"""Payments in the admin: the payments list and card (state history, refunds), a top-up through a provider, a
manual payment, a refund; bank statements (upload, what each matched) and the review queue of unmatched transfers;
saved methods and autopay. Every write is a service call; a refusal is a form error and nothing is written."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.admin.common import admin_url, money_text
from billing.admin.panels import customer_card_panel_register
from billing.models import (
    Autopay,
    BankStatement,
    BankTransfer,
    Customer,
    Payment,
    PaymentMethod,
    PaymentStateChange,
    Refund,
)
from billing.providers import provider_codes
from billing.services.payments import payment_manual_record, payment_refresh, payment_topup_create
from billing.services.refunds import refund_create
from billing.services.statements import bank_statement_import, bank_transfer_assign, bank_transfer_ignore
from config.admin import ReadOnlyModelAdmin, ReadOnlyTabularInline
from config.errors import ApplicationError

FORM_TEMPLATE = "billing/admin/payment_form.html"


def _apply_error(form: forms.Form, exc: ApplicationError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


def _page(admin_obj, request, *, title: str, form: forms.Form, submit: str, intro: str = "", back: str = "", **extra):
    context = {
        **admin_obj.admin_site.each_context(request),
        "opts": admin_obj.opts,
        "title": title,
        "form": form,
        "submit": submit,
        "intro": intro,
        "back": back or reverse(f"admin:{admin_obj.opts.app_label}_{admin_obj.opts.model_name}_changelist"),
        "multipart": form.is_multipart(),
        **extra,
    }
    return TemplateResponse(request, FORM_TEMPLATE, context, status=400 if form.errors else 200)


class TopUpForm(forms.Form):
    amount = forms.DecimalField(label=gettext_lazy("Amount"), max_digits=15, decimal_places=2)
    provider = forms.ChoiceField(label=gettext_lazy("Provider"))
    save_method = forms.BooleanField(label=gettext_lazy("Save the card for autopay"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [(c, c) for c in provider_codes()]


class ManualPaymentForm(forms.Form):
    amount = forms.DecimalField(label=gettext_lazy("Amount"), max_digits=15, decimal_places=2)
    method = forms.ChoiceField(
        label=gettext_lazy("Method"),
        choices=[
            ("cash", gettext_lazy("Cash")),
            ("bank", gettext_lazy("Bank transfer")),
            ("other", gettext_lazy("Other")),
        ],
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=255)
    invoice_number = forms.CharField(label=gettext_lazy("Invoice number"), max_length=64, required=False)


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        label=gettext_lazy("Amount"),
        max_digits=15,
        decimal_places=2,
        required=False,
        help_text=gettext_lazy("Empty: all that is left to refund."),
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=255)


class StatementUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Statement file"),
        help_text=gettext_lazy("1CClientBankExchange (.txt), windows-1251 or UTF-8."),
    )


class AssignForm(forms.Form):
    customer = forms.IntegerField(label=gettext_lazy("Customer id"), min_value=1)
    invoice_number = forms.CharField(label=gettext_lazy("Invoice number"), max_length=64, required=False)


class IgnoreForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=255)


class PaymentStateChangeInline(ReadOnlyTabularInline):
    model = PaymentStateChange
    fields = ("at", "from_status", "to_status", "source", "detail")
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("State history")


class RefundInline(ReadOnlyTabularInline):
    model = Refund
    fields = ("created_at", "amount", "status", "reason", "provider_refund_id", "attempts", "failure_reason")
    readonly_fields = fields


@admin.register(Payment)
class PaymentAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "created_at", "customer", "kind", "provider", "status", "amount_text", "refunded_text")
    list_filter = ("status", "kind", "provider", "created_at")
    search_fields = ("=id", "provider_payment_id", "invoice_number", "customer__name", "customer__inn")
    list_select_related = ("customer",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "customer",
        "kind",
        "provider",
        "status",
        "amount_text",
        "refunded_text",
        "description",
        "provider_payment_id",
        "confirmation_link",
        "failure_reason",
        "method",
        "invoice_number",
        "transaction_link",
        "created_by",
        "created_at",
        "succeeded_at",
    )
    fields = readonly_fields
    inlines = (PaymentStateChangeInline, RefundInline)
    change_form_template = "billing/admin/payment_change_form.html"

    @admin.display(description=gettext_lazy("Amount"))
    def amount_text(self, obj: Payment) -> str:
        return money_text(obj.amount.amount, obj.amount.currency.code)

    @admin.display(description=gettext_lazy("Refunded"))
    def refunded_text(self, obj: Payment) -> str:
        return money_text(obj.refunded, obj.amount.currency.code) if obj.refunded else "—"

    @admin.display(description=gettext_lazy("Confirmation page"))
    def confirmation_link(self, obj: Payment) -> str:
        if not obj.confirmation_url:
            return "—"
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', obj.confirmation_url, _("Open"))

    @admin.display(description=gettext_lazy("Ledger transaction"))
    def transaction_link(self, obj: Payment) -> str:
        if obj.transaction_id is None:
            return "—"
        return format_html('<a href="{}">#{}</a>', admin_url(obj.transaction), obj.transaction_id)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        payment = self.get_object(request, unquote(object_id))
        extra_context = dict(extra_context or {})
        if payment is not None:
            can = request.user.has_perm("billing.add_refund")
            extra_context["can_refund"] = (
                can and payment.status == Payment.Status.SUCCEEDED and payment.refunded < payment.amount.amount
            )
            extra_context["can_refresh"] = payment.status in (
                Payment.Status.CREATED,
                Payment.Status.PENDING,
            ) and request.user.has_perm("billing.change_payment")
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/refund/", view(self.refund_view), name="billing_payment_refund"),
            path("<path:object_id>/refresh/", view(self.refresh_view), name="billing_payment_refresh"),
            *super().get_urls(),
        ]

    def _payment_or_404(self, request, object_id) -> Payment:
        payment = self.get_object(request, unquote(object_id))
        if payment is None:
            raise Http404
        return payment

    def refund_view(self, request, object_id):
        payment = self._payment_or_404(request, object_id)
        if not request.user.has_perm("billing.add_refund"):
            raise PermissionDenied
        form = RefundForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                refund = refund_create(
                    payment_id=payment.pk,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    created_by=request.user.get_username(),
                )
            except ApplicationError as exc:
                _apply_error(form, exc)
            else:
                self.message_user(
                    request,
                    _("Refund #%(id)s: %(status)s.") % {"id": refund.pk, "status": refund.get_status_display()},
                    messages.SUCCESS if refund.status == Refund.Status.SUCCEEDED else messages.WARNING,
                )
                return HttpResponseRedirect(admin_url(payment))
        left = payment.amount.amount - payment.refunded
        return _page(
            self,
            request,
            title=_("Refund payment #%(id)s") % {"id": payment.pk},
            form=form,
            submit=_("Refund"),
            intro=_(
                "Paid %(paid)s, refundable %(left)s. The money goes back through the provider; the ledger is "
                "posted when it confirms."
            )
            % {
                "paid": money_text(payment.amount.amount, payment.amount.currency.code),
                "left": money_text(left, payment.amount.currency.code),
            },
            back=admin_url(payment),
        )

    def refresh_view(self, request, object_id):
        """Read a pending payment back from its provider (a webhook that never came)."""
        payment = self._payment_or_404(request, object_id)
        if not request.user.has_perm("billing.change_payment"):
            raise PermissionDenied
        if request.method != "POST":
            return _page(
                self,
                request,
                title=_("Ask the provider about payment #%(id)s") % {"id": payment.pk},
                form=forms.Form(),
                submit=_("Ask the provider"),
                back=admin_url(payment),
            )
        try:
            payment = payment_refresh(payment_id=payment.pk, source="admin")
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, _("The provider says: %(status)s.") % {"status": payment.get_status_display()})
        return HttpResponseRedirect(admin_url(payment))


def customer_topup_view(model_admin, request, customer: Customer):
    """A top-up through a provider for the customer; then the provider's page to pay on (test mode: its card)."""
    if not request.user.has_perm("billing.add_payment"):
        raise PermissionDenied
    form = TopUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            payment = payment_topup_create(
                customer_id=customer.pk,
                amount=form.cleaned_data["amount"],
                provider=form.cleaned_data["provider"],
                save_method=form.cleaned_data["save_method"],
                return_url=request.build_absolute_uri(admin_url(customer)),
                created_by=request.user.get_username(),
            )
        except ApplicationError as exc:
            _apply_error(form, exc)
        else:
            model_admin.message_user(
                request, _("Payment #%(id)s created: pay it on the provider's page.") % {"id": payment.pk}
            )
            return HttpResponseRedirect(admin_url(payment))
    return _page(
        model_admin,
        request,
        title=_("Top up the balance of %(customer)s") % {"customer": customer},
        form=form,
        submit=_("Create the payment"),
        intro=_(
            "The customer (or you, in test mode) pays on the provider's page; the balance is credited when the "
            "provider confirms."
        ),
        back=admin_url(customer),
    )


def customer_manual_payment_view(model_admin, request, customer: Customer):
    """Money received outside the providers, with a reason: credited at once."""
    if not request.user.has_perm("billing.add_payment"):
        raise PermissionDenied
    form = ManualPaymentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            payment = payment_manual_record(
                customer_id=customer.pk,
                amount=form.cleaned_data["amount"],
                method=form.cleaned_data["method"],
                reason=form.cleaned_data["reason"],
                invoice_number=form.cleaned_data["invoice_number"],
                created_by=request.user.get_username(),
            )
        except ApplicationError as exc:
            _apply_error(form, exc)
        else:
            model_admin.message_user(request, _("Payment #%(id)s recorded and credited.") % {"id": payment.pk})
            return HttpResponseRedirect(admin_url(payment))
    return _page(
        model_admin,
        request,
        title=_("Record a manual payment of %(customer)s") % {"customer": customer},
        form=form,
        submit=_("Record and credit"),
        back=admin_url(customer),
    )


class BankTransferInline(ReadOnlyTabularInline):
    model = BankTransfer
    fields = ("line", "number", "date", "amount", "payer_name", "payer_inn", "status", "customer", "match_note")
    readonly_fields = fields
    show_change_link = True


@admin.register(BankStatement)
class BankStatementAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "created_at",
        "file_name",
        "date_from",
        "date_to",
        "incoming",
        "matched",
        "unmatched",
        "duplicates",
    )
    readonly_fields = (
        "file_name",
        "sha256",
        "accounts",
        "date_from",
        "date_to",
        "documents",
        "incoming",
        "matched",
        "unmatched",
        "duplicates",
        "uploaded_by",
        "created_at",
    )
    fields = readonly_fields
    inlines = (BankTransferInline,)

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm("billing.add_bankstatement")

    def add_view(self, request, form_url="", extra_context=None):
        """Upload a statement: imported and matched at once, all or nothing; errors name their lines."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = StatementUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                statement = bank_statement_import(
                    data=upload.read(), file_name=upload.name, uploaded_by=request.user.get_username()
                )
            except ApplicationError as exc:
                lines = exc.extra.get("errors") or []
                if lines:
                    for error in lines[:50]:
                        form.add_error("file", _("line %(line)s: %(message)s") % error)
                else:
                    form.add_error("file", exc.message)
            else:
                self.message_user(
                    request,
                    _("Imported: %(matched)s credited, %(unmatched)s to review, %(duplicates)s already imported.")
                    % {
                        "matched": statement.matched,
                        "unmatched": statement.unmatched,
                        "duplicates": statement.duplicates,
                    },
                )
                return HttpResponseRedirect(admin_url(statement))
        return _page(self, request, title=_("Import a bank statement"), form=form, submit=_("Import"))


class ReviewFilter(admin.SimpleListFilter):
    """The review queue first: with no choice made, the list shows the transfers waiting for an accountant."""

    title = gettext_lazy("status")
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [*BankTransfer.Status.choices, ("all", _("All"))]

    def choices(self, changelist):
        value = self.value() or BankTransfer.Status.UNMATCHED
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or BankTransfer.Status.UNMATCHED
        return queryset if value == "all" else queryset.filter(status=value)


@admin.register(BankTransfer)
class BankTransferAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "date",
        "number",
        "amount_text",
        "payer_name",
        "payer_inn",
        "status",
        "customer",
        "match_note",
    )
    list_filter = (ReviewFilter, "date")
    search_fields = ("number", "payer_name", "payer_inn", "purpose", "invoice_numbers")
    list_select_related = ("customer",)
    readonly_fields = (
        "statement",
        "line",
        "number",
        "date",
        "received_on",
        "amount_text",
        "payer_name",
        "payer_inn",
        "payer_account",
        "payer_bik",
        "purpose",
        "invoice_numbers",
        "status",
        "match_note",
        "customer",
        "payment",
        "reviewed_by",
    )
    fields = readonly_fields
    change_form_template = "billing/admin/banktransfer_change_form.html"

    @admin.display(description=gettext_lazy("Amount"))
    def amount_text(self, obj: BankTransfer) -> str:
        return money_text(obj.amount.amount, obj.amount.currency.code)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        transfer = self.get_object(request, unquote(object_id))
        extra_context = dict(extra_context or {})
        if transfer is not None:
            extra_context["can_review"] = transfer.status == BankTransfer.Status.UNMATCHED and request.user.has_perm(
                "billing.change_banktransfer"
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/assign/", view(self.assign_view), name="billing_banktransfer_assign"),
            path("<path:object_id>/ignore/", view(self.ignore_view), name="billing_banktransfer_ignore"),
            *super().get_urls(),
        ]

    def _transfer(self, request, object_id) -> BankTransfer:
        transfer = self.get_object(request, unquote(object_id))
        if transfer is None:
            raise Http404
        if not request.user.has_perm("billing.change_banktransfer"):
            raise PermissionDenied
        return transfer

    def assign_view(self, request, object_id):
        """Assign a transfer from the review queue to a customer: credited at once."""
        transfer = self._transfer(request, object_id)
        form = AssignForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                bank_transfer_assign(
                    transfer_id=transfer.pk,
                    customer_id=form.cleaned_data["customer"],
                    invoice_number=form.cleaned_data["invoice_number"],
                    by=request.user.get_username(),
                )
            except ApplicationError as exc:
                _apply_error(
                    form, exc if exc.field != "customer_id" else ApplicationError(exc.message, field="customer")
                )
            else:
                self.message_user(request, _("Transfer № %(number)s credited.") % {"number": transfer.number})
                return HttpResponseRedirect(admin_url(transfer))
        return _page(
            self,
            request,
            title=_("Assign transfer № %(number)s") % {"number": transfer.number},
            form=form,
            submit=_("Assign and credit"),
            intro=" · ".join(
                [transfer.payer_name, transfer.payer_inn, money_text(transfer.amount.amount, "RUB"), transfer.purpose]
            ),
            back=admin_url(transfer),
        )

    def ignore_view(self, request, object_id):
        transfer = self._transfer(request, object_id)
        form = IgnoreForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                bank_transfer_ignore(
                    transfer_id=transfer.pk, reason=form.cleaned_data["reason"], by=request.user.get_username()
                )
            except ApplicationError as exc:
                _apply_error(form, exc)
            else:
                return HttpResponseRedirect(admin_url(transfer))
        return _page(
            self,
            request,
            title=_("Ignore transfer № %(number)s") % {"number": transfer.number},
            form=form,
            submit=_("Ignore"),
            back=admin_url(transfer),
        )


@admin.register(PaymentMethod)
class PaymentMethodAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "customer", "provider", "title", "expires_on", "is_active", "created_at")
    list_filter = ("provider", "is_active")
    search_fields = ("customer__name", "title")


@admin.register(Autopay)
class AutopayAdmin(admin.ModelAdmin):
    list_display = (
        "customer",
        "method",
        "threshold",
        "amount",
        "before_renewal",
        "is_active",
        "failures",
        "stopped_reason",
    )
    list_filter = ("is_active",)
    fields = (
        "customer",
        "method",
        "threshold",
        "amount",
        "before_renewal",
        "max_failures",
        "is_active",
        "failures",
        "stopped_reason",
    )
    readonly_fields = ("customer", "method", "failures", "stopped_reason")

    def has_add_permission(self, request, obj=None):
        return False  # set up by the customer or the API with a saved method

    def has_delete_permission(self, request, obj=None):
        return False


@customer_card_panel_register
def customer_payments_panel(request, customer: Customer) -> str:
    """The customer card's payments: the newest ten, links to all, to a top-up and to a manual payment."""
    if not request.user.has_perm("billing.view_payment"):
        return ""
    payments = list(Payment.objects.filter(customer=customer).order_by("-id")[:10])
    can_add = request.user.has_perm("billing.add_payment") and customer.status != Customer.Status.CLOSED
    return render_to_string(
        "billing/admin/customer_payments.html",
        {
            "payments": [
                {"p": p, "url": admin_url(p), "amount": money_text(p.amount.amount, p.amount.currency.code)}
                for p in payments
            ],
            "list_url": reverse("admin:billing_payment_changelist") + f"?customer__id__exact={customer.pk}",
            "topup_url": reverse("admin:billing_customer_top_up", args=[customer.pk]) if can_add else None,
            "manual_url": reverse("admin:billing_customer_manual_payment", args=[customer.pk]) if can_add else None,
        },
        request=request,
    )
