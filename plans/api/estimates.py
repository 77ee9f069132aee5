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
from plans.pricing.charges import total
from plans.pricing.periods import Period
from plans.services.estimates import upcoming_charges_estimate

# --- output ---------------------------------------------------------------------------------------


class UpcomingChargeLineOutputSerializer(ChargeLineOutputSerializer):
    period = PeriodOutputSerializer(allow_null=True)


class UpcomingChargeBreakdownOutputSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="usage, recurring or setup: the kind of the charge the run records.")
    period = PeriodOutputSerializer(help_text="The period the charge is for.")
    total = serializers.CharField(help_text="The sum of its lines (0.00 when it has none).")
    lines = UpcomingChargeLineOutputSerializer(many=True)


class UpcomingChargeOutputSerializer(serializers.Serializer):
    subscription_id = serializers.IntegerField()
    charge_at = serializers.DateTimeField(
        help_text="When the next billing run charges it: the end of the current period (local midnight)."
    )
    period = PeriodOutputSerializer(help_text="The current period.")
    lines = UpcomingChargeLineOutputSerializer(
        many=True, help_text="Every line the next run posts for it: the lines of `breakdown`, in the same order."
    )
    total = serializers.CharField(help_text="The sum of `lines`.")
    vat = serializers.CharField(help_text="The VAT part of `total`.")
    currency = serializers.CharField()
    breakdown = UpcomingChargeBreakdownOutputSerializer(
        many=True,
        help_text="The charges the next run records for it, in order, one per (period, kind): the usage and the "
        "fee in arrears of the current period, a trial's setup fee and the next period's fee in advance. Zero "
        "charges are listed too (the run records them without a ledger transaction).",
    )
    next_status = serializers.CharField(
        allow_null=True,
        help_text="The state the run leaves it in: `active` (renewed, or a trial converted), `canceled` (canceled "
        "at period end) or `suspended` (a prepaid customer beyond the credit limit for longer than the grace days: "
        "the run bills what was used and renews nothing until a top-up); null when the run cannot bill it "
        "(`failure`).",
    )
    next_period = PeriodOutputSerializer(
        allow_null=True,
        help_text="The period it is in after the run (the current one when suspended); null when it ends or "
        "cannot be billed.",
    )
    next_plan = serializers.CharField(
        allow_null=True,
        help_text="The plan it goes on with (the target of a change scheduled for the period's end); null when it "
        "ends or cannot be billed.",
    )
    next_quantity = serializers.IntegerField(allow_null=True, help_text="The quantity it goes on with.")
    failure = serializers.CharField(
        allow_null=True,
        help_text="Why the run cannot bill it, as the run records the failure (for instance `CurrencyMismatch: Plan "
        "'pro' … has no price in RUB.`; for an internal error only its class); null otherwise. Such a subscription "
        "has no lines, and the run records it among its failures and bills the others.",
    )


class CurrencyTotalOutputSerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.CharField()


class UpcomingChargesOutputSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    estimated_at = serializers.DateTimeField()
    charges = UpcomingChargeOutputSerializer(
        many=True, help_text="One per active or trialing subscription, in id order: exactly what the next run posts."
    )
    totals = CurrencyTotalOutputSerializer(many=True, help_text="Sum of the charges per currency.")


def _period(period: Period | None) -> dict | None:
    return {"start": period.start, "end": period.end} if period is not None else None


# --- views ----------------------------------------------------------------------------------------


class CustomerUpcomingChargesApi(APIView):
    @extend_schema(
        operation_id="customers_upcoming_charges",
        summary="What the next billing run would charge the customer",
        description="Per active or trialing subscription, exactly what the next billing run posts for it, decided by "
        "the run's own renewal rules: usage so far and fees in arrears for the current period, the change "
        "scheduled for its end, a new price version (unless the plan is grandfathered), a trial's setup fee and "
        "first paid period, the next period's fees in advance; a cancellation at period end or the suspension of an "
        "overdue prepaid customer is shown in `next_status`. Prices are those valid at `charge_at`. Nothing is "
        "written.",
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
                    "period": _period(e.period),
                    "lines": [line_out(x, with_period=True) for x in e.lines],
                    "total": amount_str(e.total, e.currency),
                    "vat": amount_str(sum((x.vat for x in e.lines), Decimal(0)), e.currency),
                    "currency": e.currency,
                    "breakdown": [
                        {
                            "kind": kind,
                            "period": _period(period),
                            "total": amount_str(total(lines) if lines else Decimal(0), e.currency),
                            "lines": [line_out(x, with_period=True) for x in lines],
                        }
                        for kind, period, lines in e.charges
                    ],
                    "next_status": e.next_status,
                    "next_period": _period(e.next_period),
                    "next_plan": e.next_plan,
                    "next_quantity": e.next_quantity,
                    "failure": e.failure,
                }
                for e in estimates
            ],
            "totals": [{"currency": c, "amount": amount_str(a, c)} for c, a in sorted(totals.items())],
        }
        return Response(UpcomingChargesOutputSerializer(data).data)
