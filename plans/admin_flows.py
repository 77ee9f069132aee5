"""The subscription pages of the admin (issue 10, item 8): create, change plan or quantity (with the exact preview
before the confirmation), options, coupon, cancel, pause, resume. Each page checks its own permission (add, or
change of the subscription); its form checks the shape; the view calls the same service as the API
(plans.services.subscriptions), and an ApplicationError the service raises becomes a form error: nothing written.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from django.contrib import messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from billing.money import format_money
from billing.money_fields import amount_str
from config.errors import ApplicationError
from plans.api.common import line_out
from plans.forms import (
    CancelForm,
    ConfirmForm,
    CouponApplyForm,
    OptionAddForm,
    OptionLineFormSet,
    OptionRemoveForm,
    SubscriptionChangeConfirmForm,
    SubscriptionChangeForm,
    SubscriptionCreateForm,
    add_service_error,
)
from plans.models import Charge, Subscription, SubscriptionDiscount, SubscriptionOption
from plans.services.subscriptions import (
    ChangePreview,
    subscription_cancel,
    subscription_change_plan,
    subscription_change_preview,
    subscription_coupon_apply,
    subscription_create,
    subscription_option_add,
    subscription_option_remove,
    subscription_pause,
    subscription_resume,
)

# the pages of one subscription: each is served by `<page>_view` at `<id>/<page with dashes>/`
SUBSCRIPTION_PAGES = ("change_plan", "options", "coupon", "cancel", "pause", "resume")


def subscription_url(sub: Subscription, page: str = "change") -> str:
    return reverse(f"admin:plans_subscription_{page}", args=[quote(sub.pk)])


def charge_text(charge: Charge | None) -> str:
    """What a service posted, for a message: the amount and a link to the ledger transaction."""
    if charge is None or charge.transaction_id is None:
        return _("nothing was posted to the ledger")
    url = reverse("admin:billing_transaction_change", args=[charge.transaction_id])
    return format_html(
        _('{amount} posted as <a href="{url}">transaction #{txn}</a>'),
        amount=format_money(charge.amount),
        url=url,
        txn=charge.transaction_id,
    )


def preview_view_data(preview: ChangePreview) -> dict:
    """The preview as the page shows it: the API's own line shape and amount format (plans.api.common.line_out)."""
    return {
        "lines": [line_out(x) for x in preview.lines],
        "usage_lines": [line_out(x) for x in preview.usage_lines],
        "total": amount_str(preview.total, preview.currency),
        "total_net": amount_str(preview.total - _vat_of(preview.lines), preview.currency),
        "total_vat": amount_str(_vat_of(preview.lines), preview.currency),
        "currency": preview.currency,
        "period": preview.period,
        "change_day": preview.change_day,
    }


def _vat_of(lines) -> Decimal:
    return sum((x.vat for x in lines), Decimal(0))


def preview_digest(preview: ChangePreview) -> str:
    """A digest of everything the preview shows: the confirmation applies the change only when a preview computed at
    the moment of the confirmation has the same one, so it never applies what was not shown."""
    data = preview_view_data(preview)
    shown = {
        **data,
        "period": [str(preview.period.start), str(preview.period.end)],
        "change_day": str(data["change_day"]),
    }
    return hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()


