"""Subscriptions, their options, scheduled changes, plan segments of a period, usage events and the charge guard
rows."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from billing.money import money_field


class Subscription(models.Model):
    class Status(models.TextChoices):
        TRIALING = "trialing", "Trialing"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        SUSPENDED = "suspended", "Suspended (insufficient funds)"
        # created for a prepaid customer who could not cover the first charge (BillingPolicy.prepaid_new_subscription
        # = await_payment): not started, not billed, started by the top-up that covers its first charge
        INCOMPLETE = "incomplete", "Awaiting first payment"
        CANCELED = "canceled", "Canceled"
        EXPIRED = "expired", "Expired"

    LIVE = (Status.TRIALING, Status.ACTIVE, Status.PAUSED, Status.SUSPENDED)

    customer = models.ForeignKey(
        "billing.Customer", on_delete=models.PROTECT, related_name="subscriptions", db_index=False
    )  # indexed by (customer, status)
    plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="subscriptions")
    price = models.ForeignKey(
        "plans.PlanPrice",
        on_delete=models.PROTECT,
        related_name="subscriptions",
        help_text="The price version this subscription pays.",
    )
    currency = models.CharField(max_length=3)
    quantity = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    billing_anchor = models.DateField(help_text="Periods are counted from this day in the customer's time zone.")
    current_period_start = models.DateField()
    current_period_end = models.DateField(help_text="Exclusive.")
    trial_end = models.DateField(null=True, blank=True)
    next_billing_at = models.DateTimeField(
        null=True, blank=True, help_text="When the billing run next processes it (local midnight of the boundary)."
    )
    cancel_at_period_end = models.BooleanField(default=False)
    canceled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(max_length=255, null=True, blank=True)  # unique: see Meta
    creation_key = models.CharField(
        max_length=255,
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text="The key the subscription was created under: the same key again returns it (a double submit "
        "creates and charges once).",
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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
        return f"#{self.pk} {self.plan.code} × {self.quantity} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE


class SubscriptionOption(models.Model):
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="options")
    option = models.ForeignKey("plans.Option", on_delete=models.PROTECT)
    price = models.ForeignKey("plans.OptionPrice", on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField(default=1)
    added_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="discounts")
    promotion = models.ForeignKey("plans.Promotion", on_delete=models.PROTECT)
    coupon = models.ForeignKey("plans.Coupon", null=True, blank=True, on_delete=models.PROTECT)
    periods_remaining = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty: forever.")
    applies_from = models.DateField(
        null=True,
        blank=True,
        help_text="Applied during a period already charged: counts from the period starting on this day on (the "
        "paid period's credits and prorations are not discounted). Empty: from the period it was applied in.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscription", "promotion"], name="subscription_promotion_once"),
        ]

    def __str__(self) -> str:
        return f"{self.promotion.code} on #{self.subscription_id}"


class ScheduledChange(models.Model):
    class Kind(models.TextChoices):
        CHANGE_PLAN = "change_plan", "Change plan"
        CHANGE_QUANTITY = "change_quantity", "Change quantity"
        CANCEL = "cancel", "Cancel"

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="scheduled_changes")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    params = models.JSONField(default=dict, blank=True)
    effective_at = models.DateTimeField()
    applied_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
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

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="segments", db_index=False)
    period_start = models.DateField(help_text="The period the part belongs to.")
    plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="+")
    price = models.ForeignKey("plans.PlanPrice", on_delete=models.PROTECT, related_name="+")
    ends_at = models.DateTimeField(help_text="The instant of the change: events from it on are the next plan's.")
    ends_on = models.DateField(
        help_text="The customer's local day of the change: it counts on the next plan (minimums prorate by days)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
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

    event_id = models.CharField(max_length=255)  # unique: see Meta (no LIKE index on the ingestion path)
    customer = models.ForeignKey(
        "billing.Customer", on_delete=models.PROTECT, related_name="usage_events", db_index=False, db_constraint=False
    )  # see the docstring
    metric = models.ForeignKey(
        "plans.UsageMetric", on_delete=models.PROTECT, related_name="events", db_index=False
    )  # indexed by (metric, customer, timestamp)
    quantity = models.DecimalField(max_digits=19, decimal_places=6)
    timestamp = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        # One index serves billing (customer = and metric = and a timestamp range: either order works), the
        # metric's PROTECT and foreign-key lookups by metric alone, and the admin's filter by metric. Lookups by
        # customer alone (only a customer deletion would make them, and customers are never deleted) scan.
        indexes = [models.Index(fields=["metric", "customer", "timestamp"], name="usage_event_metric_cust_ts")]
        constraints = [models.UniqueConstraint(fields=["event_id"], name="usage_event_id_unique")]

    def __str__(self) -> str:
        return f"{self.metric_id} {self.quantity} @ {self.timestamp:%Y-%m-%d %H:%M}"


class Charge(models.Model):
    """One charge per (subscription, period, kind): the row that makes billing crash-safe."""

    class Kind(models.TextChoices):
        RECURRING = "recurring", "Recurring fee"
        USAGE = "usage", "Usage"
        SETUP = "setup", "Setup fee"
        PRORATION = "proration", "Plan change proration"
        CANCEL_CREDIT = "cancel_credit", "Unused period credit"
        ONE_TIME = "one_time", "One-time option"

    PER_PERIOD = (Kind.RECURRING, Kind.USAGE, Kind.SETUP)

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="charges")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    amount = money_field()
    transaction = models.ForeignKey("billing.Transaction", null=True, blank=True, on_delete=models.PROTECT)
    key = models.CharField(max_length=255, help_text="Also the ledger transaction's idempotency key.")  # unique: Meta
    lines = models.JSONField(default=list)
    created_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        ordering = ["-id"]
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
