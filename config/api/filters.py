"""Query-string filters: a django-filter FilterSet applied to a queryset, bad values refused as field errors."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError


def filter_queryset(filterset_class, filters, queryset: QuerySet) -> QuerySet:
    """`queryset` narrowed by `filters` (e.g. request.query_params); an invalid value raises ValidationError,
    which the API renders as a 400 problem with one error per field."""
    filterset = filterset_class(filters, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs
