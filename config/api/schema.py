"""OpenAPI helpers: problem+json responses and query parameters taken from a django-filter FilterSet."""

from __future__ import annotations

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from config.api.filters import IsoDateTimeFilter
from config.api.problems import PROBLEM_CONTENT_TYPE

JSON = "application/json"


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="Dotted path of the input field; null for the request.")
    code = serializers.CharField()
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, with a stable machine-readable `code` and per-field `errors`."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField()
    errors = ProblemFieldErrorSerializer(many=True)
    instance = serializers.CharField(required=False)


_PROBLEM_DESCRIPTIONS = {
    400: "Invalid input (`validation_error`, `malformed_request`, `idempotency_key_required`).",
    401: "No, unknown or revoked API key.",
    402: "The prepaid rule: the customer's balance plus credit limit does not cover the immediate charge "
    "(`insufficient_funds`, with `needed`, `available` and `currency`), or the customer is suspended for "
    "insufficient funds and cannot upgrade or buy until a top-up resumes it (`customer_suspended`).",
    403: "The API key's scope does not allow this.",
    404: "No such resource for this API key.",
    409: "A request with this Idempotency-Key is still being processed (`idempotent_request_in_progress`), or "
    "the state does not allow it yet: `renewal_pending` when a subscription's period has ended and the billing run "
    "has not renewed it (`period_end` says which; retry after the run).",
    413: "The request body is larger than the server accepts (`request_too_large`).",
    422: "A business rule refused the request (`idempotency_key_reused`, `currency_mismatch`, …).",
    503: "The payment provider did not answer (`payment_provider_unavailable`): the payment is recorded and retried.",
}


def responses(success: dict, *problems: int) -> dict:
    """`{(status, media type): …}` for the success responses plus problem+json for the given error statuses."""
    out = {(status, JSON): value for status, value in success.items()}
    for status in (401, *problems):
        description = _PROBLEM_DESCRIPTIONS[status]
        out[(status, PROBLEM_CONTENT_TYPE)] = OpenApiResponse(ProblemSerializer, description=description)
    return out


_FILTER_TYPES = {
    django_filters.DateFilter: OpenApiTypes.DATE,
    django_filters.IsoDateTimeFilter: OpenApiTypes.DATETIME,
    IsoDateTimeFilter: OpenApiTypes.DATETIME,
    django_filters.NumberFilter: OpenApiTypes.NUMBER,
}


def filter_parameters(filterset_class) -> list[OpenApiParameter]:
    params = []
    for name, filter_ in filterset_class.base_filters.items():
        enum = (
            [value for value, _label in filter_.extra["choices"]]
            if isinstance(filter_, django_filters.ChoiceFilter)
            else None
        )
        params.append(
            OpenApiParameter(
                name=name,
                type=_FILTER_TYPES.get(type(filter_), OpenApiTypes.STR),
                location=OpenApiParameter.QUERY,
                required=False,
                enum=enum,
                description=str(filter_.label or ""),
            )
        )
    return params
