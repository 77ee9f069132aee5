"""REST API v1: one view per operation; validate → service → serialize.

Every view is scoped by the caller (`request.user` is an ApiCaller): a key restricted to one customer
sees only that customer, and another customer's id answers 404. Every POST is idempotent by its
`Idempotency-Key` header (config.api.idempotency).
"""

from __future__ import annotations

from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors
from billing.errors import CustomerNotFound
from billing.filters import CustomerFilter, TransactionFilter
from billing.models import Customer, Seller, Transaction
from billing.money_fields import AmountInputField, CurrencyField, MoneyAmountField, amount_str
from billing.services.customers import (
    customer_balance_adjust,
    customer_close,
    customer_create,
    customer_update,
)
from billing.services.ledger import ledger_reverse
from config.api.auth import customer_scope
from config.api.filters import filter_queryset
from config.api.idempotency import idempotent, ledger_key
from config.api.pagination import CursorPagination, paginated_response
from config.api.schema import filter_parameters, responses
from config.api.serializers import EmptyInputSerializer, JSONObjectField, StrictInputSerializer
from config.errors import NotFound

# --- output ---------------------------------------------------------------------------------


class CustomerOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Customer.Kind.choices)
    name = serializers.CharField()
    legal_name = serializers.CharField()
    country = serializers.CharField()
    inn = serializers.CharField()
    kpp = serializers.CharField()
    ogrn = serializers.CharField()
    legal_address = serializers.CharField()
    billing_emails = serializers.ListField(child=serializers.EmailField())
    phone = serializers.CharField()
    currency = serializers.CharField()
    timezone = serializers.CharField()
    status = serializers.ChoiceField(choices=Customer.Status.choices)
    billing_model = serializers.ChoiceField(choices=Customer.BillingModel.choices)
    postpaid_since = serializers.DateField(
        allow_null=True,
        help_text="The day (UTC) the customer became postpaid: charges of periods starting on or "
        "after it are invoiced at period end. null while prepaid.",
    )
    credit_limit = MoneyAmountField()
    tags = serializers.ListField(child=serializers.CharField())
    external_id = serializers.CharField(allow_null=True)
    metadata = serializers.DictField()
    seller_id = serializers.IntegerField(allow_null=True, help_text="The seller serving it; null: the default.")
    closing_documents = serializers.CharField(help_text="act_and_vat_invoice or upd: what the monthly closing issues.")
    document_language = serializers.CharField()
    pays_by_bank_transfer = serializers.BooleanField()
    contract_number = serializers.CharField()
    contract_date = serializers.DateField(allow_null=True)
    edo_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)


class EntryOutputSerializer(serializers.Serializer):
    account = serializers.CharField(source="account.code", help_text="customer:<id>, adjustments, revenue:<…>, …")
    account_kind = serializers.CharField(source="account.kind")
    amount = MoneyAmountField(help_text="Signed: debit positive, credit negative.")
    currency = serializers.CharField(source="amount_currency")
    memo = serializers.CharField()


class TransactionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    effective_date = serializers.DateField()
    posted_at = serializers.DateTimeField()
    customer_id = serializers.IntegerField(allow_null=True)
    source_type = serializers.CharField()
    source_id = serializers.CharField()
    description = serializers.CharField()
    reverses_id = serializers.IntegerField(allow_null=True)
    created_by = serializers.CharField()
    entries = EntryOutputSerializer(many=True)


class BalanceOutputSerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.CharField(help_text="Funds available to the customer (negative: owed).")
    credit_limit = serializers.CharField(help_text="How far the balance may go below zero.")
    available = serializers.CharField(help_text="amount + credit_limit: what a debit may take.")


class CustomerBalanceOutputSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    currency = serializers.CharField(help_text="The customer's main currency.")
    balances = BalanceOutputSerializer(many=True)


# --- input ----------------------------------------------------------------------------------