class SubscriptionFlowsMixin:
    """For plans.admin.SubscriptionAdmin: the add view and the pages of one subscription."""

    flow_template = "plans/admin/subscription_flow.html"

    # --- urls and buttons ---------------------------------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        pages = [
            path(
                f"<path:object_id>/{page.replace('_', '-')}/",
                self.admin_site.admin_view(getattr(self, f"{page}_view")),
                name="{}_{}_{}".format(*info, page),
            )
            for page in SUBSCRIPTION_PAGES
        ]
        return [*pages, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        sub = self.get_object(request, unquote(object_id))
        extra_context = dict(extra_context or {})
        if sub is not None and self.has_change_permission(request, sub):
            extra_context["subscription_pages"] = self._buttons(sub)
        return super().change_view(request, object_id, form_url, extra_context)

    def _buttons(self, sub: Subscription) -> list[tuple[str, str]]:
        live = sub.status in (Subscription.Status.ACTIVE, Subscription.Status.TRIALING)
        shown = []
        if live:
            shown += [
                (_("Change plan"), "change_plan"),
                (_("Options"), "options"),
                (_("Apply coupon"), "coupon"),
                (_("Pause"), "pause") if sub.status == Subscription.Status.ACTIVE else None,
            ]
        if sub.status == Subscription.Status.PAUSED:
            shown.append((_("Resume"), "resume"))
        if sub.is_live:
            shown.append((_("Cancel"), "cancel"))
        return [(label, subscription_url(sub, page)) for label, page in (x for x in shown if x)]

    # --- shared -------------------------------------------------------------------------------------------------

    def _subscription_for_change(self, request, object_id) -> Subscription:
        sub = self.get_object(request, unquote(object_id))
        if sub is None:
            raise Http404(_("No such subscription."))
        if not self.has_change_permission(request, sub):
            raise PermissionDenied
        return sub

    def _render(self, request, title: str, *, sub: Subscription | None = None, template: str | None = None, **extra):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": sub,
            "title": title,
            "subtitle": str(sub) if sub is not None else None,
            "has_view_permission": True,
            **extra,
        }
        return TemplateResponse(request, template or self.flow_template, context)

    def _done(self, request, sub: Subscription, message: str):
        self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(subscription_url(sub))

    # --- create -------------------------------------------------------------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        """Subscribing through subscription_create (the API's service): the first period is charged now unless the
        subscription starts with a trial."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = SubscriptionCreateForm(request.POST)
            options = OptionLineFormSet(request.POST, prefix="options")
            if form.is_valid() and options.is_valid():
                data = form.cleaned_data
                try:
                    sub = subscription_create(
                        customer_id=data["customer"].pk,
                        plan_code=data["plan"].code if data["plan"] else None,
                        bundle_code=data["bundle"].code if data["bundle"] else None,
                        quantity=data["quantity"],
                        coupon_code=data["coupon"] or None,
                        options=options.options(),
                        trial_days=data["trial_days"],
                        key=form.service_key,
                    )
                except ApplicationError as exc:
                    add_service_error(form, exc)
                else:
                    charged = Charge.objects.filter(subscription=sub).exclude(transaction=None).order_by("pk")
                    total = sum((c.amount.amount for c in charged), start=0)
                    posted = (
                        _("charged %(amount)s") % {"amount": format_money(total, sub.currency)}
                        if charged
                        else _("nothing charged now")
                    )
                    return self._done(
                        request,
                        sub,
                        _("Subscription #%(id)s is %(status)s: %(posted)s.")
                        % {"id": sub.pk, "status": sub.get_status_display(), "posted": posted},
                    )
        else:
            initial = {}
            if request.GET.get("customer", "").isdigit():
                initial["customer"] = request.GET["customer"]
            form = SubscriptionCreateForm(initial=initial)
            options = OptionLineFormSet(prefix="options")
        return self._render(
            request,
            _("Add subscription"),
            template="plans/admin/subscription_add.html",
            form=form,
            options=options,
            submit_label=_("Subscribe"),
        )

    # --- change plan / quantity ---------------------------------------------------------------------------------

    def change_plan_view(self, request, object_id):
        sub = self._subscription_for_change(request, object_id)
        if request.method != "POST":
            return self._change_step1(request, sub, SubscriptionChangeForm(subscription=sub))
        if "_confirm" not in request.POST:
            form = SubscriptionChangeForm(request.POST, subscription=sub)
            if not form.is_valid():
                return self._change_step1(request, sub, form)
            return self._change_step2(request, sub, form)
        form = SubscriptionChangeConfirmForm(request.POST, subscription=sub)
        if not form.is_valid():
            step1 = SubscriptionChangeForm(request.POST, subscription=sub)
            step1.is_valid()
            return self._change_step1(request, sub, step1)
        args = form.service_args()
        at = timezone.now()
        if form.cleaned_data["when"] == "now":
            try:
                preview = subscription_change_preview(subscription_id=sub.pk, at=at, **args)
            except ApplicationError as exc:
                return self._change_step1(request, sub, self._step1_with_error(request, sub, exc))
            if preview_digest(preview) != form.cleaned_data["preview_digest"]:
                messages.warning(
                    request,
                    _(
                        "The amounts changed since the preview (a new day began in the customer's time zone, or "
                        "the subscription changed): nothing was applied. Check the new amounts and confirm again."
                    ),
                )
                return self._change_step2(request, sub, form, preview=preview)
        try:
            sub, charge = subscription_change_plan(
                subscription_id=sub.pk, when=form.cleaned_data["when"], key=form.service_key, at=at, **args
            )
        except ApplicationError as exc:
            return self._change_step1(request, sub, self._step1_with_error(request, sub, exc))
        if form.cleaned_data["when"] == "period_end":
            message = _("Subscription #%(id)s changes to %(plan)s × %(quantity)s at its renewal on %(at)s.") % {
                "id": sub.pk,
                "plan": form.cleaned_data["plan"].code,
                "quantity": form.cleaned_data["quantity"],
                "at": timezone.localtime(sub.next_billing_at).strftime("%Y-%m-%d %H:%M")
                if sub.next_billing_at
                else "—",
            }
        else:
            message = format_html(
                _("Subscription #{id} is now {plan} × {quantity}: {posted}."),
                id=sub.pk,
                plan=sub.plan.code,
                quantity=sub.quantity,
                posted=charge_text(charge),
            )
        return self._done(request, sub, message)

    def _step1_with_error(self, request, sub, exc: ApplicationError) -> SubscriptionChangeForm:
        form = SubscriptionChangeForm(request.POST, subscription=sub)
        form.is_valid()
        add_service_error(form, exc)
        return form

    def _change_step1(self, request, sub, form):
        return self._render(
            request,
            _("Change plan or quantity"),
            sub=sub,
            template="plans/admin/subscription_change_plan.html",
            form=form,
            submit_label=_("Preview the change"),
        )

    def _change_step2(self, request, sub, form, *, preview: ChangePreview | None = None):
        """The confirmation page: for a change now, the exact preview of subscription_change_preview (what
        subscription_change_plan will post); for a change at period end, when it takes effect."""
        args = form.service_args()
        when = form.cleaned_data["when"]
        digest = ""
        if when == "now" and preview is None:
            try:
                preview = subscription_change_preview(subscription_id=sub.pk, **args)
            except ApplicationError as exc:
                add_service_error(form, exc)
                return self._change_step1(request, sub, form)
        if preview is not None:
            digest = preview_digest(preview)
        confirm = SubscriptionChangeConfirmForm(
            initial={
                "plan": form.cleaned_data["plan"].code,
                "quantity": form.cleaned_data["quantity"],
                "when": when,
                "key": form.cleaned_data["key"],
                "preview_digest": digest or "-",
            },
            subscription=sub,
        )
        return self._render(
            request,
            _("Confirm the change"),
            sub=sub,
            template="plans/admin/subscription_change_confirm.html",
            form=confirm,
            submit_label=_("Confirm the change"),
            when=when,
            new_plan=form.cleaned_data["plan"],
            new_quantity=form.cleaned_data["quantity"],
            preview=preview_view_data(preview) if preview is not None else None,
        )

    # --- options --------------------------------------------------------------------------------------------------

    def options_view(self, request, object_id):
        sub = self._subscription_for_change(request, object_id)
        add_form = OptionAddForm(prefix="add")
        remove_error = None
        if request.method == "POST" and "_add" in request.POST:
            add_form = OptionAddForm(request.POST, prefix="add")
            if add_form.is_valid():
                code = add_form.cleaned_data["option"].code
                try:
                    charge = subscription_option_add(
                        subscription_id=sub.pk,
                        option_code=code,
                        quantity=add_form.cleaned_data["quantity"],
                        key=add_form.service_key,
                    )
                except ApplicationError as exc:
                    add_service_error(add_form, exc, fields={"options": "option", "options.quantity": "quantity"})
                else:
                    return self._done(
                        request,
                        sub,
                        format_html(
                            _("Option {code} is added to subscription #{id}: {posted}."),
                            code=code,
                            id=sub.pk,
                            posted=charge_text(charge),
                        ),
                    )
        elif request.method == "POST" and "_remove" in request.POST:
            remove = OptionRemoveForm(request.POST)
            if remove.is_valid():
                code = remove.cleaned_data["option"]
                try:
                    charge = subscription_option_remove(subscription_id=sub.pk, option_code=code)
                except ApplicationError as exc:
                    remove_error = exc.message
                else:
                    return self._done(
                        request,
                        sub,
                        format_html(
                            _("Option {code} is removed from subscription #{id}: {posted}."),
                            code=code,
                            id=sub.pk,
                            posted=charge_text(charge),
                        ),
                    )
            else:
                remove_error = _("Choose an option to remove.")
        current = list(
            SubscriptionOption.objects.filter(subscription=sub, removed_at=None).select_related("option", "price")
        )
        return self._render(
            request,
            _("Options"),
            sub=sub,
            template="plans/admin/subscription_options.html",
            form=add_form,
            current=current,
            remove_error=remove_error,
        )

    # --- coupon ---------------------------------------------------------------------------------------------------

    def coupon_view(self, request, object_id):
        sub = self._subscription_for_change(request, object_id)
        form = CouponApplyForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                discount = subscription_coupon_apply(subscription_id=sub.pk, coupon_code=form.cleaned_data["coupon"])
            except ApplicationError as exc:
                add_service_error(form, exc)
            else:
                return self._done(
                    request,
                    sub,
                    _("Coupon %(code)s is applied to subscription #%(id)s: %(promotion)s from %(start)s.")
                    % {
                        "code": discount.coupon.code,
                        "id": sub.pk,
                        "promotion": discount.promotion.name,
                        "start": discount.applies_from or _("the current period"),
                    },
                )
        discounts = list(SubscriptionDiscount.objects.filter(subscription=sub).select_related("promotion", "coupon"))
        return self._render(
            request,
            _("Apply coupon"),
            sub=sub,
            form=form,
            discounts=discounts,
            intro=_(
                "The coupon's discount applies from the next period charged (a period already paid is not "
                "charged again)."
            ),
            submit_label=_("Apply coupon"),
        )

    # --- cancel, pause, resume --------------------------------------------------------------------------------------

    def cancel_view(self, request, object_id):
        sub = self._subscription_for_change(request, object_id)
        form = CancelForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            at_period_end = form.cleaned_data["when"] == "period_end"
            try:
                sub, charge = subscription_cancel(
                    subscription_id=sub.pk, at_period_end=at_period_end, key=form.service_key
                )
            except ApplicationError as exc:
                add_service_error(form, exc, fields={"at_period_end": "when"})
            else:
                if at_period_end:
                    message = _("Subscription #%(id)s is canceled at the end of its period, on %(end)s.") % {
                        "id": sub.pk,
                        "end": sub.current_period_end,
                    }
                else:
                    message = format_html(
                        _("Subscription #{id} is canceled: {posted}."), id=sub.pk, posted=charge_text(charge)
                    )
                return self._done(request, sub, message)
        return self._render(
            request, _("Cancel subscription"), sub=sub, form=form, submit_label=_("Cancel the subscription")
        )

    def pause_view(self, request, object_id):
        return self._confirm_action(
            request,
            object_id,
            title=_("Pause subscription"),
            intro=_("The unused part of the period is credited back; no renewals until it is resumed."),
            service=subscription_pause,
            done=_("Subscription #{id} is paused: {posted}."),
        )

    def resume_view(self, request, object_id):
        return self._confirm_action(
            request,
            object_id,
            title=_("Resume subscription"),
            intro=_(
                "A new period starts today and is charged in advance (on the day of the pause, the pause is "
                "taken back instead)."
            ),
            service=subscription_resume,
            done=_("Subscription #{id} is resumed: {posted}."),
        )

    def _confirm_action(self, request, object_id, *, title, intro, service, done):
        sub = self._subscription_for_change(request, object_id)
        form = ConfirmForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                sub, charge = service(subscription_id=sub.pk)
            except ApplicationError as exc:
                add_service_error(form, exc)
            else:
                return self._done(request, sub, format_html(done, id=sub.pk, posted=charge_text(charge)))
        return self._render(request, title, sub=sub, form=form, intro=intro, submit_label=title)
