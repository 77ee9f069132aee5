"""The catalog in the admin: products, plans and their price versions, options, bundles, usage
metrics, promotions and coupons — edited without code. Subscriptions are changed through their
services (admin actions), never by editing money-bearing fields directly."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from billing.admin.panels import customer_card_panel_register
from billing.money import format_money
from config.admin import ReadOnlyModelAdmin, ReadOnlyTabularInline
from config.errors import ApplicationError
from plans.admin_flows import SubscriptionFlowsMixin
from plans.admin_panels import customer_subscriptions_panel
from plans.models import (
    BillingRun,
    Bundle,
    BundleItem,
    BundlePrice,
    Charge,
    Coupon,
    Option,
    OptionPrice,
    Plan,
    PlanPrice,
    Product,
    Promotion,
    ScheduledChange,
    Subscription,
    SubscriptionDiscount,
    SubscriptionOption,
    SubscriptionSegment,
    UsageCharge,
    UsageEvent,
    UsageMetric,
)


class PriceVersionInline(admin.TabularInline):
    """Price versions are append-only: a price change is a new row valid from a date."""

    extra = 0

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PlanPriceInline(PriceVersionInline):
    model = PlanPrice
    fields = ("amount", "setup_fee", "minimum_commitment", "vat_included", "valid_from")


class UsageChargeInline(admin.StackedInline):
    model = UsageCharge
    extra = 0
    fields = ("metric", "model", "unit_price", "included", "package_size", "package_price", "tiers")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "seller", "vat_rate", "is_active", "created_at")
    list_filter = ("is_active", "seller", "vat_rate")
    search_fields = ("name", "code")
    prepopulated_fields = {"code": ("name",)}


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "code",
        "product",
        "interval",
        "interval_count",
        "charge_timing",
        "trial_days",
        "is_public",
        "display_order",
        "is_active",
        "current_prices",
    )
    list_filter = ("product", "interval", "charge_timing", "is_public", "is_active", "grandfathered")
    list_editable = ("is_public", "display_order")
    search_fields = ("name", "code")
    prepopulated_fields = {"code": ("name",)}
    inlines = [PlanPriceInline, UsageChargeInline]
    fieldsets = (
        (None, {"fields": ("product", "name", "code", "description", "is_active")}),
        (
            gettext_lazy("Billing"),
            {"fields": ("interval", "interval_count", "charge_timing", "trial_days", "grandfathered")},
        ),
        (gettext_lazy("Showcase"), {"fields": ("is_public", "display_order", "showcase_description")}),
    )

    @admin.display(description=gettext_lazy("Current prices"))
    def current_prices(self, obj: Plan) -> str:
        now = timezone.now()
        seen, shown = set(), []
        for price in obj.prices.all():
            if price.valid_from <= now and price.amount_currency not in seen:
                seen.add(price.amount_currency)
                shown.append(format_money(price.amount))
        return ", ".join(shown) or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product").prefetch_related("prices")


class OptionPriceInline(PriceVersionInline):
    model = OptionPrice
    fields = ("amount", "vat_included", "valid_from")


@admin.register(Option)
class OptionAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "product", "kind", "max_quantity", "is_public", "is_active")
    list_filter = ("product", "kind", "is_public", "is_active")
    search_fields = ("name", "code")
    filter_horizontal = ("plans",)
    inlines = [OptionPriceInline]


class BundleItemInline(admin.TabularInline):
    model = BundleItem
    extra = 1


class BundlePriceInline(PriceVersionInline):
    model = BundlePrice
    fields = ("amount", "vat_included", "valid_from")


@admin.register(Bundle)
class BundleAdmin(admin.ModelAdmin):
    """Saving a bundle (with its items and prices) publishes it: plans.services.bundles.bundle_publish
    brings the plan that sells it up to date, which is what customers subscribe to."""

    list_display = (
        "name",
        "code",
        "interval",
        "interval_count",
        "charge_timing",
        "is_public",
        "is_active",
        "backing_plan",
    )
    list_filter = ("is_public", "is_active")
    search_fields = ("name", "code")
    inlines = [BundleItemInline, BundlePriceInline]
    readonly_fields = ("backing_plan",)
    fieldsets = (
        (None, {"fields": ("name", "code", "description", "is_public", "is_active")}),
        (
            gettext_lazy("Billing"),
            {
                "fields": ("interval", "interval_count", "charge_timing", "trial_days", "backing_plan"),
                "description": gettext_lazy(
                    "A subscription to the bundle pays its package price every period. The items are what "
                    "the package includes: they are not billed on their own (an option item is never "
                    "charged on top of the package price)."
                ),
            },
        ),
    )

    @admin.display(description=gettext_lazy("Plan that sells it"))
    def backing_plan(self, obj: Bundle):
        if obj is None or obj.plan_id is None:
            return "— (not published: nobody can subscribe to it yet)"
        url = reverse("admin:plans_plan_change", args=[obj.plan_id])
        return format_html('<a href="{}">{}</a>', url, obj.plan.code)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("plan")

    def save_related(self, request, form, formsets, change):
        from plans.services.bundles import bundle_publish

        super().save_related(request, form, formsets, change)
        bundle = form.instance
        try:
            plan = bundle_publish(bundle_id=bundle.pk)
        except (ApplicationError, ValidationError) as exc:
            bundle.refresh_from_db(fields=["plan"])
            state = (
                _("not published: nobody can subscribe to it yet")
                if bundle.plan_id is None
                else _("the plan that sells it was not updated")
            )
            self.message_user(
                request,
                _("Bundle %(code)r is saved, but %(state)s: %(error)s")
                % {"code": bundle.code, "state": state, "error": exc},
                messages.WARNING,
            )
        else:
            bundle.plan = plan
            self.message_user(
                request,
                _("Bundle %(code)r is published: it is sold through plan %(plan)r.")
                % {"code": bundle.code, "plan": plan.code},
                messages.SUCCESS,
            )


@admin.register(UsageMetric)
class UsageMetricAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "unit", "aggregation")
    search_fields = ("code", "name")


class CouponInline(admin.TabularInline):
    model = Coupon
    extra = 0
    fields = ("code", "expires_at", "max_redemptions", "times_redeemed", "is_active")
    readonly_fields = ("times_redeemed",)


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "code",
        "percent",
        "amount",
        "duration",
        "duration_periods",
        "valid_from",
        "valid_until",
        "is_active",
    )
    list_filter = ("duration", "is_active")
    search_fields = ("name", "code")
    filter_horizontal = ("products", "plans")
    inlines = [CouponInline]


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    list_display = ("code", "promotion", "expires_at", "times_redeemed", "max_redemptions", "is_active")
    list_filter = ("is_active", "promotion")
    search_fields = ("code",)
    readonly_fields = ("times_redeemed",)


class ChargeInline(ReadOnlyTabularInline):
    model = Charge
    fields = ("kind", "period_start", "period_end", "amount_shown", "transaction", "created_at")
    readonly_fields = fields
    ordering = ("-id",)

    @admin.display(description=gettext_lazy("amount"))
    def amount_shown(self, obj: Charge) -> str:
        return format_money(obj.amount)


class SubscriptionOptionInline(ReadOnlyTabularInline):
    model = SubscriptionOption
    fields = ("option", "quantity", "price", "added_at", "removed_at")
    readonly_fields = fields


class SubscriptionDiscountInline(ReadOnlyTabularInline):
    model = SubscriptionDiscount
    fields = ("promotion", "coupon", "periods_remaining", "created_at")
    readonly_fields = fields


class ScheduledChangeInline(ReadOnlyTabularInline):
    model = ScheduledChange
    fields = ("kind", "params", "effective_at", "applied_at", "canceled_at")
    readonly_fields = fields


class SubscriptionSegmentInline(ReadOnlyTabularInline):
    """The plans a subscription left by a change "now": each part's usage is priced at its plan."""

    model = SubscriptionSegment
    fields = ("period_start", "plan", "price", "ends_at", "ends_on")
    readonly_fields = fields
    ordering = ("-ends_at",)


