"""REST API v1 of the plans app: the catalog (read), subscriptions and their lifecycle, usage events
and the upcoming-charge estimate. One view per operation; validate → service → serialize.

Conventions are billing.api's: the caller is an ApiCaller (a key restricted to one customer sees only
that customer, another customer's id answers 404), every POST is idempotent by its `Idempotency-Key`
header, input serializers refuse unknown fields, errors are problem+json.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from decimal import Decimal

from django.db import IntegrityError
from django.utils import timezone
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors as billing_selectors
from billing.api.apis import EmptyInputSerializer
from billing.api.fields import CurrencyField, MoneyAmountField, StrictInputSerializer, amount_str
from billing.api.idempotency import idempotent, ledger_key
from billing.api.schema import filter_parameters, responses
from config.api import CursorPagination
from config.errors import ApplicationError
from plans import selectors
from plans.filters import PlanFilter, SubscriptionFilter
from plans.models import Charge, Plan, Subscription, UsageCharge, UsageMetric
from plans.pricing.charges import ChargeLine
from plans.pricing.periods import Interval
from plans.services.estimates import upcoming_charges_estimate
from plans.services.subscriptions import (
    MAX_QUANTITY,
    subscription_cancel,
    subscription_change_plan,
    subscription_change_preview,
    subscription_create,
    subscription_option_add,
    subscription_option_remove,
    subscription_pause,
    subscription_resume,
)
from plans.services.usage import MAX_BATCH, parse_usage_events, usage_record_batch

# --- shared fields --------------------------------------------------------------------------------


def decimal_str(value) -> str:
    """A quantity as a plain decimal string without trailing zeros ("1000", "0.5")."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return format(value.quantize(Decimal(1)), "f")
    return format(value.normalize(), "f")


