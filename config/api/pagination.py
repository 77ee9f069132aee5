"""Cursor pagination, newest first by default, and the one helper that pages a list view's queryset."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework import pagination
from rest_framework.exceptions import ErrorDetail, NotFound, ValidationError
from rest_framework.response import Response


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    max_page_size = 500
    page_size_query_param = "limit"
    ordering = "-id"

    def decode_cursor(self, request):
        """A cursor that is not one this API made is bad input on the `cursor` parameter (400), not a 404."""
        try:
            return super().decode_cursor(request)
        except NotFound as exc:
            raise self._invalid() from exc

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, DjangoValidationError) as exc:  # a well-formed cursor whose position is not an id
            raise self._invalid() from exc

    def _invalid(self) -> ValidationError:
        message = _("Invalid cursor: use the `next` or `previous` link of a page as given.")
        return ValidationError({self.cursor_query_param: [ErrorDetail(message, code="invalid")]})


def paginated_response(view, request, queryset, serializer_class, prepare=None) -> Response:
    """One page of `queryset` with the view's pagination class; `prepare(page)` may load what the page needs
    (e.g. prices as of now) before it is serialized."""
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    if prepare is not None:
        page = prepare(page)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