def _run_service(modeladmin, request, queryset, action, label):
    done = 0
    for sub in queryset.order_by("pk"):
        try:
            action(sub)
            done += 1
        except (ApplicationError, ValidationError) as exc:
            modeladmin.message_user(request, _("#%(id)s: %(error)s") % {"id": sub.pk, "error": exc}, messages.ERROR)
    if done:
        modeladmin.message_user(
            request,
            ngettext("%(label)s: %(count)d subscription.", "%(label)s: %(count)d subscriptions.", done)
            % {"label": label, "count": done},
            messages.SUCCESS,
        )


@admin.register(Subscription)
class SubscriptionAdmin(SubscriptionFlowsMixin, admin.ModelAdmin):
    """Subscriptions run through their services: the add page subscribes (subscription_create), the buttons of a
    subscription's page change its plan or quantity, options and coupon, cancel, pause and resume it
    (plans.admin_flows); the actions below do the same for several at once."""

    change_form_template = "admin/plans/subscription/change_form.html"
    list_display = (
        "id",
        "customer",
        "plan",
        "quantity",
        "status",
        "current_period_start",
        "current_period_end",
        "next_billing_at",
        "cancel_at_period_end",
    )
    list_filter = ("status", "plan__product", "plan", "cancel_at_period_end")
    search_fields = ("id", "customer__name", "customer__external_id", "external_id")
    list_select_related = ("customer", "plan")
    raw_id_fields = ("customer",)
    inlines = [
        SubscriptionOptionInline,
        SubscriptionDiscountInline,
        ScheduledChangeInline,
        SubscriptionSegmentInline,
        ChargeInline,
    ]
    actions = ["cancel_at_period_end", "cancel_now", "pause", "resume"]
    readonly_fields = (
        "customer",
        "plan",
        "price",
        "currency",
        "quantity",
        "status",
        "billing_anchor",
        "current_period_start",
        "current_period_end",
        "trial_end",
        "next_billing_at",
        "cancel_at_period_end",
        "canceled_at",
        "ended_at",
        "paused_at",
        "suspended_at",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields + ("external_id", "metadata")

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=gettext_lazy("Cancel at period end"), permissions=["change"])
    def cancel_at_period_end(self, request, queryset):
        from plans.services.subscriptions import subscription_cancel

        _run_service(
            self,
            request,
            queryset,
            lambda s: subscription_cancel(subscription_id=s.pk, at_period_end=True),
            _("Will cancel at period end"),
        )

    @admin.action(description=gettext_lazy("Cancel now (credit the unused part)"), permissions=["change"])
    def cancel_now(self, request, queryset):
        from plans.services.subscriptions import subscription_cancel

        _run_service(self, request, queryset, lambda s: subscription_cancel(subscription_id=s.pk), _("Canceled"))

    @admin.action(description=gettext_lazy("Pause"), permissions=["change"])
    def pause(self, request, queryset):
        from plans.services.subscriptions import subscription_pause

        _run_service(self, request, queryset, lambda s: subscription_pause(subscription_id=s.pk), _("Paused"))

    @admin.action(description=gettext_lazy("Resume"), permissions=["change"])
    def resume(self, request, queryset):
        from plans.services.subscriptions import subscription_resume

        _run_service(self, request, queryset, lambda s: subscription_resume(subscription_id=s.pk), _("Resumed"))