@extend_schema_field({"type": "string", "format": "decimal", "example": "1000"})
class DecimalStringField(serializers.Field):
    """Read-only: a Decimal quantity as a string."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value) -> str:
        return decimal_str(value)


class PeriodOutputSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField(help_text="Exclusive: the first day of the next period.")


# --- catalog output -------------------------------------------------------------------------------


class PlanPriceOutputSerializer(serializers.Serializer):
    currency = serializers.CharField(source="amount_currency")
    amount = MoneyAmountField(help_text="Per period per unit (seat).")
    setup_fee = MoneyAmountField(allow_null=True, help_text="Charged once when the first paid period starts.")
    minimum_commitment = MoneyAmountField(allow_null=True, help_text="Minimum billed per period (usage top-up).")
    valid_from = serializers.DateTimeField()


class OptionPriceOutputSerializer(serializers.Serializer):
    currency = serializers.CharField(source="amount_currency")
    amount = MoneyAmountField(help_text="Per unit; per period for a recurring option.")
    valid_from = serializers.DateTimeField()


class OptionOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.CharField(help_text="recurring (every period) or one_time.")
    max_quantity = serializers.IntegerField(allow_null=True)
    is_public = serializers.BooleanField()
    prices = OptionPriceOutputSerializer(source="current_prices", many=True, help_text="Current price per currency.")


class UsageMetricOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    unit = serializers.CharField()
    aggregation = serializers.ChoiceField(choices=UsageMetric.Aggregation.choices)


class UsageTierOutputSerializer(serializers.Serializer):
    up_to = serializers.CharField(allow_null=True, help_text="Inclusive upper bound of billable units; null: no bound.")
    unit_price = serializers.CharField()
    flat_fee = serializers.CharField()


class UsageChargeOutputSerializer(serializers.Serializer):
    metric = UsageMetricOutputSerializer()
    model = serializers.ChoiceField(choices=UsageCharge.Model.choices)
    currency = serializers.CharField(source="unit_price_currency")
    unit_price = MoneyAmountField(help_text="Per unit (per_unit model).")
    package_size = DecimalStringField(help_text="Units per package (package model).")
    package_price = serializers.SerializerMethodField(help_text="Price of one package (package model).")
    included = DecimalStringField(help_text="Free units per period.")
    tiers = serializers.SerializerMethodField(help_text="Graduated or volume tiers, in increasing order.")

    @extend_schema_field({"type": "string", "format": "decimal", "example": "100.00"})
    def get_package_price(self, charge: UsageCharge) -> str:
        return amount_str(charge.package_price, charge.currency)

    @extend_schema_field(UsageTierOutputSerializer(many=True))
    def get_tiers(self, charge: UsageCharge) -> list[dict]:
        return [
            {
                "up_to": None if tier.get("up_to") in (None, "") else decimal_str(tier["up_to"]),
                "unit_price": amount_str(Decimal(str(tier["unit_price"])), charge.currency),
                "flat_fee": amount_str(Decimal(str(tier.get("flat_fee") or 0)), charge.currency),
            }
            for tier in charge.tiers
        ]


class ProductRefOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class PlanOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    product = ProductRefOutputSerializer()
    interval = serializers.ChoiceField(choices=[(i.value, i.value) for i in Interval])
    interval_count = serializers.IntegerField(help_text="Periods of `interval` per billing period.")
    charge_timing = serializers.ChoiceField(choices=Plan.ChargeTiming.choices)
    trial_days = serializers.IntegerField()
    grandfathered = serializers.BooleanField(help_text="Existing subscriptions keep their price when it changes.")
    is_public = serializers.BooleanField(help_text="Shown in the public showcase.")
    display_order = serializers.IntegerField()
    showcase_description = serializers.CharField()
    prices = PlanPriceOutputSerializer(source="current_prices", many=True, help_text="Current price per currency.")
    options = OptionOutputSerializer(
        source="available_options", many=True, help_text="Active options that can be added to this plan."
    )
    usage_charges = UsageChargeOutputSerializer(
        source="usage_charge_list", many=True, help_text="Usage billed in arrears, per metric and currency."
    )


class BundleItemOutputSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="plan or option.")
    code = serializers.CharField(help_text="The plan or option code.")
    name = serializers.CharField()
    product = ProductRefOutputSerializer()
    quantity = serializers.IntegerField()


class BundlePriceOutputSerializer(serializers.Serializer):
    currency = serializers.CharField(source="amount_currency")
    amount = MoneyAmountField(help_text="The package price per period.")
    valid_from = serializers.DateTimeField()


class BundleOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    plan = serializers.CharField(
        source="plan.code", help_text="The plan that bills the bundle: a subscription to the bundle is on this plan."
    )
    interval = serializers.ChoiceField(choices=[(i.value, i.value) for i in Interval])
    interval_count = serializers.IntegerField(help_text="Periods of `interval` per billing period.")
    charge_timing = serializers.ChoiceField(choices=Plan.ChargeTiming.choices)
    trial_days = serializers.IntegerField()
    is_public = serializers.BooleanField(help_text="Shown in the public showcase.")
    items = serializers.SerializerMethodField(
        help_text="What the package includes. Items are not billed on their own: the package price covers them."
    )
    prices = BundlePriceOutputSerializer(
        source="current_prices", many=True, help_text="Current package price per currency."
    )

    @extend_schema_field(BundleItemOutputSerializer(many=True))
    def get_items(self, bundle) -> list[dict]:
        out = []
        for item in bundle.item_list:
            ref, kind = (item.plan, "plan") if item.plan_id else (item.option, "option")
            out.append(
                {"kind": kind, "code": ref.code, "name": ref.name, "product": ref.product, "quantity": item.quantity}
            )
        return BundleItemOutputSerializer(out, many=True).data


class ProductOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    plans = serializers.SerializerMethodField(help_text="Codes of its active plans, in showcase order.")
    created_at = serializers.DateTimeField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_plans(self, product) -> list[str]:
        return [plan.code for plan in product.active_plans]


# --- subscription output --------------------------------------------------------------------------


class SubscriptionOptionOutputSerializer(serializers.Serializer):
    code = serializers.CharField(source="option.code")
    name = serializers.CharField(source="option.name")
    kind = serializers.CharField(source="option.kind", help_text="recurring (every period) or one_time.")
    quantity = serializers.IntegerField()
    unit_price = MoneyAmountField(source="price.amount")
    added_at = serializers.DateTimeField()


class SubscriptionDiscountOutputSerializer(serializers.Serializer):
    promotion = serializers.CharField(source="promotion.code")
    name = serializers.CharField(source="promotion.name")
    coupon = serializers.CharField(source="coupon.code", allow_null=True)
    percent = serializers.DecimalField(source="promotion.percent", max_digits=5, decimal_places=2, allow_null=True)
    amount = MoneyAmountField(source="promotion.amount", allow_null=True, help_text="Fixed discount per period.")
    duration = serializers.CharField(source="promotion.duration")
    periods_remaining = serializers.IntegerField(allow_null=True, help_text="null: forever.")


class ScheduledChangeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    plan = serializers.CharField(source="plan_code", allow_null=True)
    quantity = serializers.SerializerMethodField()
    effective_at = serializers.DateTimeField()

    def get_quantity(self, change) -> int | None:
        return change.params.get("quantity")


class SubscriptionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    customer_id = serializers.IntegerField()
    plan = serializers.CharField(source="plan.code")
    product = serializers.CharField(source="plan.product.code")
    bundle = serializers.CharField(
        source="plan.bundle.code", allow_null=True, help_text="The bundle the plan sells; null: a plain plan."
    )
    status = serializers.ChoiceField(choices=Subscription.Status.choices)
    currency = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = MoneyAmountField(source="price.amount", help_text="The plan price version it pays, per unit.")
    billing_anchor = serializers.DateField()
    current_period = serializers.SerializerMethodField()
    trial_end = serializers.DateField(allow_null=True)
    next_billing_at = serializers.DateTimeField(allow_null=True)
    cancel_at_period_end = serializers.BooleanField()
    canceled_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    paused_at = serializers.DateTimeField(allow_null=True)
    suspended_at = serializers.DateTimeField(allow_null=True)
    external_id = serializers.CharField(allow_null=True)
    options = SubscriptionOptionOutputSerializer(source="active_options", many=True)
    discounts = SubscriptionDiscountOutputSerializer(source="discount_list", many=True)
    scheduled_changes = ScheduledChangeOutputSerializer(source="pending_changes", many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(PeriodOutputSerializer)
    def get_current_period(self, sub: Subscription) -> dict:
        return {"start": sub.current_period_start, "end": sub.current_period_end}


class ChargeLineOutputSerializer(serializers.Serializer):
    kind = serializers.CharField(
        help_text="plan, option, usage, setup_fee, discount, minimum_commitment, proration_credit, proration_charge."
    )
    description = serializers.CharField()
    amount = serializers.CharField(help_text="Signed: negative for credits and discounts.")
    currency = serializers.CharField()
    quantity = serializers.CharField()
    ref = serializers.CharField(help_text="The plan, option or promotion code the line is about.")


class ChargeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="recurring, usage, setup, proration, cancel_credit or one_time.")
    amount = serializers.CharField(help_text="Total of the lines: positive is debited from the balance.")
    currency = serializers.CharField()
    period = PeriodOutputSerializer()
    transaction_id = serializers.IntegerField(allow_null=True, help_text="The ledger transaction (null when zero).")
    lines = ChargeLineOutputSerializer(many=True)


class SubscriptionActionOutputSerializer(serializers.Serializer):
    subscription = SubscriptionOutputSerializer()
    charge = ChargeOutputSerializer(allow_null=True, help_text="What was posted to the ledger; null: nothing.")


class ChangePreviewOutputSerializer(serializers.Serializer):
    preview = serializers.BooleanField(help_text="Always true: nothing was written.")
    lines = ChargeLineOutputSerializer(many=True)
    total = serializers.CharField()
    currency = serializers.CharField()
    period = PeriodOutputSerializer()
    change_day = serializers.DateField(help_text="The customer's local day of the change (it counts on the new plan).")


class ChangeOutputSerializer(SubscriptionActionOutputSerializer):
    preview = serializers.BooleanField(help_text="Always false: the change was made.")


class UpcomingChargeLineOutputSerializer(ChargeLineOutputSerializer):
    period = PeriodOutputSerializer(allow_null=True)


class UpcomingChargeOutputSerializer(serializers.Serializer):
    subscription_id = serializers.IntegerField()
    charge_at = serializers.DateTimeField(help_text="When the next billing run charges it.")
    period = PeriodOutputSerializer(help_text="The current period.")
    lines = UpcomingChargeLineOutputSerializer(many=True)
    total = serializers.CharField()
    currency = serializers.CharField()


class CurrencyTotalOutputSerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.CharField()


class UpcomingChargesOutputSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    estimated_at = serializers.DateTimeField()
    charges = UpcomingChargeOutputSerializer(many=True, help_text="One per active or trialing subscription.")
    totals = CurrencyTotalOutputSerializer(many=True, help_text="Sum of the charges per currency.")


class UsageBatchOutputSerializer(serializers.Serializer):
    received = serializers.IntegerField(help_text="Events in the request.")
    recorded = serializers.IntegerField(help_text="Events recorded now.")
    duplicates = serializers.IntegerField(help_text="Events whose event_id was recorded before (not counted again).")


# --- input ----------------------------------------------------------------------------------------


class SubscriptionOptionInputSerializer(StrictInputSerializer):
    code = serializers.SlugField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, default=1)


class SubscriptionCreateInputSerializer(StrictInputSerializer):
    customer_id = serializers.IntegerField(min_value=1)
    plan = serializers.SlugField(max_length=64, required=False, help_text="Plan code (or send `bundle`).")
    bundle = serializers.SlugField(
        max_length=64,
        required=False,
        help_text="Bundle code (instead of `plan`): one bundle, billed its package price.",
    )
    quantity = serializers.IntegerField(
        min_value=1, max_value=MAX_QUANTITY, default=1, help_text="Seats (a bundle: 1)."
    )
    currency = CurrencyField(required=False, help_text="Defaults to (and must equal) the customer's currency.")
    coupon = serializers.CharField(max_length=64, required=False, help_text="Coupon code (case-insensitive).")
    options = SubscriptionOptionInputSerializer(many=True, required=False, max_length=50)
    trial_days = serializers.IntegerField(
        min_value=0, max_value=3650, required=False, help_text="Overrides the plan's trial days; 0: no trial."
    )
    external_id = serializers.CharField(
        max_length=255, required=False, allow_null=True, help_text="Your own id for this subscription (unique)."
    )

    def validate(self, attrs):
        if "plan" not in attrs and "bundle" not in attrs:
            raise serializers.ValidationError(
                {"plan": [serializers.ErrorDetail("Send the plan or the bundle to subscribe to.", code="required")]}
            )
        if "plan" in attrs and "bundle" in attrs:
            raise serializers.ValidationError(
                {"bundle": [serializers.ErrorDetail("Send a plan or a bundle, not both.", code="invalid")]}
            )
        return attrs


class SubscriptionChangeInputSerializer(StrictInputSerializer):
    plan = serializers.SlugField(max_length=64, required=False, help_text="The new plan; default: the same.")
    quantity = serializers.IntegerField(
        min_value=1, max_value=MAX_QUANTITY, required=False, help_text="The new quantity; default: the same."
    )
    when = serializers.ChoiceField(
        choices=[("now", "now"), ("period_end", "period_end")],
        default="now",
        help_text="now: prorated by days today; period_end: at the next renewal.",
    )
    preview = serializers.BooleanField(
        default=False, help_text="true: return what a change now would post, writing nothing."
    )

    def validate(self, attrs):
        if "plan" not in attrs and "quantity" not in attrs:
            raise serializers.ValidationError(
                {"plan": [serializers.ErrorDetail("Send a new plan, a new quantity or both.", code="required")]}
            )
        if attrs["preview"] and attrs["when"] != "now":
            raise serializers.ValidationError(
                {
                    "preview": [
                        serializers.ErrorDetail(
                            "A preview shows a change now; a change at period end posts nothing until the renewal.",
                            code="invalid",
                        )
                    ]
                }
            )
        return attrs


class SubscriptionCancelInputSerializer(StrictInputSerializer):
    at_period_end = serializers.BooleanField(
        default=False, help_text="false: now, the unused part is credited back; true: at the end of the period."
    )


class SubscriptionOptionAddInputSerializer(SubscriptionOptionInputSerializer):
    pass


class UsageEventInputSerializer(serializers.Serializer):
    """Documentation of one event; the batch is validated by plans.services.usage.parse_usage_events."""

    event_id = serializers.CharField(
        max_length=255, help_text="Your unique id of this event: a re-sent event is a duplicate, never counted twice."
    )
    customer_id = serializers.IntegerField()
    metric = serializers.SlugField(help_text="Usage metric code.")
    quantity = serializers.CharField(
        required=False, help_text="Non-negative, at most 6 decimals; a decimal string or a JSON number. Default 1."
    )
    timestamp = serializers.DateTimeField(help_text="ISO 8601 with a time zone.")
    properties = serializers.DictField(required=False, help_text="Free-form (e.g. the value a unique count counts).")


@extend_schema_field(UsageEventInputSerializer(many=True))
class UsageEventListField(serializers.Field):
    """The list of events, checked only for its shape and size here: the items are validated in bulk by
    parse_usage_events (no per-item serializer on this hot path)."""

    default_error_messages = {
        "not_a_list": "Expected a list of events.",
        "empty": "Send at least one event.",
        "too_many": "At most {max} events per request.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list")
        if not data:
            self.fail("empty")
        if len(data) > MAX_BATCH:
            self.fail("too_many", max=MAX_BATCH)
        return data

    def to_representation(self, value):
        return value


class UsageBatchInputSerializer(StrictInputSerializer):
    """`{"events": [...]}`: 1 to 1,000 events; any other top-level field is refused."""

    events = UsageEventListField(help_text=f"1 to {MAX_BATCH} events.")


class DecimalJSONParser(JSONParser):
    """JSON with numbers that have a fraction read as Decimal: a quantity of 0.1 is exactly 0.1, never a float."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return json.loads(
                stream.read() if stream is not None else b"", parse_float=Decimal, parse_constant=_refuse_constant
            )
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a valid JSON value")


