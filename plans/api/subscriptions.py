"""REST API v1, subscriptions: list, create and read. The changes to a subscription (plan, quantity, cancel,
pause, resume, options) are in plans.api.subscription_changes. One view per operation;
validate → service → serialize.

Conventions are config.api's: the caller is an ApiCaller (a key restricted to one customer sees only
that customer, another customer's id answers 404), every POST is idempotent by its `Idempotency-Key`
header, input serializers refuse unknown fields, errors are problem+json.
"""

from __future__ import annotations

from django.db import IntegrityError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors as billing_selectors
from billing.money_fields import CurrencyField, MoneyAmountField
from config.api.auth import customer_scope
from config.api.idempotency import idempotent, ledger_key
from config.api.pagination import CursorPagination, paginated_response
from config.api.schema import filter_parameters, responses
from config.api.serializers import StrictInputSerializer
from plans import selectors
from plans.api.common import PeriodOutputSerializer
from plans.filters import SubscriptionFilter
from plans.models import Subscription
from plans.services.subscriptions import MAX_QUANTITY, subscription_create

# --- output ---------------------------------------------------------------------------------------


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
                {"plan": [serializers.ErrorDetail(_("Send the plan or the bundle to subscribe to."), code="required")]}
            )
        if "plan" in attrs and "bundle" in attrs:
            raise serializers.ValidationError(
                {"bundle": [serializers.ErrorDetail(_("Send a plan or a bundle, not both."), code="invalid")]}
            )
        return attrs


# --- views ----------------------------------------------------------------------------------------


def _subscription_out(request, subscription_id: int) -> dict:
    sub = selectors.subscription_get(subscription_id=subscription_id, customer_scope=customer_scope(request))
    return SubscriptionOutputSerializer(sub).data


class SubscriptionListCreateApi(APIView):
    pagination_class = CursorPagination

    @extend_schema(
        operation_id="subscriptions_list",
        summary="List subscriptions, newest first",
        parameters=filter_parameters(SubscriptionFilter),
        responses=responses({200: SubscriptionOutputSerializer(many=True)}, 400),
    )
    def get(self, request):
        subs = selectors.subscription_list(customer_scope=customer_scope(request), filters=request.query_params)
        return paginated_response(self, request, subs, SubscriptionOutputSerializer)

    @extend_schema(
        operation_id="subscriptions_create",
        summary="Subscribe a customer to a plan or a bundle",
        description="Without a trial, the first period (plan, recurring options, discounts), the setup fee and "
        "one-time options are charged at once to the customer's balance. Send exactly one of `plan` "
        "and `bundle`: a bundle is subscribed once (quantity 1) on the plan that bills its package "
        "price (the subscription's `plan`), and what it includes is not charged on its own. The prepaid rule: "
        "when a prepaid customer's balance plus credit limit does not cover those first charges, the billing "
        "policy decides: 402 `insufficient_funds` (the default, nothing written), or the subscription is "
        "created with status `incomplete` (not started, not billed) and starts, charged once, when a top-up "
        "covers them.",
        request=SubscriptionCreateInputSerializer,
        responses=responses({201: SubscriptionOutputSerializer}, 400, 402, 403, 404, 409, 422),
    )
    @idempotent
    def post(self, request):
        data = SubscriptionCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        customer = billing_selectors.customer_get(
            customer_id=values["customer_id"], customer_scope=customer_scope(request)
        )
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
                        exceptions.ErrorDetail(_("A subscription with this external_id already exists."), code="unique")
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
