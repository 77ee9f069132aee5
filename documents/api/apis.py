"""REST API v1 of the documents app: the invoices of postpaid customers (read only).

Conventions are config.api's: the caller is an ApiCaller (a key restricted to one customer sees only that
customer's invoices, another customer's invoice answers 404), lists are cursor-paginated newest first and
filtered with django-filter, errors are problem+json.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.money_fields import MoneyAmountField
from config.api.auth import customer_scope
from config.api.pagination import CursorPagination, paginated_response
from config.api.schema import filter_parameters, responses
from documents import selectors
from documents.filters import InvoiceFilter
from documents.models import Invoice

# --- output ---------------------------------------------------------------------------------------


class InvoicePeriodOutputSerializer(serializers.Serializer):
    start = serializers.DateField(source="period_start")
    end = serializers.DateField(source="period_end", help_text="Exclusive: the day after the last day covered.")


class InvoiceBuyerOutputSerializer(serializers.Serializer):
    name = serializers.CharField(source="buyer_name")
    inn = serializers.CharField(source="buyer_inn", help_text="ИНН; empty when the buyer has none.")
    kpp = serializers.CharField(source="buyer_kpp", help_text="КПП; empty when the buyer has none.")
    address = serializers.CharField(source="buyer_address")
    emails = serializers.ListField(source="buyer_emails", child=serializers.EmailField())


class InvoiceLineDetailOutputSerializer(serializers.Serializer):
    kind = serializers.CharField(
        help_text="plan, option, usage, setup_fee, discount, minimum_commitment, proration_credit or proration_charge."
    )
    description = serializers.CharField()
    amount = serializers.CharField(help_text="Decimal string; negative for discounts and credits.")
    quantity = serializers.CharField()
    ref = serializers.CharField(help_text="The plan, option or promotion code.")


class InvoiceLineOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    charge_id = serializers.IntegerField()
    subscription_id = serializers.IntegerField(source="charge.subscription_id")
    description = serializers.CharField()
    period = InvoicePeriodOutputSerializer(source="*")
    amount = MoneyAmountField(help_text="Negative for a credit.")
    details = InvoiceLineDetailOutputSerializer(many=True, help_text="The charge's own lines.")


class InvoiceOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField(help_text="INV-<year>-<number in the year>, gapless.")
    customer_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Invoice.Status.choices)
    currency = serializers.CharField()
    issue_date = serializers.DateField()
    due_date = serializers.DateField()
    period = InvoicePeriodOutputSerializer(source="*", help_text="The span its charges cover.")
    total = MoneyAmountField(help_text="The sum of the lines.")
    buyer = InvoiceBuyerOutputSerializer(source="*", help_text="The customer's requisites at issue time.")
    created_at = serializers.DateTimeField()


class InvoiceDetailOutputSerializer(InvoiceOutputSerializer):
    lines = InvoiceLineOutputSerializer(source="line_list", many=True)


# --- views ----------------------------------------------------------------------------------------


class InvoiceListApi(APIView):
    pagination_class = CursorPagination

    @extend_schema(
        operation_id="invoices_list",
        summary="List invoices, newest first",
        description="Invoices for payment of postpaid customers, issued when the periods of their charges end. "
        "The lines are in the invoice's own view.",
        parameters=filter_parameters(InvoiceFilter),
        responses=responses({200: InvoiceOutputSerializer(many=True)}, 400),
    )
    def get(self, request):
        invoices = selectors.invoice_list(customer_scope=customer_scope(request), filters=request.query_params)
        return paginated_response(self, request, invoices, InvoiceOutputSerializer)


class InvoiceDetailApi(APIView):
    @extend_schema(
        operation_id="invoices_retrieve",
        summary="Get an invoice with its lines",
        responses=responses({200: InvoiceDetailOutputSerializer}, 404),
    )
    def get(self, request, invoice_id: int):
        invoice = selectors.invoice_get(invoice_id=invoice_id, customer_scope=customer_scope(request))
        return Response(InvoiceDetailOutputSerializer(invoice).data)