# --- helpers --------------------------------------------------------------------------------------


def _scope(request) -> int | None:
    return request.user.customer_id


def _paginated(view, request, queryset, serializer_class, prepare=None) -> Response:
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    if prepare is not None:
        page = prepare(page)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


def _line_out(line: ChargeLine | dict, *, with_period: bool = False) -> dict:
    """A priced line (plans.pricing.charges.ChargeLine) or a stored one (Charge.lines) in one shape."""
    get = line.get if isinstance(line, dict) else lambda name: getattr(line, name)
    out = {
        "kind": str(get("kind")),
        "description": get("description"),
        "amount": amount_str(Decimal(get("amount")), get("currency")),
        "currency": get("currency"),
        "quantity": decimal_str(get("quantity")),
        "ref": get("ref"),
    }
    if with_period:
        period = get("period")
        out["period"] = {"start": period.start, "end": period.end} if period is not None else None
    return out


def _charge_out(charge: Charge | None) -> dict | None:
    if charge is None:
        return None
    currency = charge.amount.currency.code
    return {
        "id": charge.pk,
        "kind": charge.kind,
        "amount": amount_str(charge.amount.amount, currency),
        "currency": currency,
        "period": {"start": charge.period_start, "end": charge.period_end},
        "transaction_id": charge.transaction_id,
        "lines": [_line_out(x) for x in charge.lines],
    }


