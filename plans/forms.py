"""Forms of the subscription pages in the admin. They check the shape of the input only; the views call the
subscription services (plans.services.subscriptions), whose ApplicationError becomes a form error."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.utils.translation import gettext_lazy as _

from billing.models import Customer
from plans.models import Bundle, Option, Plan, Subscription
from plans.services.subscriptions import MAX_QUANTITY


def errors_of(exc) -> dict[str | None, list[str]]:
    """Field → messages of a service's ApplicationError (None: not about one field of the form)."""
    field = getattr(exc, "field", None)
    return {field: [getattr(exc, "message", str(exc))]}


def add_service_error(form: forms.BaseForm, exc, *, fields: dict[str, str] | None = None) -> None:
    """Show a service's error on the form field it names (`fields` maps the service's name to the form's), or
    above the form when the form has no such field."""
    for name, messages in errors_of(exc).items():
        name = (fields or {}).get(name, name)
        target = name if name in form.fields else None
        for message in messages:
            form.add_error(target, message)


def _quantity_field(**kwargs) -> forms.IntegerField:
    return forms.IntegerField(min_value=1, max_value=MAX_QUANTITY, **kwargs)


class _KeyedForm(forms.Form):
    """`key` is generated when the form is first rendered and posted back, so a double submit applies once (the
    services that post money take it as their idempotency key)."""

    key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("key", str(uuid.uuid4()))

    @property
    def service_key(self) -> str:
        return f"admin:{self.cleaned_data['key']}"


def _active_plans():
    return (
        Plan.objects.filter(is_active=True).select_related("product").order_by("product__name", "display_order", "code")
    )


class PlanChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Plan) -> str:
        return f"{obj} ({obj.code})"


# --- create -------------------------------------------------------------------------------------------------------


class SubscriptionCreateForm(_KeyedForm):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.exclude(status=Customer.Status.CLOSED),
        label=_("Customer"),
        help_text=_("The customer's id (the magnifying glass finds it)."),
    )
    plan = PlanChoiceField(queryset=_active_plans(), to_field_name="code", required=False, label=_("Plan"))
    bundle = forms.ModelChoiceField(
        queryset=Bundle.objects.filter(is_active=True, plan__isnull=False).order_by("name"),
        to_field_name="code",
        required=False,
        label=_("Bundle"),
        help_text=_("A plan or a bundle, not both."),
    )
    quantity = _quantity_field(initial=1, label=_("Quantity"))
    coupon = forms.CharField(max_length=64, required=False, label=_("Coupon code"))
    trial_days = forms.IntegerField(
        min_value=0,
        max_value=3650,
        required=False,
        label=_("Trial days"),
        help_text=_("Empty: the plan's trial. 0: no trial, the first period is charged now."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        rel = Subscription._meta.get_field("customer").remote_field
        self.fields["customer"].widget = ForeignKeyRawIdWidget(rel, admin.site)
        self.fields["plan"].queryset = _active_plans()

    def clean(self):
        data = super().clean()
        if (
            not data.get("plan")
            and not data.get("bundle")
            and "plan" not in self.errors
            and "bundle" not in self.errors
        ):
            self.add_error("plan", _("Choose the plan or the bundle to subscribe to."))
        if data.get("plan") and data.get("bundle"):
            self.add_error("bundle", _("Choose a plan or a bundle, not both."))
        return data


class OptionLineForm(forms.Form):
    option = forms.ModelChoiceField(
        queryset=Option.objects.filter(is_active=True).order_by("code"),
        to_field_name="code",
        required=False,
        label=_("Option"),
    )
    quantity = _quantity_field(initial=1, required=False, label=_("Quantity"))

    def clean(self):
        data = super().clean()
        if data.get("option") and not data.get("quantity"):
            self.add_error("quantity", _("How many of this option?"))
        return data


class BaseOptionLineFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        codes = [form.cleaned_data["option"].code for form in self.forms if form.cleaned_data.get("option")]
        if len(codes) != len(set(codes)):
            raise forms.ValidationError(_("Each option once: set its quantity instead."))

    def options(self) -> list[tuple[str, int]]:
        return [
            (form.cleaned_data["option"].code, form.cleaned_data["quantity"])
            for form in self.forms
            if form.cleaned_data.get("option")
        ]


OptionLineFormSet = forms.formset_factory(OptionLineForm, formset=BaseOptionLineFormSet, extra=3, max_num=20)


# --- change plan / quantity -----------------------------------------------------------------------------------


class SubscriptionChangeForm(_KeyedForm):
    """Step 1 of a change (and, posted back from hidden fields, the confirmation of step 2)."""

    WHEN = (
        ("now", _("Now: prorated by days (the unused part credited, the rest of the period charged)")),
        ("period_end", _("At period end: from the next renewal, nothing charged now")),
    )

    plan = PlanChoiceField(queryset=_active_plans(), to_field_name="code", label=_("Plan"))
    quantity = _quantity_field(label=_("Quantity"))
    when = forms.ChoiceField(choices=WHEN, widget=forms.RadioSelect, initial="now", label=_("When"))

    def __init__(self, *args, subscription: Subscription, **kwargs):
        super().__init__(*args, **kwargs)
        self.subscription = subscription
        self.fields["plan"].queryset = _active_plans()
        if not self.is_bound:
            self.initial.setdefault("plan", subscription.plan.code)
            self.initial.setdefault("quantity", subscription.quantity)

    def clean(self):
        data = super().clean()
        plan, quantity = data.get("plan"), data.get("quantity")
        if plan is not None and quantity is not None:
            if plan.pk == self.subscription.plan_id and quantity == self.subscription.quantity:
                raise forms.ValidationError(_("Choose another plan, another quantity or both."))
        return data

    def service_args(self) -> dict:
        """The change as the services take it: the plan and the quantity that differ from the subscription's."""
        data = self.cleaned_data
        return {
            "plan_code": data["plan"].code if data["plan"].pk != self.subscription.plan_id else None,
            "quantity": data["quantity"],
        }


class SubscriptionChangeConfirmForm(SubscriptionChangeForm):
    """Step 2: the inputs of step 1 as hidden fields and the digest of the preview shown."""

    preview_digest = forms.CharField(max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("plan", "quantity", "when"):
            self.fields[name].widget = forms.HiddenInput()


# --- options, coupon, cancel, pause, resume --------------------------------------------------------------------


class OptionAddForm(_KeyedForm):
    option = forms.ModelChoiceField(
        queryset=Option.objects.filter(is_active=True).order_by("code"), to_field_name="code", label=_("Option")
    )
    quantity = _quantity_field(initial=1, label=_("Quantity"))


class OptionRemoveForm(forms.Form):
    option = forms.CharField(max_length=64, widget=forms.HiddenInput)


class CouponApplyForm(forms.Form):
    coupon = forms.CharField(max_length=64, label=_("Coupon code"))  # stripped: blank is refused as required


class CancelForm(_KeyedForm):
    WHEN = (
        ("now", _("Now: the unused part of the period is credited back")),
        ("period_end", _("At period end: it renews no more")),
    )

    when = forms.ChoiceField(choices=WHEN, widget=forms.RadioSelect, initial="period_end", label=_("When"))


class ConfirmForm(forms.Form):
    """Pause and resume: nothing to choose, the page asks for a confirmation."""
