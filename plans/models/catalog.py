"""The catalog, edited in the admin without code: products, plans with price versions, options,
bundles, usage metrics and charges, promotions and coupons, and the public showcase."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing.models.sellers import VAT_RATE_CHOICES
from billing.money import money_field
from plans.pricing.periods import Interval


class Product(models.Model):
    code = models.SlugField(max_length=64, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    seller = models.ForeignKey(
        "billing.Seller",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="products",
        help_text=_("Who sells it to customers that name no seller of their own; empty: the default seller."),
        verbose_name=_("seller"),
    )
    vat_rate = models.CharField(
        max_length=10,
        choices=VAT_RATE_CHOICES,
        blank=True,
        help_text=_("Overrides the seller's rate for this product (10%, 0%, without VAT); empty: the seller's."),
        verbose_name=_("VAT rate"),
    )
    okei_code = models.CharField(
        max_length=4,
        default="362",
        help_text=_("Unit code per OKEI: 362 month, 796 piece."),
        verbose_name=_("OKEI code"),
    )
    unit_name = models.CharField(max_length=16, default="мес", verbose_name=_("unit name"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Plan(models.Model):
    class ChargeTiming(models.TextChoices):
        IN_ADVANCE = "in_advance", _("In advance (start of period)")
        IN_ARREARS = "in_arrears", _("In arrears (end of period)")

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="plans", verbose_name=_("product"))
    code = models.SlugField(max_length=64, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    interval = models.CharField(
        max_length=10,
        choices=[(i.value, i.value.title()) for i in Interval],
        default=Interval.MONTH.value,
        verbose_name=_("interval"),
    )
    interval_count = models.PositiveSmallIntegerField(default=1, verbose_name=_("interval count"))
    charge_timing = models.CharField(
        max_length=12, choices=ChargeTiming.choices, default=ChargeTiming.IN_ADVANCE, verbose_name=_("charge timing")
    )
    trial_days = models.PositiveSmallIntegerField(default=0, verbose_name=_("trial days"))
    grandfathered = models.BooleanField(
        default=False,
        help_text=_("Existing subscriptions keep the price they started with when the price changes."),
        verbose_name=_("grandfathered"),
    )
    is_active = models.BooleanField(
        default=True, help_text=_("Inactive plans accept no new subscriptions."), verbose_name=_("is active")
    )
    # showcase
    is_public = models.BooleanField(
        default=False, help_text=_("Shown in the portal's plan showcase."), verbose_name=_("is public")
    )
    display_order = models.PositiveIntegerField(default=0, verbose_name=_("display order"))
    showcase_description = models.TextField(blank=True, verbose_name=_("showcase description"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["display_order", "name"]
        constraints = [models.CheckConstraint(condition=Q(interval_count__gte=1), name="plan_interval_count_positive")]

    def __str__(self) -> str:
        return f"{self.product.name} — {self.name}" if self.product_id else self.name


class PlanPrice(models.Model):
    """A price version. New versions apply to new subscriptions at once, to existing ones at renewal."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="prices", verbose_name=_("plan"))
    amount = money_field(help_text=_("Price per period per unit (seat)."), verbose_name=_("amount"))
    setup_fee = money_field(null=True, blank=True, verbose_name=_("setup fee"))
    minimum_commitment = money_field(
        null=True,
        blank=True,
        help_text=_("Minimum billed per period (usage top-up)."),
        verbose_name=_("minimum commitment"),
    )
    valid_from = models.DateTimeField(default=timezone.now, verbose_name=_("valid from"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    vat_included = models.BooleanField(
        default=True,
        help_text=_("The price includes VAT (the Russian norm); off: VAT is added on top."),
        verbose_name=_("VAT included"),
    )

    class Meta:
        verbose_name = _("plan price")
        verbose_name_plural = _("plan prices")
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
        RECURRING = "recurring", _("Recurring (every period)")
        ONE_TIME = "one_time", _("One-time")

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="options", verbose_name=_("product"))
    code = models.SlugField(max_length=64, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.RECURRING, verbose_name=_("kind"))
    max_quantity = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("max quantity"))
    plans = models.ManyToManyField(
        Plan,
        blank=True,
        related_name="options",
        help_text=_("Plans this option can be added to; empty: any plan of the product."),
        verbose_name=_("plans"),
    )
    is_public = models.BooleanField(default=True, verbose_name=_("is public"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("option")
        verbose_name_plural = _("options")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OptionPrice(models.Model):
    option = models.ForeignKey(Option, on_delete=models.PROTECT, related_name="prices", verbose_name=_("option"))
    amount = money_field(verbose_name=_("amount"))
    valid_from = models.DateTimeField(default=timezone.now, verbose_name=_("valid from"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    vat_included = models.BooleanField(
        default=True,
        help_text=_("The price includes VAT (the Russian norm); off: VAT is added on top."),
        verbose_name=_("VAT included"),
    )

    class Meta:
        verbose_name = _("option price")
        verbose_name_plural = _("option prices")
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

    code = models.SlugField(max_length=64, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    # billing terms of the backing plan (the same choices as Plan's)
    interval = models.CharField(
        max_length=10,
        choices=[(i.value, i.value.title()) for i in Interval],
        default=Interval.MONTH.value,
        verbose_name=_("interval"),
    )
    interval_count = models.PositiveSmallIntegerField(default=1, verbose_name=_("interval count"))
    charge_timing = models.CharField(
        max_length=12,
        choices=Plan.ChargeTiming.choices,
        default=Plan.ChargeTiming.IN_ADVANCE,
        verbose_name=_("charge timing"),
    )
    trial_days = models.PositiveSmallIntegerField(default=0, verbose_name=_("trial days"))
    is_public = models.BooleanField(default=False, verbose_name=_("is public"))
    is_active = models.BooleanField(
        default=True, help_text=_("Inactive bundles accept no new subscriptions."), verbose_name=_("is active")
    )
    plan = models.OneToOneField(
        Plan,
        null=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="bundle",
        help_text=_("The plan that sells this bundle (set when it is published)."),
        verbose_name=_("plan"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("bundle")
        verbose_name_plural = _("bundles")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(interval_count__gte=1), name="bundle_interval_count_positive")
        ]

    def __str__(self) -> str:
        return self.name


class BundleItem(models.Model):
    """What a bundle includes: a plan or an option (an entitlement, never billed on its own)."""

    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="items", verbose_name=_("bundle"))
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("plan"))
    option = models.ForeignKey(Option, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("option"))
    quantity = models.PositiveIntegerField(default=1, verbose_name=_("quantity"))

    class Meta:
        verbose_name = _("bundle item")
        verbose_name_plural = _("bundle items")
        constraints = [
            models.CheckConstraint(
                condition=(Q(plan__isnull=False) & Q(option=None)) | (Q(plan=None) & Q(option__isnull=False)),
                name="bundle_item_plan_xor_option",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.plan or self.option}"


class BundlePrice(models.Model):
    bundle = models.ForeignKey(Bundle, on_delete=models.PROTECT, related_name="prices", verbose_name=_("bundle"))
    amount = money_field(verbose_name=_("amount"))
    valid_from = models.DateTimeField(default=timezone.now, verbose_name=_("valid from"))

    vat_included = models.BooleanField(
        default=True,
        help_text=_("The price includes VAT (the Russian norm); off: VAT is added on top."),
        verbose_name=_("VAT included"),
    )

    class Meta:
        verbose_name = _("bundle price")
        verbose_name_plural = _("bundle prices")
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
        SUM = "sum", _("Sum of quantities")
        MAX = "max", _("Maximum quantity")
        COUNT = "count", _("Number of events")
        UNIQUE_COUNT = "unique_count", _("Number of distinct values")
        LAST = "last", _("Last reported quantity")

    code = models.SlugField(max_length=64, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    unit = models.CharField(max_length=32, default="unit", verbose_name=_("unit"))
    aggregation = models.CharField(
        max_length=12, choices=Aggregation.choices, default=Aggregation.SUM, verbose_name=_("aggregation")
    )
    unique_property = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("For unique count: the event property whose distinct values count."),
        verbose_name=_("unique property"),
    )

    class Meta:
        verbose_name = _("usage metric")
        verbose_name_plural = _("usage metrics")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        if self.aggregation == self.Aggregation.UNIQUE_COUNT and not self.unique_property:
            raise ValidationError({"unique_property": _("A unique count needs the property to count.")})


def _tier_decimal(value, *, tier: int, key: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, TypeError) as exc:
        raise ValidationError(
            {
                "tiers": gettext("Tier %(tier)s %(key)s: %(value)r is not a number.")
                % {"tier": tier, "key": key, "value": value}
            }
        ) from exc
    if not number.is_finite() or number < 0:
        raise ValidationError(
            {"tiers": gettext("Tier %(tier)s %(key)s: must be a non-negative number.") % {"tier": tier, "key": key}}
        )
    return number


# The pure pricing module (no Django) refuses a bad usage price in English; the admin shows these in its language.
_PRICING_ERRORS = {
    "tiered pricing needs tiers": _("Tiered pricing needs a list of tiers."),
    "tiers must be in increasing order with only the last unbounded": _(
        "Tiers must go up in order, and only the last one may be unbounded."
    ),
    "package size must be positive": _("The package size must be positive."),
    "included quota must not be negative": _("The included quota must not be negative."),
}


class UsageCharge(models.Model):
    """How a plan prices a usage metric in one currency, charged in arrears."""

    class Model(models.TextChoices):
        PER_UNIT = "per_unit", _("Per unit")
        GRADUATED = "graduated", _("Graduated tiers")
        VOLUME = "volume", _("Volume tiers")
        PACKAGE = "package", _("Packages of N units")

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="usage_charges", verbose_name=_("plan"))
    metric = models.ForeignKey(UsageMetric, on_delete=models.PROTECT, related_name="charges", verbose_name=_("metric"))
    model = models.CharField(max_length=10, choices=Model.choices, default=Model.PER_UNIT, verbose_name=_("model"))
    unit_price = money_field(
        help_text=_("Per unit (per-unit model) — the currency of this charge."), verbose_name=_("unit price")
    )
    package_size = models.DecimalField(max_digits=19, decimal_places=4, default=1, verbose_name=_("package size"))
    package_price = models.DecimalField(max_digits=19, decimal_places=4, default=0, verbose_name=_("package price"))
    included = models.DecimalField(
        max_digits=19, decimal_places=4, default=0, help_text=_("Free units per period."), verbose_name=_("included")
    )
    tiers = models.JSONField(
        default=list,
        blank=True,
        help_text=_('[{"up_to": "100", "unit_price": "1.00", "flat_fee": "0"}, {"up_to": null, "unit_price": "0.50"}]'),
        verbose_name=_("tiers"),
    )

    class Meta:
        verbose_name = _("usage charge")
        verbose_name_plural = _("usage charges")
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
                raise ValidationError({"tiers": _("Tiered pricing needs a list of tiers.")})
            for index, tier in enumerate(self.tiers):
                if not isinstance(tier, dict) or "unit_price" not in tier:
                    raise ValidationError({"tiers": gettext("Tier %(tier)s: needs unit_price.") % {"tier": index + 1}})
                _tier_decimal(tier["unit_price"], tier=index + 1, key="unit_price")
                if tier.get("up_to") not in (None, ""):
                    _tier_decimal(tier["up_to"], tier=index + 1, key="up_to")
                if tier.get("flat_fee") not in (None, ""):
                    _tier_decimal(tier["flat_fee"], tier=index + 1, key="flat_fee")
        try:
            self.pricing()
        except (ValueError, ArithmeticError) as exc:
            raise ValidationError({"tiers": _PRICING_ERRORS.get(str(exc), str(exc))}) from exc


class Promotion(models.Model):
    class Duration(models.TextChoices):
        ONCE = "once", _("First period only")
        REPEATING = "repeating", _("For N periods")
        FOREVER = "forever", _("Forever")

    code = models.SlugField(max_length=64, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True, verbose_name=_("percent"))
    amount = money_field(null=True, blank=True, help_text=_("Fixed discount per period."), verbose_name=_("amount"))
    duration = models.CharField(
        max_length=10, choices=Duration.choices, default=Duration.ONCE, verbose_name=_("duration")
    )
    duration_periods = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("duration periods"))
    products = models.ManyToManyField(
        Product, blank=True, help_text=_("Limit to these products (empty: all)."), verbose_name=_("products")
    )
    plans = models.ManyToManyField(
        Plan, blank=True, help_text=_("Limit to these plans (empty: all)."), verbose_name=_("plans")
    )
    valid_from = models.DateTimeField(null=True, blank=True, verbose_name=_("valid from"))
    valid_until = models.DateTimeField(null=True, blank=True, verbose_name=_("valid until"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("promotion")
        verbose_name_plural = _("promotions")
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
    promotion = models.ForeignKey(
        Promotion, on_delete=models.PROTECT, related_name="coupons", verbose_name=_("promotion")
    )
    code = models.CharField(
        max_length=64,
        unique=True,
        help_text=_("Stored upper-case; matched case-insensitively."),
        verbose_name=_("code"),
    )
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))
    max_redemptions = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("max redemptions"))
    times_redeemed = models.PositiveIntegerField(default=0, editable=False, verbose_name=_("times redeemed"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
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
