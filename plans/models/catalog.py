"""The catalog, edited in the admin without code: products, plans with price versions, options,
bundles, usage metrics and charges, promotions and coupons, and the public showcase."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from billing.money import money_field
from plans.pricing.periods import Interval


class Product(models.Model):
    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Plan(models.Model):
    class ChargeTiming(models.TextChoices):
        IN_ADVANCE = "in_advance", "In advance (start of period)"
        IN_ARREARS = "in_arrears", "In arrears (end of period)"

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="plans")
    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    interval = models.CharField(
        max_length=10, choices=[(i.value, i.value.title()) for i in Interval], default=Interval.MONTH.value
    )
    interval_count = models.PositiveSmallIntegerField(default=1)
    charge_timing = models.CharField(max_length=12, choices=ChargeTiming.choices, default=ChargeTiming.IN_ADVANCE)
    trial_days = models.PositiveSmallIntegerField(default=0)
    grandfathered = models.BooleanField(
        default=False, help_text="Existing subscriptions keep the price they started with when the price changes."
    )
    is_active = models.BooleanField(default=True, help_text="Inactive plans accept no new subscriptions.")
    # showcase
    is_public = models.BooleanField(default=False, help_text="Shown in the portal's plan showcase.")
    display_order = models.PositiveIntegerField(default=0)
    showcase_description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["display_order", "name"]
        constraints = [models.CheckConstraint(condition=Q(interval_count__gte=1), name="plan_interval_count_positive")]

    def __str__(self) -> str:
        return f"{self.product.name} — {self.name}" if self.product_id else self.name


class PlanPrice(models.Model):
    """A price version. New versions apply to new subscriptions at once, to existing ones at renewal."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="prices")
    amount = money_field(help_text="Price per period per unit (seat).")
    setup_fee = money_field(null=True, blank=True)
    minimum_commitment = money_field(null=True, blank=True, help_text="Minimum billed per period (usage top-up).")
    valid_from = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan", "amount_currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "amount_currency", "valid_from"], name="plan_price_version_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="plan_price_non_negative"),
            models.CheckConstraint(
                condition=Q(setup_fee=None) | Q(setup_fee_currency=F("amount_currency")),
                name="plan_price_setup_fee_currency",
            ),
            models.CheckConstraint(
                condition=Q(minimum_commitment=None) | Q(minimum_commitment_currency=F("amount_currency")),
                name="plan_price_minimum_currency",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan.code}: {self.amount} from {self.valid_from:%Y-%m-%d}"

    @property
    def currency(self) -> str:
        return self.amount_currency


