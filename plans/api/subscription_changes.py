"""REST API v1, changes to a subscription: plan and/or quantity (with a preview), cancel, pause, resume, options.
Each answers the subscription and the charge it posted. One view per operation; validate → service → serialize.

Conventions are config.api's: the caller is an ApiCaller (a key restricted to one customer sees only
that customer, another customer's id answers 404), every POST is idempotent by its `Idempotency-Key`
header, input serializers refuse unknown fields, errors are problem+json.
"""

from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal

from django.utils.translation import gettext as _
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.money_fields import amount_str
from config.api.auth import customer_scope
from config.api.idempotency import idempotent, ledger_key
from config.api.schema import responses
from config.api.serializers import EmptyInputSerializer, StrictInputSerializer
from config.errors import ApplicationError
from plans import selectors
from plans.api.common import ChargeLineOutputSerializer, PeriodOutputSerializer, line_out
from plans.api.subscriptions import SubscriptionOptionInputSerializer, SubscriptionOutputSerializer
from plans.models import Charge
from plans.services.subscriptions import (
    MAX_QUANTITY,
    subscription_cancel,
    subscription_change_plan,
    subscription_change_preview,
    subscription_option_add,
    subscription_option_remove,
    subscription_pause,
    subscription_resume,
)

# --- output ---------------------------------------------------------------------------------------


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
    vat = serializers.CharField(help_text="The VAT part of `total`.")
    currency = serializers.CharField()
    period = PeriodOutputSerializer()
    change_day = serializers.DateField(help_text="The customer's local day of the change (it counts on the new plan).")
    usage_lines = ChargeLineOutputSerializer(
        many=True,
        help_text="The period's usage so far as its renewal will bill it once the change is made: the usage before "
        "the change at the old plan's usage charges, after it at the new plan's, each plan's minimum commitment "
        "prorated by its days. Billed at the period's end, not part of `total`.",
    )


class ChangeOutputSerializer(SubscriptionActionOutputSerializer):
    preview = serializers.BooleanField(help_text="Always false: the change was made.")


# --- input ----------------------------------------------------------------------------------------


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
                {"plan": [serializers.ErrorDetail(_("Send a new plan, a new quantity or both."), code="required")]}
            )
        if attrs["preview"] and attrs["when"] != "now":
            raise serializers.ValidationError(
                {
                    "preview": [
                        serializers.ErrorDetail(
                            _("A preview shows a change now; a change at period end posts nothing until the renewal."),
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


# --- helpers --------------------------------------------------------------------------------------


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
        "lines": [line_out(x) for x in charge.lines],
    }


def _action_out(request, subscription_id: int, charge: Charge | None, **extra) -> dict:
    sub = selectors.subscription_get(subscription_id=subscription_id, customer_scope=customer_scope(request))
    return {"subscription": sub, "charge": _charge_out(charge), **extra}


@contextmanager
def _renamed_fields(mapping: dict[str, str]):
    """Point a service error's field at this endpoint's input (the option services name `options…`)."""
    try:
        yield
    except ApplicationError as exc:
        exc.field = mapping.get(exc.field, exc.field)
        raise


# --- views ----------------------------------------------------------------------------------------


class SubscriptionChangeApi(APIView):
    @extend_schema(
        operation_id="subscriptions_change",
        summary="Change plan and/or quantity (or preview the change)",
        description="`when=now` prorates by days in the customer's time zone: the unused part of the old plan is "
        "credited and the rest of the period charged on the new one (the day of the change counts on "
        "the new plan), each line rounded once. `preview=true` returns exactly those lines and writes "
        "nothing, with the period's usage so far as its renewal will bill it after the change (`usage_lines`: "
        "usage before the change at the old plan's charges, after it at the new plan's). "
        "`when=period_end` schedules the change for the next renewal.",
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
            402,
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
                customer_scope=customer_scope(request),
            )
            return Response(
                ChangePreviewOutputSerializer(
                    {
                        "preview": True,
                        "lines": [line_out(x) for x in preview.lines],
                        "total": amount_str(preview.total, preview.currency),
                        "vat": amount_str(sum((x.vat for x in preview.lines), Decimal(0)), preview.currency),
                        "currency": preview.currency,
                        "period": {"start": preview.period.start, "end": preview.period.end},
                        "change_day": preview.change_day,
                        "usage_lines": [line_out(x) for x in preview.usage_lines],
                    }
                ).data
            )
        sub, charge = subscription_change_plan(
            subscription_id=subscription_id,
            plan_code=values.get("plan"),
            quantity=values.get("quantity"),
            when=values["when"],
            key=ledger_key(request),
            customer_scope=customer_scope(request),
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
            customer_scope=customer_scope(request),
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
        sub, charge = subscription_pause(subscription_id=subscription_id, customer_scope=customer_scope(request))
        return Response(SubscriptionActionOutputSerializer(_action_out(request, sub.pk, charge)).data)


class SubscriptionResumeApi(APIView):
    @extend_schema(
        operation_id="subscriptions_resume",
        summary="Resume a paused subscription (a new period starts today)",
        request=EmptyInputSerializer,
        responses=responses({200: SubscriptionActionOutputSerializer}, 400, 402, 403, 404, 409, 422),
    )
    @idempotent
    def post(self, request, subscription_id: int):
        EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        sub, charge = subscription_resume(subscription_id=subscription_id, customer_scope=customer_scope(request))
        return Response(SubscriptionActionOutputSerializer(_action_out(request, sub.pk, charge)).data)


class SubscriptionOptionAddApi(APIView):
    @extend_schema(
        operation_id="subscriptions_options_add",
        summary="Add an option",
        description="A one-time option is charged in full; a recurring one for the rest of the period.",
        request=SubscriptionOptionAddInputSerializer,
        responses=responses({201: SubscriptionActionOutputSerializer}, 400, 402, 403, 404, 409, 422),
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
                customer_scope=customer_scope(request),
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
                subscription_id=subscription_id, option_code=code, customer_scope=customer_scope(request)
            )
        return Response(SubscriptionActionOutputSerializer(_action_out(request, subscription_id, charge)).data)