class CustomerFieldsInputSerializer(StrictInputSerializer):
    read_only_fields = {
        "postpaid_since": gettext_lazy("Set when billing_model becomes postpaid, cleared when it becomes prepaid.")
    }

    kind = serializers.ChoiceField(choices=Customer.Kind.choices, required=False)
    name = serializers.CharField(max_length=255)
    legal_name = serializers.CharField(max_length=500, required=False, allow_blank=True)
    country = serializers.RegexField(r"^[A-Z]{2}$", required=False, help_text="ISO 3166-1 alpha-2.")
    inn = serializers.RegexField(r"^\d{10}(\d{2})?$", required=False, allow_blank=True, help_text="ИНН.")
    kpp = serializers.CharField(max_length=9, required=False, allow_blank=True, help_text="КПП.")
    ogrn = serializers.RegexField(r"^\d{13}(\d{2})?$", required=False, allow_blank=True, help_text="ОГРН/ОГРНИП.")
    legal_address = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    billing_emails = serializers.ListField(child=serializers.EmailField(), required=False, max_length=20)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False, help_text="IANA time zone.")
    billing_model = serializers.ChoiceField(
        choices=Customer.BillingModel.choices,
        required=False,
        help_text="prepaid (default): charges are taken from the balance, and the customer is suspended after the "
        "grace days beyond the credit limit. postpaid: never suspended; charges of periods starting from "
        "the day it becomes postpaid (UTC) on are invoiced when the periods end. A change is a switch: "
        "it sets or clears postpaid_since and sends customer.billing_model_changed.",
    )
    credit_limit = AmountInputField(positive=False, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=50)
    external_id = serializers.CharField(
        max_length=255, required=False, allow_null=True, help_text="Your own id for this customer (unique)."
    )
    metadata = JSONObjectField(required=False)
    seller_id = serializers.PrimaryKeyRelatedField(
        source="seller",
        queryset=Seller.objects.all(),
        required=False,
        allow_null=True,
        help_text="The seller (legal entity) that serves the customer; null: the plan's product's or the default.",
    )
    closing_documents = serializers.ChoiceField(choices=Customer.ClosingDocuments.choices, required=False)
    document_language = serializers.ChoiceField(choices=[("ru", "ru"), ("en", "en")], required=False)
    pays_by_bank_transfer = serializers.BooleanField(
        required=False, help_text="Gets an invoice for payment before each renewal the balance cannot cover."
    )
    contract_number = serializers.CharField(max_length=64, required=False, allow_blank=True)
    contract_date = serializers.DateField(required=False, allow_null=True)
    edo_id = serializers.CharField(max_length=100, required=False, allow_blank=True)


class CustomerCreateInputSerializer(CustomerFieldsInputSerializer):
    currency = CurrencyField()


class CustomerUpdateInputSerializer(CustomerFieldsInputSerializer):
    read_only_fields = {
        **CustomerFieldsInputSerializer.read_only_fields,
        "currency": gettext_lazy("The currency of a customer cannot be changed."),
        "status": gettext_lazy("Use the close endpoint to close a customer."),
    }


class AdjustmentInputSerializer(StrictInputSerializer):
    direction = serializers.ChoiceField(
        choices=[("credit", "credit"), ("debit", "debit")],
        help_text="credit adds to the customer's balance, debit takes from it.",
    )
    amount = AmountInputField(help_text='A positive decimal string, e.g. "12.34".')
    currency = CurrencyField(required=False, help_text="Defaults to the customer's currency.")
    reason = serializers.CharField(max_length=500)
    effective_date = serializers.DateField(required=False)


class ReverseInputSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


# --- helpers --------------------------------------------------------------------------------


