"""problem+json (RFC 9457): every API error, and the 404/500 pages under /api/, in one shape."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import ApplicationError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
_PROBLEM_MEMBERS = frozenset({"type", "title", "status", "detail", "code", "errors", "instance"})


def problem_body(*, status_code: int, code: str, title: str, detail: str, errors=None, instance=None, **extra):
    body = {
        "type": f"urn:billing:problem:{code}",
        "title": str(title),
        "status": status_code,
        "detail": str(detail),
        "code": code,
        "errors": errors or [],
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def problem_response(*, status_code: int, code: str, title: str, detail: str, errors=None, request=None, **extra):
    body = problem_body(
        status_code=status_code,
        code=code,
        title=title,
        detail=detail,
        errors=errors,
        instance=request.path if request is not None else None,
        **extra,
    )
    return Response(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def flatten_errors(detail, prefix: str = "") -> list[dict]:
    """DRF's nested error details → [{field, code, message}] with dotted field paths."""
    out: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", "__all__") and not prefix else str(key)
            path = f"{prefix}.{name}" if prefix and name else (name or prefix)
            out.extend(flatten_errors(value, path))
    elif isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail) for item in detail):
            for item in detail:
                out.append({"field": prefix or None, "code": item.code, "message": str(item)})
        else:
            for index, item in enumerate(detail):
                if item in ({}, []):
                    continue
                out.extend(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    elif isinstance(detail, exceptions.ErrorDetail):
        out.append({"field": prefix or None, "code": detail.code, "message": str(detail)})
    else:
        out.append({"field": prefix or None, "code": "invalid", "message": str(detail)})
    return out


def problem_exception_handler(exc, context):
    request = context.get("request")
    if isinstance(exc, ApplicationError):
        # an error may carry its own field errors in `extra["errors"]` (e.g. one per bad item of a batch);
        # other extras never replace the standard members (an extra "status" is not the HTTP status)
        errors = exc.extra.get("errors") or (
            [{"field": exc.field, "code": exc.code, "message": exc.message}] if exc.field else []
        )
        extra = {key: value for key, value in exc.extra.items() if key not in _PROBLEM_MEMBERS}
        return problem_response(
            status_code=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.message,
            errors=errors,
            request=request,
            **extra,
        )
    if isinstance(exc, RequestDataTooBig):
        return problem_response(
            status_code=413,
            code="request_too_large",
            title=_("Request body too large"),
            detail=_too_large_detail(),
            request=request,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_error_detail(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: let Django log it and answer 500 (handler500 renders problem+json)

    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        detail = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors[:5])
        body = problem_body(
            status_code=400,
            code="validation_error",
            title=_("The request has invalid fields"),
            detail=detail or _("Invalid input."),
            errors=errors,
            instance=request.path if request else None,
        )
        return Response(body, status=400, content_type=PROBLEM_CONTENT_TYPE, headers=_headers(response))

    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.ParseError):
        code = "malformed_request"
    if isinstance(exc, exceptions.APIException) and isinstance(exc.detail, exceptions.ErrorDetail):
        detail = str(exc.detail)
        code = exc.detail.code if exc.detail.code not in (None, "parse_error") else code
    else:
        detail = str(getattr(exc, "detail", exc))
    body = problem_body(
        status_code=response.status_code,
        code=code,
        title=_TITLES.get(response.status_code, _("Request failed")),
        detail=detail,
        instance=request.path if request else None,
    )
    return Response(body, status=response.status_code, content_type=PROBLEM_CONTENT_TYPE, headers=_headers(response))


def _django_error_detail(exc: DjangoValidationError) -> dict:
    """A model ValidationError → DRF details, keeping each message's code (e.g. "invalid_choice", "max_length")."""

    def details(errors) -> list[exceptions.ErrorDetail]:
        out = []
        for error in errors:
            message = error.message % error.params if error.params else error.message
            out.append(exceptions.ErrorDetail(str(message), code=error.code or "invalid"))
        return out

    if hasattr(exc, "error_dict"):
        return {field: details(errors) for field, errors in exc.error_dict.items()}
    return {"non_field_errors": details(exc.error_list)}


_TITLES = {
    400: _("Bad request"),
    401: _("Authentication required"),
    403: _("Forbidden"),
    404: _("Not found"),
    405: _("Method not allowed"),
    406: _("Not acceptable"),
    409: _("Conflict"),
    415: _("Unsupported media type"),
    422: _("Unprocessable request"),
    429: _("Too many requests"),
}


def _headers(response) -> dict:
    return {k: v for k, v in response.items() if k.lower() in ("www-authenticate", "retry-after", "allow")}


def _json_problem(request, status_code: int, code: str, title: str, detail: str) -> JsonResponse:
    body = problem_body(status_code=status_code, code=code, title=title, detail=detail, instance=request.path)
    return JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def _too_large_detail() -> str:
    return f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."


def handler400(request, exception=None):
    """Django's own 400s (a body over DATA_UPLOAD_MAX_MEMORY_SIZE read outside a view, a bad Host) under /api/ are
    problems too."""
    if request.path.startswith("/api/"):
        if isinstance(exception, RequestDataTooBig):
            return _json_problem(request, 413, "request_too_large", "Request body too large", _too_large_detail())
        return _json_problem(request, 400, "bad_request", "Bad request", "The request could not be processed.")
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return _json_problem(request, 404, "not_found", "Not found", "No such resource.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    logger.error("unhandled error on %s", request.path)
    if request.path.startswith("/api/"):
        return _json_problem(
            request, 500, "server_error", "Internal server error", "The server failed to process the request."
        )
    from django.views.defaults import server_error

    return server_error(request)