def _subscription_out(request, subscription_id: int) -> dict:
    sub = selectors.subscription_get(subscription_id=subscription_id, customer_scope=_scope(request))
    return SubscriptionOutputSerializer(sub).data


def _action_out(request, subscription_id: int, charge: Charge | None, **extra) -> dict:
    sub = selectors.subscription_get(subscription_id=subscription_id, customer_scope=_scope(request))
    return {"subscription": sub, "charge": _charge_out(charge), **extra}


@contextmanager
def _renamed_fields(mapping: dict[str, str]):
    """Point a service error's field at this endpoint's input (the option services name `options…`)."""
    try:
        yield
    except ApplicationError as exc:
        exc.field = mapping.get(exc.field, exc.field)
        raise


class ProductPagination(CursorPagination):
    ordering = "code"


class PlanPagination(CursorPagination):
    ordering = ("display_order", "name", "code")


class BundlePagination(CursorPagination):
    ordering = ("name", "code")


# --- catalog --------------------------------------------------------------------------------------


class ProductListApi(APIView):
    pagination_class = ProductPagination

    @extend_schema(
        operation_id="products_list",
        summary="List active products",
        responses=responses({200: ProductOutputSerializer(many=True)}, 400),
    )
    def get(self, request):
        return _paginated(self, request, selectors.product_list(), ProductOutputSerializer)