@contextmanager
def _field_errors():
    """full_clean() errors → field errors that keep their codes ("unique", "invalid_timezone", …); a race lost on
    the unique external_id (which full_clean could not see) → the same field error, not a 500."""
    try:
        yield
    except DjangoValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        raise exceptions.ValidationError(
            {
                field: [
                    exceptions.ErrorDetail(message, code=error.code or "invalid")
                    for error in errors
                    for message in error.messages
                ]
                for field, errors in exc.error_dict.items()
            }
        ) from exc
    except IntegrityError as exc:
        if "external_id" not in str(exc):
            raise
        raise exceptions.ValidationError(
            {
                "external_id": [
                    exceptions.ErrorDetail(_("A customer with this external_id already exists."), code="unique")
                ]
            }
        ) from exc


def _transaction_out(*, customer: Customer, transaction_id: int) -> dict:
    txn = selectors.transaction_get(customer=customer, transaction_id=transaction_id)
    return TransactionOutputSerializer(txn).data


# --- customers ------------------------------------------------------------------------------


class CustomerListCreateApi(APIView):
    pagination_class = CursorPagination

    @extend_schema(
        operation_id="customers_list",
        summary="List customers",
        parameters=filter_parameters(CustomerFilter),
        responses=responses({200: CustomerOutputSerializer(many=True)}, 400),
    )
    def get(self, request):
        customers = selectors.customer_list(customer_scope=customer_scope(request), filters=request.query_params)
        return paginated_response(self, request, customers, CustomerOutputSerializer)

    @extend_schema(
        operation_id="customers_create",
        summary="Create a customer",
        request=CustomerCreateInputSerializer,
        responses=responses({201: CustomerOutputSerializer}, 400, 403, 409, 422),
    )
    @idempotent
    def post(self, request):
        if customer_scope(request) is not None:
            raise exceptions.PermissionDenied(
                "This API key is restricted to one customer and cannot create customers.", code="customer_scope"
            )
        data = CustomerCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with _field_errors():
            customer = customer_create(**data.validated_data)
        return Response(CustomerOutputSerializer(customer).data, status=status.HTTP_201_CREATED)


class CustomerDetailApi(APIView):
    @extend_schema(
        operation_id="customers_retrieve",
        summary="Get a customer",
        responses=responses({200: CustomerOutputSerializer}, 404),
    )
    def get(self, request, customer_id: int):
        customer = selectors.customer_get(customer_id=customer_id, customer_scope=customer_scope(request))
        return Response(CustomerOutputSerializer(customer).data)

    @extend_schema(
        operation_id="customers_update",
        summary="Update a customer (only the fields sent)",
        request=CustomerUpdateInputSerializer,
        responses=responses({200: CustomerOutputSerializer}, 400, 403, 404, 422),
    )
    def patch(self, request, customer_id: int):
        customer = selectors.customer_get(customer_id=customer_id, customer_scope=customer_scope(request))
        data = CustomerUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        with _field_errors():
            customer = customer_update(customer_id=customer.pk, **data.validated_data)
        return Response(CustomerOutputSerializer(customer).data)


class CustomerCloseApi(APIView):
    @extend_schema(
        operation_id="customers_close",
        summary="Close a customer (its balance must be zero)",
        request=EmptyInputSerializer,
        responses=responses({200: CustomerOutputSerializer}, 400, 403, 404, 409, 422),
    )
    @idempotent
    def post(self, request, customer_id: int):
        customer = selectors.customer_get(customer_id=customer_id, customer_scope=customer_scope(request))
        EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        customer = customer_close(customer_id=customer.pk)
        return Response(CustomerOutputSerializer(customer).data)


