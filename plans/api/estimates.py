"""REST API v1, estimates: what the next billing run would charge a customer (nothing is written).

Conventions are config.api's: the caller is an ApiCaller (a key restricted to one customer sees only
that customer, another customer's id answers 404), every POST is idempotent by its `Idempotency-Key`
header, input serializers refuse unknown fields, errors are problem+json.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors as billing_selectors
from billing.money_fields import amount_str
from config.api.auth import customer_scope
from config.api.schema import responses
from plans.api.common import ChargeLineOutputSerializer, PeriodOutputSerializer, line_out
from plans.services.estimates import upcoming_charges_estimate

# --- output ---------------------------------------------------------------------------------------


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


# --- views ----------------------------------------------------------------------------------------


class CustomerUpcomingChargesApi(APIView):
    @extend_schema(
        operation_id="customers_upcoming_charges",
        summary="What the next billing run would charge the customer",
        description="Per active or trialing subscription: usage so far and fees in arrears for the current period, "
        "and the next period's fees charged in advance. Nothing is written.",
        responses=responses({200: UpcomingChargesOutputSerializer}, 404),
    )
    def get(self, request, customer_id: int):
        customer = billing_selectors.customer_get(customer_id=customer_id, customer_scope=customer_scope(request))
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
                    "lines": [line_out(x, with_period=True) for x in e.lines],
                    "total": amount_str(e.total, e.currency),
                    "currency": e.currency,
                }
                for e in estimates
            ],
            "totals": [{"currency": c, "amount": amount_str(a, c)} for c, a in sorted(totals.items())],
        }
        return Response(UpcomingChargesOutputSerializer(data).data)
