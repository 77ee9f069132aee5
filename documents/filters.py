import django_filters

from documents.models import Invoice


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