class ProductDetailApi(APIView):
    @extend_schema(
        operation_id="products_retrieve",
        summary="Get an active product",
        responses=responses({200: ProductOutputSerializer}, 404),
    )
    def get(self, request, code: str):
        return Response(ProductOutputSerializer(selectors.product_get(code=code)).data)


class PlanListApi(APIView):
    pagination_class = PlanPagination

    @extend_schema(
        operation_id="plans_list",
        summary="List active plans in showcase order",
        description="Each plan with its current prices per currency, options and usage charges.",
        parameters=filter_parameters(PlanFilter),
        responses=responses({200: PlanOutputSerializer(many=True)}, 400),
    )
    def get(self, request):
        plans = selectors.plan_list(filters=request.query_params)
        now = timezone.now()
        return _paginated(
            self,
            request,
            plans,
            PlanOutputSerializer,
            prepare=lambda page: selectors.plans_with_catalog(page, as_of=now),
        )


class PlanDetailApi(APIView):
    @extend_schema(
        operation_id="plans_retrieve",
        summary="Get an active plan with its prices, options and usage",
        responses=responses({200: PlanOutputSerializer}, 404),
    )
    def get(self, request, code: str):
        plan = selectors.plans_with_catalog([selectors.plan_get(code=code)], as_of=timezone.now())[0]
        return Response(PlanOutputSerializer(plan).data)


