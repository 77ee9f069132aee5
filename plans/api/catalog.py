"""REST API v1, the catalog: products, plans and bundles with their current prices (read only, public to every
caller). One view per operation.

Conventions are config.api's: the caller is an ApiCaller (a key restricted to one customer sees only
that customer, another customer's id answers 404), every POST is idempotent by its `Idempotency-Key`
header, input serializers refuse unknown fields, errors are problem+json.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.money_fields import MoneyAmountField, amount_str
from config.api.pagination import CursorPagination, paginated_response
from config.api.schema import filter_parameters, responses
from plans import selectors
from plans.api.common import DecimalStringField, decimal_str
from plans.filters import PlanFilter
from plans.models import Plan, UsageCharge, UsageMetric
from plans.pricing.periods import Interval

# --- output ---------------------------------------------------------------------------------------


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


# --- pagination -----------------------------------------------------------------------------------


class ProductPagination(CursorPagination):
    ordering = "code"


class PlanPagination(CursorPagination):
    ordering = ("display_order", "name", "code")


class BundlePagination(CursorPagination):
    ordering = ("name", "code")


# --- views ----------------------------------------------------------------------------------------


class ProductListApi(APIView):
    pagination_class = ProductPagination

    @extend_schema(
        operation_id="products_list",
        summary="List active products",
        responses=responses({200: ProductOutputSerializer(many=True)}, 400),
    )
    def get(self, request):
        return paginated_response(self, request, selectors.product_list(), ProductOutputSerializer)


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
        return paginated_response(
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
        return paginated_response(
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
