"""The application error every app subclasses. The API renders it as problem+json."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    """A broken business rule. `code` is stable and machine-readable; `field` points at input."""

    code = "application_error"
    status = 422
    title = _("The request breaks a business rule")

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None, extra=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field
        self.extra = extra or {}


class NotFound(ApplicationError):
    code = "not_found"
    status = 404
    title = _("Not found")


class Conflict(ApplicationError):
    code = "conflict"
    status = 409
    title = _("Conflict")