class BundleListApi(APIView):
    pagination_class = BundlePagination

    @extend_schema(
        operation_id="bundles_list",
        summary="List bundles that can be subscribed to",
        description="Active, published bundles by name, each with what it includes and its current package price "
        "per currency.",
        responses=responses({200: BundleOutputSerializer(many=True)}, 400),
    )
    def get(self, request):
        now = timezone.now()
        return _paginated(
            self,
            request,
            selectors.bundle_list(),
            BundleOutputSerializer,
            prepare=lambda page: selectors.bundles_with_catalog(page, as_of=now),
        )


class BundleDetailApi(APIView):
    @extend_schema(
        operation_id="bundles_retrieve",
        summary="Get a bundle with its items and current prices",
        responses=responses({200: BundleOutputSerializer}, 404),
    )
    def get(self, request, code: str):
        bundle = selectors.bundles_with_catalog([selectors.bundle_get(code=code)], as_of=timezone.now())[0]
        return Response(BundleOutputSerializer(bundle).data)


# --- subscriptions --------------------------------------------------------------------------------


class SubscriptionListCreateApi(APIView):
    pagination_class = CursorPagination

    @extend_schema(
        operation_id="subscriptions_list",
        summary="List subscriptions, newest first",
        parameters=filter_parameters(SubscriptionFilter),
        responses=responses({200: SubscriptionOutputSerializer(many=True)}, 400),
    )
    def get(self, request):
        subs = selectors.subscription_list(customer_scope=_scope(request), filters=request.query_params)
        return _paginated(self, request, subs, SubscriptionOutputSerializer)

    @extend_schema(
        operation_id="subscriptions_create",
        summary="Subscribe a customer to a plan or a bundle",
        description="Without a trial, the first period (plan, recurring options, discounts), the setup fee and "
        "one-time options are charged at once to the customer's balance. Send exactly one of `plan` "
        "and `bundle`: a bundle is subscribed once (quantity 1) on the plan that bills its package "
        "price (the subscription's `plan`), and what it includes is not charged on its own.",
        request=SubscriptionCreateInputSerializer,
        responses=responses({201: SubscriptionOutputSerializer}, 400, 403, 404, 409, 422),
    )
    @idempotent
    def post(self, request):
        data = SubscriptionCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        customer = billing_selectors.customer_get(customer_id=values["customer_id"], customer_scope=_scope(request))
        try:
            sub = subscription_create(
                customer_id=customer.pk,
                plan_code=values.get("plan"),
                bundle_code=values.get("bundle"),
                quantity=values["quantity"],
                currency=values.get("currency"),
                coupon_code=values.get("coupon") or None,
                options=[(o["code"], o["quantity"]) for o in values.get("options", [])],
                trial_days=values.get("trial_days"),
                external_id=values.get("external_id"),
                key=ledger_key(request),
            )
        except IntegrityError as exc:
            if "external_id" not in str(exc):
                raise
            raise exceptions.ValidationError(
                {
                    "external_id": [
                        exceptions.ErrorDetail("A subscription with this external_id already exists.", code="unique")
                    ]
                }
            ) from exc
        return Response(_subscription_out(request, sub.pk), status=status.HTTP_201_CREATED)


