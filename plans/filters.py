import django_filters
from django.db.models import Exists, OuterRef
from django.utils import timezone

from plans.models import Plan, PlanPrice, Subscription


class PlanFilter(django_filters.FilterSet):
    product = django_filters.CharFilter(field_name="product__code", label="Product code.")
    currency = django_filters.CharFilter(
        method="filter_currency", label="Only plans with a current price in this currency (ISO 4217)."
    )
    public = django_filters.BooleanFilter(field_name="is_public", label="true: only the plans of the public showcase.")

    class Meta:
        model = Plan
        fields = ["product", "currency", "public"]

    def filter_currency(self, queryset, name, value):
        priced = PlanPrice.objects.filter(
            plan=OuterRef("pk"), amount_currency=value.strip().upper(), valid_from__lte=timezone.now()
        )
        return queryset.filter(Exists(priced))


class SubscriptionFilter(django_filters.FilterSet):
    customer_id = django_filters.NumberFilter(field_name="customer_id", label="Customer id.")
    status = django_filters.ChoiceFilter(choices=Subscription.Status.choices)
    plan = django_filters.CharFilter(field_name="plan__code", label="Plan code.")

    class Meta:
        model = Subscription
        fields = ["customer_id", "status", "plan"]