@admin.register(Charge)
class ChargeAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "subscription",
        "kind",
        "period_start",
        "period_end",
        "amount_shown",
        "transaction",
        "created_at",
    )
    list_filter = ("kind",)
    search_fields = ("key", "subscription__id")
    list_select_related = ("subscription",)

    @admin.display(description=gettext_lazy("amount"), ordering="amount")
    def amount_shown(self, obj: Charge) -> str:
        return format_money(obj.amount)


@admin.register(UsageEvent)
class UsageEventAdmin(ChargeAdmin):
    list_display = ("event_id", "customer", "metric", "quantity", "timestamp", "received_at")
    list_filter = ("metric",)
    search_fields = ("event_id", "customer__name")
    list_select_related = ("customer", "metric")
    date_hierarchy = "timestamp"


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnlyModelAdmin):
    """Each run's state, counts (due at start = processed + failed + left), duration and failures with their
    reasons. Read-only: runs are started by beat or `manage.py bill` and closed by their workers."""

    list_display = (
        "id",
        "as_of",
        "status",
        "triggered_by",
        "started_at",
        "duration_display",
        "due_at_start",
        "processed",
        "charged",
        "canceled",
        "suspended",
        "failed",
        "left",
        "chunks",
    )
    list_filter = ("status", "triggered_by")
    date_hierarchy = "started_at"
    fieldsets = (
        (None, {"fields": ("status", "as_of", "triggered_by", "chunk_size", "error")}),
        (gettext_lazy("Time"), {"fields": ("started_at", "finished_at", "duration_display", "heartbeat_at")}),
        (
            gettext_lazy("Counts"),
            {"fields": ("due_at_start", "processed", "failed", "left", "charged", "canceled", "suspended", "chunks")},
        ),
        (gettext_lazy("Workers"), {"fields": ("workers_started", "workers_finished")}),
        (gettext_lazy("Failures"), {"fields": ("failures_table",)}),
    )
    readonly_fields = ("duration_display", "failures_table")

    @admin.display(description=gettext_lazy("Duration"))
    def duration_display(self, obj: BillingRun) -> str:
        duration = obj.duration
        if duration is None:
            return "-"
        return _("%(seconds).1f s") % {"seconds": duration.total_seconds()}

    @admin.display(description=gettext_lazy("Failures (subscription: reason)"))
    def failures_table(self, obj: BillingRun) -> str:
        if not obj.failures:
            return "-"
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">#{}</a></td><td>{}</td></tr>',
            (
                (
                    reverse("admin:plans_subscription_change", args=[f["subscription_id"]]),
                    f["subscription_id"],
                    f["reason"],
                )
                for f in obj.failures
            ),
        )
        return format_html("<table><tr><th>Subscription</th><th>Reason</th></tr>{}</table>", rows)


# the customer card (billing's) lists the customer's subscriptions: billing imports no app above it, so plans fills
# the extension point billing offers when the admin loads
customer_card_panel_register(customer_subscriptions_panel)
