"""Payments in the API: list and get, top-ups (the answer carries the provider's confirmation URL), refunds,
manual payments, saved methods and autopay. Every read is scoped to the caller's customer; a foreign id is 404."""

from __future__ import annotations

import base64
import binascii

import django_filters
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors
from billing.errors import PaymentNotFound
from billing.models import Autopay, BankStatement, BankTransfer, Payment, PaymentMethod, Refund
from billing.money_fields import AmountInputField, CurrencyField, amount_str
from billing.services.autopay import autopay_configure
from billing.services.payments import OFFLINE_PROVIDERS, payment_manual_record, payment_refresh, payment_topup_create
from billing.services.refunds import refund_create
from billing.services.statements import bank_statement_import, bank_transfer_assign
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


# --- bank statements (installation-wide: keys scoped to one customer see none of them) ---------------------------


def _whole_installation(request) -> None:
    if customer_scope(request) is not None:
        raise PaymentNotFound(_("Not found."))


class StatementUploadInputSerializer(StrictInputSerializer):
    file_name = serializers.CharField(max_length=255)
    content_base64 = serializers.CharField(help_text="The statement file's bytes, base64 (windows-1251 or UTF-8).")

    def validate_content_base64(self, value: str) -> bytes:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise serializers.ValidationError(_("Not valid base64.")) from exc


class BankTransferOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    statement_id = serializers.IntegerField()
    line = serializers.IntegerField()
    number = serializers.CharField()
    date = serializers.DateField(allow_null=True)
    amount = serializers.SerializerMethodField()
    currency = serializers.CharField(source="amount.currency.code")
    payer_name = serializers.CharField()
    payer_inn = serializers.CharField()
    payer_account = serializers.CharField()
    purpose = serializers.CharField()
    invoice_numbers = serializers.CharField()
    status = serializers.CharField()
    match_note = serializers.CharField()
    customer_id = serializers.IntegerField(allow_null=True)
    payment_id = serializers.IntegerField(allow_null=True)

    def get_amount(self, transfer: BankTransfer) -> str:
        return amount_str(transfer.amount.amount, transfer.amount.currency.code)


class BankStatementOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    file_name = serializers.CharField()
    accounts = serializers.CharField()
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)
    documents = serializers.IntegerField()
    incoming = serializers.IntegerField()
    matched = serializers.IntegerField()
    unmatched = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    transfers = BankTransferOutputSerializer(many=True, source="transfers.all")


class BankTransferAssignInputSerializer(StrictInputSerializer):
    customer_id = serializers.IntegerField()
    invoice_number = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")


class BankTransferFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=BankTransfer.Status.choices)
    statement = django_filters.NumberFilter(field_name="statement_id")
    payer_inn = django_filters.CharFilter()

    class Meta:
        model = BankTransfer
        fields = ["status"]


class BankStatementListApi(APIView):
    pagination_class = CursorPagination

    @extend_schema(
        operation_id="bank_statements_list",
        summary="Imported bank statements, newest first (without their transfers)",
        responses=responses({200: BankStatementOutputSerializer(many=True)}, 400, 404),
    )
    def get(self, request):
        _whole_installation(request)
        statements = BankStatement.objects.order_by("-id").prefetch_related(
            Prefetch("transfers", BankTransfer.objects.none())
        )
        return paginated_response(self, request, statements, BankStatementOutputSerializer)

    @extend_schema(
        operation_id="bank_statements_import",
        summary="Import a 1CClientBankExchange statement: matched payments are credited, the rest queued for review",
        request=StatementUploadInputSerializer,
        responses=responses({201: BankStatementOutputSerializer}, 400, 403, 404, 422),
    )
    @idempotent
    def post(self, request):
        _whole_installation(request)
        data = StatementUploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        statement = bank_statement_import(
            data=data.validated_data["content_base64"],
            file_name=data.validated_data["file_name"],
            uploaded_by=str(request.user),
        )
        return Response(_statement_out(statement.pk), status=status.HTTP_201_CREATED)


def _statement_out(statement_id) -> dict:
    statement = (
        BankStatement.objects.prefetch_related(Prefetch("transfers", BankTransfer.objects.order_by("line")))
        .filter(pk=statement_id)
        .first()
    )
    if statement is None:
        raise PaymentNotFound(_("Bank statement %(id)s not found.") % {"id": statement_id})
    return BankStatementOutputSerializer(statement).data


class BankStatementDetailApi(APIView):
    @extend_schema(
        operation_id="bank_statements_retrieve",
        summary="One statement with each incoming transfer and how it was matched",
        responses=responses({200: BankStatementOutputSerializer}, 404),
    )
    def get(self, request, statement_id: int):
        _whole_installation(request)
        return Response(_statement_out(statement_id))


class BankTransferListApi(APIView):
    pagination_class = CursorPagination

    @extend_schema(
        operation_id="bank_transfers_list",
        summary="Incoming bank transfers (`?status=unmatched`: the review queue)",
        parameters=filter_parameters(BankTransferFilter),
        responses=responses({200: BankTransferOutputSerializer(many=True)}, 400, 404),
    )
    def get(self, request):
        _whole_installation(request)
        transfers = filter_queryset(BankTransferFilter, request.query_params, BankTransfer.objects.order_by("-id"))
        return paginated_response(self, request, transfers, BankTransferOutputSerializer)


class BankTransferAssignApi(APIView):
    @extend_schema(
        operation_id="bank_transfers_assign",
        summary="Assign a transfer from the review queue to a customer: credited at once, once",
        request=BankTransferAssignInputSerializer,
        responses=responses({200: BankTransferOutputSerializer}, 400, 403, 404, 422),
    )
    @idempotent
    def post(self, request, transfer_id: int):
        _whole_installation(request)
        if not BankTransfer.objects.filter(pk=transfer_id).exists():
            raise PaymentNotFound(_("Bank transfer %(id)s not found.") % {"id": transfer_id})
        data = BankTransferAssignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        transfer = bank_transfer_assign(
            transfer_id=transfer_id,
            customer_id=data.validated_data["customer_id"],
            invoice_number=data.validated_data["invoice_number"],
            by=str(request.user),
        )
        return Response(BankTransferOutputSerializer(transfer).data)
