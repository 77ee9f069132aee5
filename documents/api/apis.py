"""REST API v1 of the documents app: the invoices of postpaid customers (read only), the documents (list, get, the
PDF) and invoices for payment of an amount.

Conventions are config.api's: the caller is an ApiCaller (a key restricted to one customer sees only that
customer's invoices, another customer's invoice answers 404), lists are cursor-paginated newest first and
filtered with django-filter, errors are problem+json.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.money_fields import AmountInputField, MoneyAmountField, amount_str
from config.api.auth import customer_scope
from config.api.idempotency import idempotent, ledger_key
from config.api.pagination import CursorPagination, paginated_response
from config.api.schema import filter_parameters, responses
from config.api.serializers import StrictInputSerializer
from documents import selectors
from documents.exports.http import edo_xml_response
from documents.filters import DocumentFilter, InvoiceFilter
from documents.models import Document, Invoice
from documents.services.issuing import document_pdf
from documents.services.payment_invoices import payment_invoice_issue

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


# --- documents (issue 11) -------------------------------------------------------------------------


class DocumentLineOutputSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    name = serializers.CharField()
    okei_code = serializers.CharField(help_text="Unit code per OKEI (362 month, 796 piece); empty for none.")
    unit_name = serializers.CharField()
    quantity = serializers.SerializerMethodField()
    price = serializers.SerializerMethodField(help_text="Per unit, without VAT.")
    amount_net = serializers.SerializerMethodField()
    vat_rate = serializers.CharField(help_text="22, 20, 10, 7, 5, 0 or none («без НДС»).")
    vat = serializers.SerializerMethodField()
    amount = serializers.SerializerMethodField(help_text="With VAT: amount_net + vat.")

    def _money(self, value) -> str:
        return amount_str(value, self.context["currency"])

    def get_quantity(self, line) -> str:
        return format(line.quantity.normalize(), "f")

    def get_price(self, line) -> str:
        return self._money(line.price)

    def get_amount_net(self, line) -> str:
        return self._money(line.amount_net)

    def get_vat(self, line) -> str:
        return self._money(line.vat)

    def get_amount(self, line) -> str:
        return self._money(line.amount)


class DocumentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField(
        source="doc_type",
        help_text="payment_invoice, act, vat_invoice, upd, advance_vat_invoice, credit_note or corrective_vat_invoice.",
    )
    number = serializers.CharField(help_text="Gapless per (seller, type, year); empty for a draft.")
    status = serializers.ChoiceField(choices=Document.Status.choices)
    customer_id = serializers.IntegerField()
    seller_id = serializers.IntegerField()
    issue_date = serializers.DateField()
    period_start = serializers.DateField(allow_null=True)
    period_end = serializers.DateField(allow_null=True, help_text="Exclusive.")
    due_date = serializers.DateField(allow_null=True)
    currency = serializers.CharField()
    total_net = serializers.SerializerMethodField()
    total_vat = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()
    upd_status = serializers.IntegerField(allow_null=True)
    refers_to_id = serializers.IntegerField(allow_null=True)
    payment_purpose = serializers.CharField(help_text="For an invoice for payment: what the transfer should say.")
    language = serializers.CharField()
    void_reason = serializers.CharField()
    pdf_url = serializers.SerializerMethodField(help_text="Where the PDF is downloaded (null for a draft).")

    def get_total_net(self, doc) -> str:
        return amount_str(doc.total_net, doc.currency)

    def get_total_vat(self, doc) -> str:
        return amount_str(doc.total_vat, doc.currency)

    def get_total(self, doc) -> str:
        return amount_str(doc.total, doc.currency)

    def get_pdf_url(self, doc) -> str | None:
        if doc.status == Document.Status.DRAFT:
            return None
        return reverse("document-pdf", args=[doc.pk])


class DocumentDetailOutputSerializer(DocumentOutputSerializer):
    lines = serializers.SerializerMethodField()
    seller = serializers.JSONField(source="seller_data", help_text="The seller's requisites as at issue.")
    buyer = serializers.JSONField(source="buyer_data", help_text="The customer's requisites as at issue.")

    @extend_schema_field(DocumentLineOutputSerializer(many=True))
    def get_lines(self, doc):
        return DocumentLineOutputSerializer(doc.lines.all(), many=True, context={"currency": doc.currency}).data


class PaymentInvoiceInputSerializer(StrictInputSerializer):
    customer_id = serializers.IntegerField()
    amount = AmountInputField(
        help_text='What the customer is to pay, VAT included: a positive decimal, e.g. "5000.00".'
    )
    issue_date = serializers.DateField(required=False, help_text="Defaults to today.")


class DocumentListApi(APIView):
    pagination_class = CursorPagination

    @extend_schema(
        operation_id="documents_list",
        summary="List documents, newest first",
        description="Invoices for payment, acts, VAT invoices, УПД and corrections, drafts included.",
        parameters=filter_parameters(DocumentFilter),
        responses=responses({200: DocumentOutputSerializer(many=True)}, 400),
    )
    def get(self, request):
        documents = selectors.document_list(customer_scope=customer_scope(request), filters=request.query_params)
        return paginated_response(self, request, documents, DocumentOutputSerializer)


class DocumentDetailApi(APIView):
    @extend_schema(
        operation_id="documents_retrieve",
        summary="Get a document with its lines and the requisites it was issued with",
        responses=responses({200: DocumentDetailOutputSerializer}, 404),
    )
    def get(self, request, document_id: int):
        document = selectors.document_get(document_id=document_id, customer_scope=customer_scope(request))
        return Response(DocumentDetailOutputSerializer(document).data)


class PaymentInvoiceCreateApi(APIView):
    @extend_schema(
        operation_id="documents_payment_invoices_create",
        summary="Issue an invoice for payment of an amount",
        description="An invoice for payment (счёт на оплату) of the amount, VAT included at the customer's "
        "seller's rate; its payment purpose carries its number for bank-statement matching.",
        request=PaymentInvoiceInputSerializer,
        responses=responses({201: DocumentDetailOutputSerializer}, 400, 403, 404, 409, 422),
    )
    @idempotent
    def post(self, request):
        data = PaymentInvoiceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        document = payment_invoice_issue(
            customer_id=values["customer_id"],
            amount=values["amount"],
            issue_date=values.get("issue_date"),
            key=ledger_key(request),
            by=str(request.user),
            customer_scope=customer_scope(request),
        )
        document = selectors.document_get(document_id=document.pk, customer_scope=customer_scope(request))
        return Response(DocumentDetailOutputSerializer(document).data, status=status.HTTP_201_CREATED)


class DocumentPdfApi(APIView):
    @extend_schema(
        operation_id="documents_pdf",
        summary="Download a document's PDF",
        description="The printed form. An issued document's PDF is rendered once and stored (the same bytes on every "
        "download); a draft's is a preview rendered on the spot.",
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, **responses({}, 404)},
    )
    def get(self, request, document_id: int):
        document = selectors.document_get(document_id=document_id, customer_scope=customer_scope(request))
        content, name = document_pdf(document)
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = content_disposition_header(True, name)  # a Cyrillic number: RFC 6266
        return response


class DocumentXmlApi(APIView):
    @extend_schema(
        operation_id="documents_xml",
        summary="Download a УПД's or VAT invoice's EDO XML (format 5.03)",
        description="The file for an EDO operator, windows-1251, named ON_NSCHFDOPPR_<recipient>_<sender>_… as the "
        "format requires. Other document types, drafts and parties without an EDO id answer 422 with the field.",
        responses={(200, "application/xml"): OpenApiTypes.BINARY, **responses({}, 404, 422)},
    )
    def get(self, request, document_id: int):
        document = selectors.document_get(document_id=document_id, customer_scope=customer_scope(request))
        return edo_xml_response(document)
