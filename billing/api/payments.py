"""Payments in the API: list and get, top-ups (the answer carries the provider's confirmation URL), refunds,
manual payments, saved methods and autopay. Every read is scoped to the caller's customer; a foreign id is 404."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors
from billing.errors import PaymentNotFound
from billing.models import Autopay, Payment, PaymentMethod, Refund
from billing.money_fields import AmountInputField, CurrencyField, amount_str
from billing.services.autopay import autopay_configure
from billing.services.payments import OFFLINE_PROVIDERS, payment_manual_record, payment_refresh, payment_topup_create
from billing.services.refunds import refund_create
from config.api.auth import customer_scope
from config.api.filters import IsoDateTimeFilter, filter_queryset
from config.api.idempotency import idempotent
from config.api.pagination import CursorPagination, paginated_response
from config.api.schema import filter_parameters, responses
from config.api.serializers import StrictInputSerializer


class PaymentFilter(django_filters.FilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id")
    status = django_filters.ChoiceFilter(choices=Payment.Status.choices)
    kind = django_filters.ChoiceFilter(choices=Payment.Kind.choices)
    provider = django_filters.CharFilter()
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Payment
        fields = ["status", "kind", "provider"]


def payment_list(*, customer_scope: int | None) -> QuerySet[Payment]:
    payments = Payment.objects.select_related("method").prefetch_related("refunds").order_by("-id")
    return payments if customer_scope is None else payments.filter(customer_id=customer_scope)


def payment_get(*, payment_id, customer_scope: int | None) -> Payment:
    try:
        return payment_list(customer_scope=customer_scope).get(pk=int(payment_id))
    except (Payment.DoesNotExist, ValueError, TypeError) as exc:
        raise PaymentNotFound(_("Payment %(id)s not found.") % {"id": payment_id}) from exc


class RefundOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    amount = serializers.SerializerMethodField()
    currency = serializers.CharField(source="amount.currency.code")
    reason = serializers.CharField()
    provider_refund_id = serializers.CharField(allow_null=True)
    failure_reason = serializers.CharField()
    transaction_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_amount(self, refund: Refund) -> str:
        return amount_str(refund.amount.amount, refund.amount.currency.code)


class PaymentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    customer_id = serializers.IntegerField()
    kind = serializers.CharField()
    provider = serializers.CharField()
    status = serializers.CharField()
    amount = serializers.SerializerMethodField()
    refunded = serializers.SerializerMethodField()
    currency = serializers.CharField(source="amount.currency.code")
    description = serializers.CharField()
    confirmation_url = serializers.CharField()
    provider_payment_id = serializers.CharField(allow_null=True)
    failure_reason = serializers.CharField()
    invoice_number = serializers.CharField()
    payment_method = serializers.SerializerMethodField()
    transaction_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    succeeded_at = serializers.DateTimeField(allow_null=True)
    refunds = RefundOutputSerializer(many=True, source="refunds.all")

    def get_amount(self, payment: Payment) -> str:
        return amount_str(payment.amount.amount, payment.amount.currency.code)

    def get_refunded(self, payment: Payment) -> str:
        return amount_str(payment.refunded, payment.amount.currency.code)

    def get_payment_method(self, payment: Payment) -> dict | None:
        method = payment.method
        return None if method is None else {"id": method.pk, "title": method.title, "expires_on": method.expires_on}


class TopUpInputSerializer(StrictInputSerializer):
    amount = AmountInputField(positive=True)
    currency = CurrencyField(required=False)
    provider = serializers.CharField(required=False, max_length=20)
    return_url = serializers.URLField(required=False, max_length=2000)
    save_method = serializers.BooleanField(required=False, default=False)
    description = serializers.CharField(required=False, max_length=255, allow_blank=True)


class ManualPaymentInputSerializer(StrictInputSerializer):
    amount = AmountInputField(positive=True)
    currency = CurrencyField(required=False)
    method = serializers.ChoiceField(choices=OFFLINE_PROVIDERS)
    reason = serializers.CharField(max_length=255)
    invoice_number = serializers.CharField(required=False, max_length=64, allow_blank=True, default="")


class RefundInputSerializer(StrictInputSerializer):
    amount = AmountInputField(positive=True, required=False)
    reason = serializers.CharField(max_length=255)


class AutopayInputSerializer(StrictInputSerializer):
    payment_method_id = serializers.IntegerField()
    threshold = AmountInputField(positive=False)
    amount = AmountInputField(positive=True)
    before_renewal = serializers.BooleanField(required=False, default=True)
    is_active = serializers.BooleanField(required=False, default=True)


class AutopayOutputSerializer(serializers.Serializer):
    payment_method_id = serializers.IntegerField(source="method_id")
    threshold = serializers.DecimalField(max_digits=19, decimal_places=2)
    amount = serializers.DecimalField(max_digits=19, decimal_places=2)
    before_renewal = serializers.BooleanField()
    is_active = serializers.BooleanField()
    failures = serializers.IntegerField()
    stopped_reason = serializers.CharField()


class PaymentMethodOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    provider = serializers.CharField()
    title = serializers.CharField()
    expires_on = serializers.DateField(allow_null=True)
    is_active = serializers.BooleanField()


def _payment_out(payment: Payment, *, scope: int | None) -> dict:
    return PaymentOutputSerializer(payment_get(payment_id=payment.pk, customer_scope=scope)).data


class PaymentListApi(APIView):
    pagination_class = CursorPagination

    @extend_schema(
        operation_id="payments_list",
        summary="Payments, newest first",
        parameters=filter_parameters(PaymentFilter),
        responses=responses({200: PaymentOutputSerializer(many=True)}, 400),
    )
    def get(self, request):
        payments = filter_queryset(
            PaymentFilter, request.query_params, payment_list(customer_scope=customer_scope(request))
        )
        return paginated_response(self, request, payments, PaymentOutputSerializer)


class PaymentDetailApi(APIView):
    @extend_schema(
        operation_id="payments_retrieve",
        summary="One payment with its refunds (`?refresh=1` reads a pending one back from its provider)",
        responses=responses({200: PaymentOutputSerializer}, 404, 503),
    )
    def get(self, request, payment_id: int):
        scope = customer_scope(request)
        payment = payment_get(payment_id=payment_id, customer_scope=scope)
        if request.query_params.get("refresh") in ("1", "true") and payment.status in ("created", "pending"):
            payment = payment_refresh(payment_id=payment.pk, source="api")
        return Response(_payment_out(payment, scope=scope))


class CustomerTopUpApi(APIView):
    @extend_schema(
        operation_id="customers_topups_create",
        summary="Start a top-up: send the customer to `confirmation_url`; the balance is credited on the webhook",
        request=TopUpInputSerializer,
        responses=responses({201: PaymentOutputSerializer}, 400, 403, 404, 409, 422, 503),
    )
    @idempotent
    def post(self, request, customer_id: int):
        scope = customer_scope(request)
        customer = selectors.customer_get(customer_id=customer_id, customer_scope=scope)
        data = TopUpInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment = payment_topup_create(customer_id=customer.pk, created_by=str(request.user), **data.validated_data)
        return Response(_payment_out(payment, scope=scope), status=status.HTTP_201_CREATED)


class CustomerManualPaymentApi(APIView):
    @extend_schema(
        operation_id="customers_manual_payments_create",
        summary="Record money received outside the providers (cash, bank, other), with a reason",
        request=ManualPaymentInputSerializer,
        responses=responses({201: PaymentOutputSerializer}, 400, 403, 404, 409, 422),
    )
    @idempotent
    def post(self, request, customer_id: int):
        scope = customer_scope(request)
        customer = selectors.customer_get(customer_id=customer_id, customer_scope=scope)
        data = ManualPaymentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment = payment_manual_record(customer_id=customer.pk, created_by=str(request.user), **data.validated_data)
        return Response(_payment_out(payment, scope=scope), status=status.HTTP_201_CREATED)


class PaymentRefundApi(APIView):
    @extend_schema(
        operation_id="payments_refunds_create",
        summary="Refund a payment, fully (no amount) or partly, through its provider",
        request=RefundInputSerializer,
        responses=responses({201: RefundOutputSerializer}, 400, 403, 404, 409, 422),
    )
    @idempotent
    def post(self, request, payment_id: int):
        payment = payment_get(payment_id=payment_id, customer_scope=customer_scope(request))
        data = RefundInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        refund = refund_create(
            payment_id=payment.pk,
            customer_id=payment.customer_id,
            amount=data.validated_data.get("amount"),
            reason=data.validated_data["reason"],
            created_by=str(request.user),
        )
        return Response(RefundOutputSerializer(refund).data, status=status.HTTP_201_CREATED)


class CustomerPaymentMethodListApi(APIView):
    @extend_schema(
        operation_id="customers_payment_methods_list",
        summary="The customer's saved payment methods",
        responses=responses({200: PaymentMethodOutputSerializer(many=True)}, 404),
    )
    def get(self, request, customer_id: int):
        customer = selectors.customer_get(customer_id=customer_id, customer_scope=customer_scope(request))
        methods = PaymentMethod.objects.filter(customer=customer).order_by("-id")
        return Response(PaymentMethodOutputSerializer(methods, many=True).data)


class CustomerAutopayApi(APIView):
    @extend_schema(
        operation_id="customers_autopay_retrieve",
        summary="The customer's autopay settings",
        responses=responses({200: AutopayOutputSerializer}, 404),
    )
    def get(self, request, customer_id: int):
        customer = selectors.customer_get(customer_id=customer_id, customer_scope=customer_scope(request))
        autopay = Autopay.objects.filter(customer=customer).first()
        if autopay is None:
            raise PaymentNotFound(_("Autopay is not set up for this customer."))
        return Response(AutopayOutputSerializer(autopay).data)

    @extend_schema(
        operation_id="customers_autopay_update",
        summary="Set up or change autopay with one of the customer's saved methods",
        request=AutopayInputSerializer,
        responses=responses({200: AutopayOutputSerializer}, 400, 403, 404, 422),
    )
    def put(self, request, customer_id: int):
        customer = selectors.customer_get(customer_id=customer_id, customer_scope=customer_scope(request))
        data = AutopayInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        autopay = autopay_configure(customer_id=customer.pk, method_id=values.pop("payment_method_id"), **values)
        return Response(AutopayOutputSerializer(autopay).data)