class SubscriptionDetailApi(APIView):
    @extend_schema(
        operation_id="subscriptions_retrieve",
        summary="Get a subscription",
        responses=responses({200: SubscriptionOutputSerializer}, 404),
    )
    def get(self, request, subscription_id: int):
        return Response(_subscription_out(request, subscription_id))


class SubscriptionChangeApi(APIView):
    @extend_schema(
        operation_id="subscriptions_change",
        summary="Change plan and/or quantity (or preview the change)",
        description="`when=now` prorates by days in the customer's time zone: the unused part of the old plan is "
        "credited and the rest of the period charged on the new one (the day of the change counts on "
        "the new plan), each line rounded once. `preview=true` returns exactly those lines and writes "
        "nothing. `when=period_end` schedules the change for the next renewal.",
        request=SubscriptionChangeInputSerializer,
        responses=responses(
            {
                200: PolymorphicProxySerializer(
                    component_name="SubscriptionChangeResult",
                    serializers=[ChangePreviewOutputSerializer, ChangeOutputSerializer],
                    resource_type_field_name=None,
                )
            },
            400,
            403,
            404,
            409,
            422,
        ),
    )
    @idempotent
    def post(self, request, subscription_id: int):
        data = SubscriptionChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values["preview"]:
            preview = subscription_change_preview(
                subscription_id=subscription_id,
                plan_code=values.get("plan"),
                quantity=values.get("quantity"),
                customer_scope=_scope(request),
            )
            return Response(
                ChangePreviewOutputSerializer(
                    {
                        "preview": True,
                        "lines": [_line_out(x) for x in preview.lines],
                        "total": amount_str(preview.total, preview.currency),
                        "currency": preview.currency,
                        "period": {"start": preview.period.start, "end": preview.period.end},
                        "change_day": preview.change_day,
                    }
                ).data
            )
        sub, charge = subscription_change_plan(
            subscription_id=subscription_id,
            plan_code=values.get("plan"),
            quantity=values.get("quantity"),
            when=values["when"],
            key=ledger_key(request),
            customer_scope=_scope(request),
        )
        return Response(ChangeOutputSerializer(_action_out(request, sub.pk, charge, preview=False)).data)


class SubscriptionCancelApi(APIView):
    @extend_schema(
        operation_id="subscriptions_cancel",
        summary="Cancel now (unused part credited) or at period end",
        request=SubscriptionCancelInputSerializer,
        responses=responses({200: SubscriptionActionOutputSerializer}, 400, 403, 404, 409, 422),
    )
    @idempotent
    def post(self, request, subscription_id: int):
        data = SubscriptionCancelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sub, charge = subscription_cancel(
            subscription_id=subscription_id,
            at_period_end=data.validated_data["at_period_end"],
            key=ledger_key(request),
            customer_scope=_scope(request),
        )
        return Response(SubscriptionActionOutputSerializer(_action_out(request, sub.pk, charge)).data)


class SubscriptionPauseApi(APIView):
    @extend_schema(
        operation_id="subscriptions_pause",
        summary="Pause now (unused part credited, no renewals until resumed)",
        request=EmptyInputSerializer,
        responses=responses({200: SubscriptionActionOutputSerializer}, 400, 403, 404, 409, 422),
    )
    @idempotent
    def post(self, request, subscription_id: int):
        EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        sub, charge = subscription_pause(subscription_id=subscription_id, customer_scope=_scope(request))
        return Response(SubscriptionActionOutputSerializer(_action_out(request, sub.pk, charge)).data)


class SubscriptionResumeApi(APIView):
    @extend_schema(
        operation_id="subscriptions_resume",
        summary="Resume a paused subscription (a new period starts today)",
        request=EmptyInputSerializer,
        responses=responses({200: SubscriptionActionOutputSerializer}, 400, 403, 404, 409, 422),
    )
    @idempotent
    def post(self, request, subscription_id: int):
        EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        sub, charge = subscription_resume(subscription_id=subscription_id, customer_scope=_scope(request))
        return Response(SubscriptionActionOutputSerializer(_action_out(request, sub.pk, charge)).data)


