"""Query-string filters: a django-filter FilterSet applied to a queryset, bad values refused as field errors."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import QuerySet
from django_filters.fields import IsoDateTimeField
from rest_framework.exceptions import ValidationError

from config.datetimes import OFFSET_ERROR, utc_offset_in_range


class _BoundedIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is not None and not utc_offset_in_range(parsed):
            raise forms.ValidationError(OFFSET_ERROR, code="invalid")
        return parsed


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 instant whose UTC offset PostgreSQL can hold (see config.datetimes)."""

    field_class = _BoundedIsoDateTimeField


def filter_queryset(filterset_class, filters, queryset: QuerySet) -> QuerySet:
    """`queryset` narrowed by `filters` (e.g. request.query_params); an invalid value raises ValidationError,
    which the API renders as a 400 problem with one error per field."""
    filterset = filterset_class(filters, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs
