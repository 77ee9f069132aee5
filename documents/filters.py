import django_filters

from documents.models import Document, DocumentType, Invoice


class InvoiceFilter(django_filters.FilterSet):
    customer_id = django_filters.NumberFilter(field_name="customer_id", label="Customer id.")
    status = django_filters.ChoiceFilter(choices=Invoice.Status.choices)
    issued_from = django_filters.DateFilter(
        field_name="issue_date", lookup_expr="gte", label="Issued on or after this date (YYYY-MM-DD)."
    )
    issued_to = django_filters.DateFilter(
        field_name="issue_date", lookup_expr="lte", label="Issued on or before this date (YYYY-MM-DD)."
    )

    class Meta:
        model = Invoice
        fields = ["customer_id", "status"]


class DocumentFilter(django_filters.FilterSet):
    customer_id = django_filters.NumberFilter(field_name="customer_id", label="Customer id.")
    seller_id = django_filters.NumberFilter(field_name="seller_id", label="Seller id.")
    type = django_filters.ChoiceFilter(field_name="doc_type", choices=DocumentType.choices, label="Document type.")
    status = django_filters.ChoiceFilter(choices=Document.Status.choices)
    period = django_filters.DateFilter(
        field_name="period_start", label="The first day of the month the document covers (YYYY-MM-DD)."
    )
    issued_from = django_filters.DateFilter(
        field_name="issue_date", lookup_expr="gte", label="Dated on or after this date (YYYY-MM-DD)."
    )
    issued_to = django_filters.DateFilter(
        field_name="issue_date", lookup_expr="lte", label="Dated on or before this date (YYYY-MM-DD)."
    )

    class Meta:
        model = Document
        fields = ["customer_id", "seller_id", "type", "status", "period"]
