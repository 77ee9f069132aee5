"""The portal's forms. They check the shape of input; the business rules stay in the services, whose errors
(ApplicationError, ValidationError) `add_service_error` puts on the form beside the field they concern."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from billing.models import CustomerUser, Transaction

HISTORY_KINDS = {
    "topups": (Transaction.Kind.PAYMENT,),
    "charges": (Transaction.Kind.CHARGE,),
    "refunds": (Transaction.Kind.REFUND, Transaction.Kind.REVERSAL),
    "other": (Transaction.Kind.ADJUSTMENT, Transaction.Kind.PROMO),
}


def add_service_error(form: forms.Form, exc: Exception) -> None:
    """A service's refusal as a form error: on its field when the form has one, else on the whole form."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return
    field = getattr(exc, "field", None)
    message = getattr(exc, "message", None) or "; ".join(getattr(exc, "messages", [])) or str(exc)
    form.add_error(field if field in form.fields else None, message)


class SignInForm(forms.Form):
    email = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autocomplete": "username"}))
    password = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class EmailForm(forms.Form):
    email = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class TopUpForm(forms.Form):
    METHODS = (("card", _("Bank card (online)")), ("invoice", _("Invoice for bank transfer")))

    amount = forms.DecimalField(
        label=_("Amount"), min_value=Decimal("0.01"), max_digits=14, decimal_places=2, localize=True
    )
    method = forms.ChoiceField(label=_("How to pay"), choices=METHODS, initial="card", widget=forms.RadioSelect)
    key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)  # a resubmitted form: one invoice


class HistoryFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"),
        required=False,
        choices=(
            ("", _("All")),
            ("topups", _("Top-ups")),
            ("charges", _("Charges")),
            ("refunds", _("Refunds and reversals")),
            ("other", _("Adjustments and bonuses")),
        ),
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError(_("The start date is after the end date."))
        return data


def _month(value: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except (TypeError, ValueError) as exc:
        raise ValidationError(_("Enter a month as YYYY-MM."), code="invalid") from exc


class MonthField(forms.CharField):
    widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})

    def to_python(self, value):
        value = super().to_python(value)
        return _month(value) if value else None


class DocumentFilterForm(forms.Form):
    period = MonthField(label=_("Month"), required=False)


class ChangePlanForm(forms.Form):
    plan = forms.CharField(max_length=100, widget=forms.HiddenInput)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, required=False)


class OptionForm(forms.Form):
    option = forms.CharField(max_length=100, widget=forms.HiddenInput)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, initial=1, required=False)


class CouponForm(forms.Form):
    code = forms.CharField(label=_("Coupon code"), max_length=64)


class ProfileForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=255)
    legal_name = forms.CharField(label=_("Legal name"), max_length=500, required=False)
    inn = forms.CharField(label=_("INN"), max_length=12, required=False)
    kpp = forms.CharField(label=_("KPP"), max_length=9, required=False)
    legal_address = forms.CharField(label=_("Legal address"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    billing_emails = forms.CharField(
        label=_("Billing emails"),
        required=False,
        help_text=_("Where invoices, documents and receipts go; one per line."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_billing_emails(self) -> list[str]:
        emails = [e.strip() for e in self.cleaned_data["billing_emails"].replace(",", "\n").splitlines() if e.strip()]
        for email in emails:
            try:
                validate_email(email)
            except ValidationError as exc:
                raise ValidationError(_("%(email)s is not a valid email address.") % {"email": email}) from exc
        return emails


class UserAddForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    role = forms.ChoiceField(label=_("Role"), choices=CustomerUser.Role.choices, initial=CustomerUser.Role.VIEWER)


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=CustomerUser.Role.choices)
