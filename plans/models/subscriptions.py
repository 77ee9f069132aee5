"""Subscriptions, their options, scheduled changes, plan segments of a period, usage events and the charge guard
rows."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing.money import money_field


class Subscription(models.Model):
    class Status(models.TextChoices):
        TRIALING = "trialing", _("Trialing")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        SUSPENDED = "suspended", _("Suspended (insufficient funds)")
        # created for a prepaid customer who could not cover the first charge (BillingPolicy.prepaid_new_subscription
        # = await_payment): not started, not billed, started by the top-up that covers its first charge
        INCOMPLETE = "incomplete", _("Awaiting first payment")
        CANCELED = "canceled", _("Canceled")
        EXPIRED = "expired", _("Expired")

    LIVE = (Status.TRIALING, Status.ACTIVE, Status.PAUSED, Status.SUSPENDED)

    customer = models.ForeignKey(
        "billing.Customer",
        on_delete=models.PROTECT,
        related_name="subscriptions",
        db_index=False,
        verbose_name=_("customer"),
    )  # indexed by (customer, status)
    plan = models.ForeignKey(
        "plans.Plan", on_delete=models.PROTECT, related_name="subscriptions", verbose_name=_("plan")
    )
    price = models.ForeignKey(
        "plans.PlanPrice",
        on_delete=models.PROTECT,
        related_name="subscriptions",
        help_text=_("The price version this subscription pays."),
        verbose_name=_("price"),
    )
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    quantity = models.PositiveIntegerField(default=1, verbose_name=_("quantity"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status"))
    billing_anchor = models.DateField(
        help_text=_("Periods are counted from this day in the customer's time zone."), verbose_name=_("billing anchor")
    )
    current_period_start = models.DateField(verbose_name=_("current period start"))
    current_period_end = models.DateField(help_text=_("Exclusive."), verbose_name=_("current period end"))
    trial_end = models.DateField(null=True, blank=True, verbose_name=_("trial end"))
    next_billing_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When the billing run next processes it (local midnight of the boundary)."),
        verbose_name=_("next billing at"),
    )
    cancel_at_period_end = models.BooleanField(default=False, verbose_name=_("cancel at period end"))
    canceled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("canceled at"))
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ended at"))
    paused_at = models.DateTimeField(null=True, blank=True, verbose_name=_("paused at"))
    suspended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("suspended at"))
    external_id = models.CharField(
        max_length=255, null=True, blank=True, verbose_name=_("external id")
    )  # unique: see Meta
    creation_key = models.CharField(
        max_length=255,
        null=True,
        blank=True,
        unique=True,
        editable=False,
        verbose_name=_("creation key"),
        help_text=_(
            "The key the subscription was created under: the same key again returns it (a double submit creates "
            "and charges once)."
        ),
    )
    metadata = models.JSONField(default=dict, blank=True, verbose_name=_("metadata"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["next_billing_at", "id"],
                name="subscription_due_idx",
                condition=Q(status__in=["trialing", "active", "suspended"]),
            ),
            models.Index(fields=["customer", "status"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="subscription_external_id_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="subscription_quantity_positive"),
            models.CheckConstraint(
                condition=Q(current_period_end__gt=models.F("current_period_start")),
                name="subscription_period_not_empty",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.plan.code} × {self.quantity} ({self.get_status_display()})"

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE


class SubscriptionOption(models.Model):
    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="options", verbose_name=_("subscription")
    )
    option = models.ForeignKey("plans.Option", on_delete=models.PROTECT, verbose_name=_("option"))
    price = models.ForeignKey("plans.OptionPrice", on_delete=models.PROTECT, verbose_name=_("price"))
    quantity = models.PositiveIntegerField(default=1, verbose_name=_("quantity"))
    added_at = models.DateTimeField(auto_now_add=True, verbose_name=_("added at"))
    removed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("removed at"))

    class Meta:
        verbose_name = _("subscription option")
        verbose_name_plural = _("subscription options")
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "option"], condition=Q(removed_at=None), name="subscription_option_once"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="subscription_option_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.option.code} × {self.quantity}"


class SubscriptionDiscount(models.Model):
    """A promotion applied to a subscription (directly or through a coupon)."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="discounts", verbose_name=_("subscription")
    )
    promotion = models.ForeignKey("plans.Promotion", on_delete=models.PROTECT, verbose_name=_("promotion"))
    coupon = models.ForeignKey(
        "plans.Coupon", null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("coupon")
    )
    periods_remaining = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text=_("Empty: forever."), verbose_name=_("periods remaining")
    )
    applies_from = models.DateField(
        null=True,
        blank=True,
        verbose_name=_("applies from"),
        help_text=_(
            "Applied during a period already charged: counts from the period starting on this day on (the paid "
            "period's credits and prorations are not discounted). Empty: from the period it was applied in."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("subscription discount")
        verbose_name_plural = _("subscription discounts")
        constraints = [
            models.UniqueConstraint(fields=["subscription", "promotion"], name="subscription_promotion_once"),
        ]

    def __str__(self) -> str:
        return f"{self.promotion.code} on #{self.subscription_id}"


class ScheduledChange(models.Model):
    class Kind(models.TextChoices):
        CHANGE_PLAN = "change_plan", _("Change plan")
        CHANGE_QUANTITY = "change_quantity", _("Change quantity")
        CANCEL = "cancel", _("Cancel")

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="scheduled_changes", verbose_name=_("subscription")
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, verbose_name=_("kind"))
    params = models.JSONField(default=dict, blank=True, verbose_name=_("params"))
    effective_at = models.DateTimeField(verbose_name=_("effective at"))
    applied_at = models.DateTimeField(null=True, blank=True, verbose_name=_("applied at"))
    canceled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("canceled at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("scheduled change")
        verbose_name_plural = _("scheduled changes")
        ordering = ["effective_at"]
        indexes = [
            models.Index(
                fields=["effective_at"],
                condition=Q(applied_at=None, canceled_at=None),
                name="scheduled_change_pending_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} at {self.effective_at:%Y-%m-%d}"


class SubscriptionSegment(models.Model):
    """A part of a period that a plan change "now" closed: from the period's start (or the previous change) until
    `ends_at`, the subscription was on `plan` at `price`. The period's usage is priced per part, each at its own
    plan's usage charges and minimum commitment (plans.services.charging.usage_lines); the part after the last
    change is on the subscription's current plan, so a period without a change has no segment row."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="segments", db_index=False, verbose_name=_("subscription")
    )
    period_start = models.DateField(help_text=_("The period the part belongs to."), verbose_name=_("period start"))
    plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="+", verbose_name=_("plan"))
    price = models.ForeignKey("plans.PlanPrice", on_delete=models.PROTECT, related_name="+", verbose_name=_("price"))
    ends_at = models.DateTimeField(
        help_text=_("The instant of the change: events from it on are the next plan's."), verbose_name=_("ends at")
    )
    ends_on = models.DateField(
        help_text=_("The customer's local day of the change: it counts on the next plan (minimums prorate by days)."),
        verbose_name=_("ends on"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("subscription segment")
        verbose_name_plural = _("subscription segments")
        ordering = ["subscription", "ends_at", "id"]
        indexes = [models.Index(fields=["subscription", "period_start"], name="subscription_segment_period")]

    def __str__(self) -> str:
        return f"#{self.subscription_id} on {self.plan_id} until {self.ends_at:%Y-%m-%d %H:%M}"


class UsageEvent(models.Model):
    """One reported usage fact; `event_id` (the integrator's id) makes ingestion idempotent.

    Rows are written only by plans.services.usage.usage_record_batch, whose INSERT ... SELECT joins
    billing_customer (active, in the caller's scope) and plans_usagemetric: an event cannot be stored for a
    customer or a metric that does not exist. So `customer` has no database foreign key (db_constraint=False):
    the insert already proves it for a whole batch, and customers are never deleted (they
    are closed; the admin refuses deletion and their balance accounts' foreign keys block it in the database).
    `metric` keeps its foreign key: a metric can be deleted in the admin, and only the database check closes
    the race between Django's PROTECT lookup and a batch inserting the metric's first events."""

    event_id = models.CharField(
        max_length=255, verbose_name=_("event id")
    )  # unique: see Meta (no LIKE index on the ingestion path)
    customer = models.ForeignKey(
        "billing.Customer",
        on_delete=models.PROTECT,
        related_name="usage_events",
        db_index=False,
        db_constraint=False,
        verbose_name=_("customer"),
    )  # see the docstring
    metric = models.ForeignKey(
        "plans.UsageMetric", on_delete=models.PROTECT, related_name="events", db_index=False, verbose_name=_("metric")
    )  # indexed by (metric, customer, timestamp)
    quantity = models.DecimalField(max_digits=19, decimal_places=6, verbose_name=_("quantity"))
    timestamp = models.DateTimeField(verbose_name=_("timestamp"))
    properties = models.JSONField(default=dict, blank=True, verbose_name=_("properties"))
    received_at = models.DateTimeField(db_default=models.functions.Now(), verbose_name=_("received at"))

    class Meta:
        # One index serves billing (customer = and metric = and a timestamp range: either order works), the
        # metric's PROTECT and foreign-key lookups by metric alone, and the admin's filter by metric. Lookups by
        # customer alone (only a customer deletion would make them, and customers are never deleted) scan.
        verbose_name = _("usage event")
        verbose_name_plural = _("usage events")
        indexes = [models.Index(fields=["metric", "customer", "timestamp"], name="usage_event_metric_cust_ts")]
        constraints = [models.UniqueConstraint(fields=["event_id"], name="usage_event_id_unique")]

    def __str__(self) -> str:
        return f"{self.metric_id} {self.quantity} @ {self.timestamp:%Y-%m-%d %H:%M}"


class Charge(models.Model):
    """One charge per (subscription, period, kind): the row that makes billing crash-safe."""

    class Kind(models.TextChoices):
        RECURRING = "recurring", _("Recurring fee")
        USAGE = "usage", _("Usage")
        SETUP = "setup", _("Setup fee")
        PRORATION = "proration", _("Plan change proration")
        CANCEL_CREDIT = "cancel_credit", _("Unused period credit")
        ONE_TIME = "one_time", _("One-time option")

    PER_PERIOD = (Kind.RECURRING, Kind.USAGE, Kind.SETUP)

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="charges", verbose_name=_("subscription")
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    period_start = models.DateField(verbose_name=_("period start"))
    period_end = models.DateField(verbose_name=_("period end"))
    amount = money_field(verbose_name=_("amount"))
    transaction = models.ForeignKey(
        "billing.Transaction", null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("transaction")
    )
    key = models.CharField(
        max_length=255, help_text=_("Also the ledger transaction's idempotency key."), verbose_name=_("key")
    )  # unique: Meta
    lines = models.JSONField(default=list, verbose_name=_("lines"))
    seller = models.ForeignKey(
        "billing.Seller",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
        related_name="+",
        help_text=_("Who served it (documents are issued per seller); empty: no seller, no VAT."),
        verbose_name=_("seller"),
    )  # indexed by (recognized_on, seller)
    vat = models.DecimalField(
        max_digits=19,
        decimal_places=4,
        db_default=0,
        help_text=_("The VAT part of the amount (the sum of its lines' VAT)."),
        verbose_name=_("VAT"),
    )
    recognized_on = models.DateField(
        null=True,
        blank=True,
        help_text=_("Shipment (recognition) date: its ledger transaction's effective date; acts are issued by it."),
        verbose_name=_("recognized on"),
    )
    created_at = models.DateTimeField(db_default=models.functions.Now(), verbose_name=_("created at"))

    class Meta:
        verbose_name = _("charge")
        verbose_name_plural = _("charges")
        ordering = ["-id"]
        indexes = [models.Index(fields=["recognized_on", "seller"], name="charge_recognized_seller_idx")]
        constraints = [
            models.UniqueConstraint(fields=["key"], name="charge_key_unique"),
            models.UniqueConstraint(
                fields=["subscription", "period_start", "kind"],
                condition=Q(kind__in=["recurring", "usage", "setup"]),
                name="charge_once_per_subscription_period_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.period_start}–{self.period_end}: {self.amount}"
