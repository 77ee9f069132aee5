"""Forms of the billing admin. They check the shape of the input; the admin views call the services."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _
from moneyed import Money

from billing.models import ApiKey, Customer, WebhookEndpoint
from billing.money import DECIMAL_PLACES, MAX_DIGITS

ADJUSTMENT_KEY_PREFIX = "admin-adjust:"


def _currency_choices() -> list[tuple[str, str]]:
    return [(code, code) for code in settings.CURRENCIES]


def errors_of(exc: Exception) -> dict[str | None, list[str]]:
    """Field → messages of a service's ValidationError or ApplicationError (None: not about one field)."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return {(None if name == NON_FIELD_ERRORS else name): msgs for name, msgs in exc.message_dict.items()}
        return {None: list(exc.messages)}
    return {getattr(exc, "field", None): [getattr(exc, "message", str(exc))]}


def add_errors(form: forms.BaseForm, errors: dict[str | None, list[str]]) -> None:
    """Show a service's errors on the form: on the field when the form has it, else above the form."""
    for name, messages in errors.items():
        target = name if name in form.fields else None
        if target is None and name:
            messages = [f"{name}: {message}" for message in messages]
        for message in messages:
            form.add_error(target, message)


class ServiceErrorsFormMixin:
    """The admin re-renders a form with the errors a service raised after the form had validated."""

    service_errors: dict[str | None, list[str]] = {}

    def _post_clean(self):
        super()._post_clean()
        if self.service_errors:
            add_errors(self, self.service_errors)


class CustomerAdminForm(ServiceErrorsFormMixin, forms.ModelForm):
    """The customer card. Model validation (ИНН/КПП/ОГРН check rules) runs in `_post_clean` as usual, so its
    errors show on their fields; the admin then saves through customer_create / customer_update."""

    currency = forms.ChoiceField(
        choices=_currency_choices, label=_("currency"), help_text=_("The customer's main currency.")
    )
    credit_limit_amount = forms.DecimalField(
        label=_("Credit limit"),
        min_value=Decimal(0),
        max_digits=MAX_DIGITS,
        decimal_places=DECIMAL_PLACES,
        initial=Decimal(0),
        help_text=_("How far the balance may go below zero, in the customer's currency."),
    )

    class Meta:
        model = Customer
        fields = (
            "kind",
            "name",
            "legal_name",
            "country",
            "inn",
            "kpp",
            "ogrn",
            "legal_address",
            "billing_emails",
            "phone",
            "currency",
            "timezone",
            "billing_model",
            "tags",
            "external_id",
            "metadata",
        )
        help_texts = {
            "billing_model": _(
                "Prepaid: charges are taken from the balance, and the customer is suspended after the "
                "grace days beyond the credit limit. Postpaid: never suspended; charges of periods "
                "starting from the day of the switch (UTC) on are invoiced when the periods end."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "credit_limit_amount" in self.fields:
            self.initial.setdefault("credit_limit_amount", self.instance.credit_limit.amount)

    def _post_clean(self):
        amount = self.cleaned_data.get("credit_limit_amount")
        currency = self.cleaned_data.get("currency") or self.instance.currency
        if amount is not None and currency:
            # the model's constraints want the credit limit in the customer's currency
            self.instance.credit_limit = Money(amount, currency)
        super()._post_clean()


class BalanceAdjustmentForm(forms.Form):
    """A manual credit or debit. `key` is generated when the form is rendered, so a double submit posts once."""

    direction = forms.ChoiceField(
        choices=[
            ("credit", _("Credit (add to the customer's balance)")),
            ("debit", _("Debit (take from the balance)")),
        ],
        widget=forms.RadioSelect,
        label=_("direction"),
    )
    amount = forms.DecimalField(
        label=_("amount"), min_value=Decimal("0.0001"), max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES
    )
    currency = forms.ChoiceField(label=_("currency"), choices=_currency_choices)
    reason = forms.CharField(label=_("reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}))
    key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, customer: Customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.fields["currency"].choices = [(customer.currency, customer.currency)]  # a customer has one currency
        if not self.is_bound:
            self.initial.setdefault("currency", customer.currency)
            self.initial.setdefault("key", str(uuid.uuid4()))

    @property
    def ledger_key(self) -> str:
        return f"{ADJUSTMENT_KEY_PREFIX}{self.cleaned_data['key']}"


class ReverseTransactionsForm(forms.Form):
    reason = forms.CharField(
        label=_("reason"), max_length=500, widget=forms.TextInput(attrs={"size": 60})
    )  # blank after strip: required


class ApiKeyCreateForm(ServiceErrorsFormMixin, forms.ModelForm):
    """Name, scope and an optional customer; the token itself is generated by api_key_create."""

    class Meta:
        model = ApiKey
        fields = ("name", "scope", "customer")


class ApiKeyWidgetForm(ServiceErrorsFormMixin, forms.ModelForm):
    """An existing key: only the origins allowed to embed the portal widget change (api_key_widget_origins_set)."""

    widget_origins = forms.CharField(
        label=_("Widget origins"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Origins (scheme://host[:port]) allowed to embed the portal widget, one per line."),
    )

    class Meta:
        model = ApiKey
        fields = ("widget_origins",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["widget_origins"] = "\n".join(self.instance.widget_origins)

    def clean_widget_origins(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["widget_origins"].splitlines() if line.strip()]


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "secret", "event_types", "is_active", "description")