class SubscriptionOptionAddApi(APIView):
    @extend_schema(
        operation_id="subscriptions_options_add",
        summary="Add an option",
        description="A one-time option is charged in full; a recurring one for the rest of the period.",
        request=SubscriptionOptionAddInputSerializer,
        responses=responses({201: SubscriptionActionOutputSerializer}, 400, 403, 404, 409, 422),
    )
    @idempotent
    def post(self, request, subscription_id: int):
        data = SubscriptionOptionAddInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with _renamed_fields({"options": "code", "options.quantity": "quantity"}):
            charge = subscription_option_add(
                subscription_id=subscription_id,
                option_code=data.validated_data["code"],
                quantity=data.validated_data["quantity"],
                key=ledger_key(request),
                customer_scope=_scope(request),
            )
        return Response(
            SubscriptionActionOutputSerializer(_action_out(request, subscription_id, charge)).data,
            status=status.HTTP_201_CREATED,
        )


class SubscriptionOptionRemoveApi(APIView):
    @extend_schema(
        operation_id="subscriptions_options_remove",
        summary="Remove an option (unused part credited)",
        request=EmptyInputSerializer,
        responses=responses({200: SubscriptionActionOutputSerializer}, 400, 403, 404, 409, 422),
    )
    @idempotent
    def post(self, request, subscription_id: int, code: str):
        EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        with _renamed_fields({"option": "code"}):
            charge = subscription_option_remove(
                subscription_id=subscription_id, option_code=code, customer_scope=_scope(request)
            )
        return Response(SubscriptionActionOutputSerializer(_action_out(request, subscription_id, charge)).data)


# --- usage ----------------------------------------------------------------------------------------


class UsageEventBatchApi(APIView):
    parser_classes = [DecimalJSONParser]

    @extend_schema(
        operation_id="usage_events_create",
        summary=f"Record a batch of up to {MAX_BATCH} usage events",
        description="Idempotent by `event_id`: an event sent again is counted in `duplicates`, never recorded "
        "twice. One invalid event (shape, unknown metric, unknown customer or one outside the key's "
        "scope) rejects the whole batch with an error per bad field (`events.<index>.<field>`) and "
        "nothing is recorded. 201 when at least one event was recorded, 200 when all were duplicates. "
        "A retry with the same `Idempotency-Key` must resend the same bytes: the key is bound to the "
        "body as sent (the same events written differently are another body, 422).",
        request=UsageBatchInputSerializer,
        responses=responses(
            {201: UsageBatchOutputSerializer, 200: UsageBatchOutputSerializer}, 400, 403, 409, 413, 422
        ),
    )
    @idempotent(raw_body=True)  # the batch's bytes are hashed as sent: re-serialising 1,000 events cost more
    def post(self, request):
        data = UsageBatchInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        events = parse_usage_events(data.validated_data["events"])
        result = usage_record_batch(events=events, customer_scope=_scope(request))
        body = {"received": result.received, "recorded": result.accepted, "duplicates": result.duplicates}
        return Response(
            UsageBatchOutputSerializer(body).data,
            status=status.HTTP_201_CREATED if result.accepted else status.HTTP_200_OK,
        )


# --- estimates ------------------------------------------------------------------------------------


class CustomerUpcomingChargesApi(APIView):
    @extend_schema(
        operation_id="customers_upcoming_charges",
        summary="What the next billing run would charge the customer",
        description="Per active or trialing subscription: usage so far and fees in arrears for the current period, "
        "and the next period's fees charged in advance. Nothing is written.",
        responses=responses({200: UpcomingChargesOutputSerializer}, 404),
    )
    def get(self, request, customer_id: int):
        customer = billing_selectors.customer_get(customer_id=customer_id, customer_scope=_scope(request))
        now = timezone.now()
        estimates = upcoming_charges_estimate(customer_id=customer.pk, at=now)
        totals: dict[str, Decimal] = {}
        for estimate in estimates:
            totals[estimate.currency] = totals.get(estimate.currency, Decimal(0)) + estimate.total
        data = {
            "customer_id": customer.pk,
            "estimated_at": now,
            "charges": [
                {
                    "subscription_id": e.subscription_id,
                    "charge_at": e.charge_at,
                    "period": {"start": e.period.start, "end": e.period.end},
                    "lines": [_line_out(x, with_period=True) for x in e.lines],
                    "total": amount_str(e.total, e.currency),
                    "currency": e.currency,
                }
                for e in estimates
            ],
            "totals": [{"currency": c, "amount": amount_str(a, c)} for c, a in sorted(totals.items())],
        }
        return Response(UpcomingChargesOutputSerializer(data).data)
