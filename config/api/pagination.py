"""Cursor pagination, newest first by default, and the one helper that pages a list view's queryset."""

from __future__ import annotations

from rest_framework import pagination
from rest_framework.response import Response


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    max_page_size = 500
    page_size_query_param = "limit"
    ordering = "-id"


def paginated_response(view, request, queryset, serializer_class, prepare=None) -> Response:
    """One page of `queryset` with the view's pagination class; `prepare(page)` may load what the page needs
    (e.g. prices as of now) before it is serialized."""
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    if prepare is not None:
        page = prepare(page)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
