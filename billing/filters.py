import django_filters

from billing.models import Customer, Transaction
from config.api.filters import IsoDateTimeFilter


class CustomerFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Customer.Status.choices)
    kind = django_filters.ChoiceFilter(choices=Customer.Kind.choices)
    currency = django_filters.CharFilter(lookup_expr="iexact")
    external_id = django_filters.CharFilter()
    inn = django_filters.CharFilter()
    email = django_filters.CharFilter(field_name="billing_emails", lookup_expr="icontains", method="filter_email")
    tag = django_filters.CharFilter(method="filter_tag")
    name = django_filters.CharFilter(lookup_expr="icontains")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Customer
        fields = ["status", "kind", "currency", "external_id", "inn"]

    def filter_email(self, queryset, name, value):
        return queryset.filter(billing_emails__contains=[value.strip().lower()])

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tags__contains=[value])


class TransactionFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Transaction.Kind.choices)
    effective_from = django_filters.DateFilter(field_name="effective_date", lookup_expr="gte")
    effective_to = django_filters.DateFilter(field_name="effective_date", lookup_expr="lte")

    class Meta:
        model = Transaction
        fields = ["kind"]