class CustomerBalanceApi(APIView):
    @extend_schema(
        operation_id="customers_balance",
        summary="A customer's balance in each currency",
        responses=responses({200: CustomerBalanceOutputSerializer}, 404),
    )
    def get(self, request, customer_id: int):
        found = selectors.customer_balances_get(customer_id=customer_id, customer_scope=customer_scope(request))
        balances = []
        for money in found.balances:
            currency = money.currency.code
            credit_limit = found.credit_limit if currency == found.currency else 0
            balances.append(
                {
                    "currency": currency,
                    "amount": amount_str(money.amount, currency),
                    "credit_limit": amount_str(credit_limit, currency),
                    "available": amount_str(money.amount + credit_limit, currency),
                }
            )
        # the output serializer documents this shape; the dict is already what it would give (strings and an int)
        return Response({"customer_id": found.customer_id, "currency": found.currency, "balances": balances})


# --- ledger ---------------------------------------------------------------------------------


class CustomerTransactionListApi(APIView):
    pagination_class = CursorPagination

    @extend_schema(
        operation_id="customers_transactions_list",
        summary="A customer's ledger transactions, newest first",
        parameters=filter_parameters(TransactionFilter),
        responses=responses({200: TransactionOutputSerializer(many=True)}, 400, 404),
    )
    def get(self, request, customer_id: int):
        customer = selectors.customer_get(customer_id=customer_id, customer_scope=customer_scope(request))
        transactions = filter_queryset(
            TransactionFilter, request.query_params, selectors.transaction_list(customer=customer)
        )
        return paginated_response(self, request, transactions, TransactionOutputSerializer)


class CustomerTransactionDetailApi(APIView):
    @extend_schema(
        operation_id="customers_transactions_retrieve",
        summary="One ledger transaction",
        responses=responses({200: TransactionOutputSerializer}, 404),
    )
    def get(self, request, customer_id: int, transaction_id: int):
        customer = selectors.customer_get(customer_id=customer_id, customer_scope=customer_scope(request))
        return Response(_transaction_out(customer=customer, transaction_id=transaction_id))


class CustomerAdjustmentApi(APIView):
    @extend_schema(
        operation_id="customers_adjustments_create",
        summary="Manually credit or debit a customer's balance",
        request=AdjustmentInputSerializer,
        responses=responses({201: TransactionOutputSerializer}, 400, 402, 403, 404, 409, 422),
    )
    @idempotent
    def post(self, request, customer_id: int):
        customer = selectors.customer_get(customer_id=customer_id, customer_scope=customer_scope(request))
        data = AdjustmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        txn = customer_balance_adjust(
            customer_id=customer.pk, key=ledger_key(request), created_by=str(request.user), **data.validated_data
        )
        return Response(_transaction_out(customer=customer, transaction_id=txn.pk), status=status.HTTP_201_CREATED)


class TransactionReverseApi(APIView):
    @extend_schema(
        operation_id="transactions_reverse",
        summary="Reverse a transaction (post its mirror image)",
        request=ReverseInputSerializer,
        responses=responses({201: TransactionOutputSerializer}, 400, 403, 404, 409, 422),
    )
    @idempotent
    def post(self, request, transaction_id: int):
        customer = _transaction_customer(request, transaction_id)
        original = selectors.transaction_get(customer=customer, transaction_id=transaction_id)
        data = ReverseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reversal = ledger_reverse(
            transaction_id=original.pk,
            reason=data.validated_data.get("reason", ""),
            created_by=str(request.user),
            key=ledger_key(request),
        )
        return Response(_transaction_out(customer=customer, transaction_id=reversal.pk), status=status.HTTP_201_CREATED)


def _transaction_customer(request, transaction_id: int) -> Customer:
    """The customer a transaction belongs to, within the caller's scope; 404 otherwise (and for system ones)."""
    customer_id = Transaction.objects.filter(pk=transaction_id).values_list("customer_id", flat=True).first()
    if customer_id is None:
        raise NotFound(_("Transaction %(transaction_id)s not found.") % {"transaction_id": transaction_id})
    try:
        return selectors.customer_get(customer_id=customer_id, customer_scope=customer_scope(request))
    except CustomerNotFound as exc:
        raise NotFound(_("Transaction %(transaction_id)s not found.") % {"transaction_id": transaction_id}) from exc