class Option(models.Model):
    class Kind(models.TextChoices):
        RECURRING = "recurring", "Recurring (every period)"
        ONE_TIME = "one_time", "One-time"

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="options")
    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.RECURRING)
    max_quantity = models.PositiveIntegerField(null=True, blank=True)
    plans = models.ManyToManyField(
        Plan,
        blank=True,
        related_name="options",
        help_text="Plans this option can be added to; empty: any plan of the product.",
    )
    is_public = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OptionPrice(models.Model):
    option = models.ForeignKey(Option, on_delete=models.PROTECT, related_name="prices")
    amount = money_field()
    valid_from = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["option", "amount_currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["option", "amount_currency", "valid_from"], name="option_price_version_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="option_price_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.option.code}: {self.amount}"


class Bundle(models.Model):
    """Several plans and options across products sold at one package price.

    A bundle is sold through its backing plan (`plan`, in the product "bundles"), which
    plans.services.bundles.bundle_publish creates and keeps in step with the bundle: its billing terms
    and its price versions (each BundlePrice mirrored into a PlanPrice). A subscription to the bundle is
    a subscription to that plan, quantity 1, billed the package price by the ordinary billing run.

    The items (plans and options) are included entitlements: they are what the package gives, not
    billed lines. None of them is put on the subscription (a subscription option always pays an option
    price version), so an option item is never charged on top of the package price."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # billing terms of the backing plan (the same choices as Plan's)
    interval = models.CharField(
        max_length=10, choices=[(i.value, i.value.title()) for i in Interval], default=Interval.MONTH.value
    )
    interval_count = models.PositiveSmallIntegerField(default=1)
    charge_timing = models.CharField(
        max_length=12, choices=Plan.ChargeTiming.choices, default=Plan.ChargeTiming.IN_ADVANCE
    )
    trial_days = models.PositiveSmallIntegerField(default=0)
    is_public = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True, help_text="Inactive bundles accept no new subscriptions.")
    plan = models.OneToOneField(
        Plan,
        null=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="bundle",
        help_text="The plan that sells this bundle (set when it is published).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(interval_count__gte=1), name="bundle_interval_count_positive")
        ]

    def __str__(self) -> str:
        return self.name


class BundleItem(models.Model):
    """What a bundle includes: a plan or an option (an entitlement, never billed on its own)."""

    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="items")
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT)
    option = models.ForeignKey(Option, null=True, blank=True, on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(plan__isnull=False) & Q(option=None)) | (Q(plan=None) & Q(option__isnull=False)),
                name="bundle_item_plan_xor_option",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.plan or self.option}"


class BundlePrice(models.Model):
    bundle = models.ForeignKey(Bundle, on_delete=models.PROTECT, related_name="prices")
    amount = money_field()
    valid_from = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["bundle", "amount_currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["bundle", "amount_currency", "valid_from"], name="bundle_price_version_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="bundle_price_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.bundle.code}: {self.amount}"


class UsageMetric(models.Model):
    class Aggregation(models.TextChoices):
        SUM = "sum", "Sum of quantities"
        MAX = "max", "Maximum quantity"
        COUNT = "count", "Number of events"
        UNIQUE_COUNT = "unique_count", "Number of distinct values"
        LAST = "last", "Last reported quantity"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=32, default="unit")
    aggregation = models.CharField(max_length=12, choices=Aggregation.choices, default=Aggregation.SUM)
    unique_property = models.CharField(
        max_length=64, blank=True, help_text="For unique count: the event property whose distinct values count."
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        if self.aggregation == self.Aggregation.UNIQUE_COUNT and not self.unique_property:
            raise ValidationError({"unique_property": "A unique count needs the property to count."})


def _tier_decimal(value, where: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, TypeError) as exc:
        raise ValidationError({"tiers": f"{where}: {value!r} is not a number."}) from exc
    if not number.is_finite() or number < 0:
        raise ValidationError({"tiers": f"{where}: must be a non-negative number."})
    return number


class UsageCharge(models.Model):
    """How a plan prices a usage metric in one currency, charged in arrears."""

    class Model(models.TextChoices):
        PER_UNIT = "per_unit", "Per unit"
        GRADUATED = "graduated", "Graduated tiers"
        VOLUME = "volume", "Volume tiers"
        PACKAGE = "package", "Packages of N units"

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="usage_charges")
    metric = models.ForeignKey(UsageMetric, on_delete=models.PROTECT, related_name="charges")
    model = models.CharField(max_length=10, choices=Model.choices, default=Model.PER_UNIT)
    unit_price = money_field(help_text="Per unit (per-unit model) — the currency of this charge.")
    package_size = models.DecimalField(max_digits=19, decimal_places=4, default=1)
    package_price = models.DecimalField(max_digits=19, decimal_places=4, default=0)
    included = models.DecimalField(max_digits=19, decimal_places=4, default=0, help_text="Free units per period.")
    tiers = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"up_to": "100", "unit_price": "1.00", "flat_fee": "0"}, {"up_to": null, "unit_price": "0.50"}]',
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["plan", "metric", "unit_price_currency"], name="usage_charge_unique"),
            models.CheckConstraint(condition=Q(package_size__gt=0), name="usage_charge_package_size_positive"),
            models.CheckConstraint(condition=Q(included__gte=0), name="usage_charge_included_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.plan.code}/{self.metric.code} ({self.model})"

    @property
    def currency(self) -> str:
        return self.unit_price_currency

    def pricing(self):
        """The pure-pricing description of this charge."""
        from plans.pricing.charges import Tier, UsageModel, UsagePrice

        tiers = tuple(
            Tier(
                None if t.get("up_to") in (None, "") else Decimal(str(t["up_to"])),
                Decimal(str(t["unit_price"])),
                Decimal(str(t.get("flat_fee") or 0)),
            )
            for t in self.tiers
        )
        return UsagePrice(
            UsageModel(self.model),
            unit_price=self.unit_price.amount,
            tiers=tiers,
            package_size=self.package_size,
            package_price=self.package_price,
            included=self.included,
        )

    def clean(self) -> None:
        if self.model in (self.Model.GRADUATED, self.Model.VOLUME):
            if not isinstance(self.tiers, list) or not self.tiers:
                raise ValidationError({"tiers": "Tiered pricing needs a list of tiers."})
            for index, tier in enumerate(self.tiers):
                if not isinstance(tier, dict) or "unit_price" not in tier:
                    raise ValidationError({"tiers": f"Tier {index + 1}: needs unit_price."})
                _tier_decimal(tier["unit_price"], f"Tier {index + 1} unit_price")
                if tier.get("up_to") not in (None, ""):
                    _tier_decimal(tier["up_to"], f"Tier {index + 1} up_to")
                if tier.get("flat_fee") not in (None, ""):
                    _tier_decimal(tier["flat_fee"], f"Tier {index + 1} flat_fee")
        try:
            self.pricing()
        except (ValueError, ArithmeticError) as exc:
            raise ValidationError({"tiers": str(exc)}) from exc


class Promotion(models.Model):
    class Duration(models.TextChoices):
        ONCE = "once", "First period only"
        REPEATING = "repeating", "For N periods"
        FOREVER = "forever", "Forever"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    amount = money_field(null=True, blank=True, help_text="Fixed discount per period.")
    duration = models.CharField(max_length=10, choices=Duration.choices, default=Duration.ONCE)
    duration_periods = models.PositiveSmallIntegerField(null=True, blank=True)
    products = models.ManyToManyField(Product, blank=True, help_text="Limit to these products (empty: all).")
    plans = models.ManyToManyField(Plan, blank=True, help_text="Limit to these plans (empty: all).")
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(percent__isnull=False) & Q(amount=None)) | (Q(percent=None) & Q(amount__isnull=False)),
                name="promotion_percent_xor_amount",
            ),
            models.CheckConstraint(
                condition=Q(percent=None) | (Q(percent__gt=0) & Q(percent__lte=100)), name="promotion_percent_range"
            ),
            models.CheckConstraint(condition=Q(amount=None) | Q(amount__gt=0), name="promotion_amount_positive"),
            models.CheckConstraint(
                condition=~Q(duration="repeating") | Q(duration_periods__gte=1),
                name="promotion_repeating_needs_periods",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Coupon(models.Model):
    promotion = models.ForeignKey(Promotion, on_delete=models.PROTECT, related_name="coupons")
    code = models.CharField(max_length=64, unique=True, help_text="Stored upper-case; matched case-insensitively.")
    expires_at = models.DateTimeField(null=True, blank=True)
    max_redemptions = models.PositiveIntegerField(null=True, blank=True)
    times_redeemed = models.PositiveIntegerField(default=0, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_redemptions=None) | Q(times_redeemed__lte=F("max_redemptions")),
                name="coupon_redemptions_within_limit",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def save(self, *args, **kwargs):
        self.code = self.code.strip().upper()
        super().save(*args, **kwargs)
