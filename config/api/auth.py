"""API keys as `Authorization: Bearer <key>`; read scope for safe methods, read_write for writes.

The key model is billing's; it is named by the API_KEY_MODEL setting (like AUTH_USER_MODEL) and resolved when a
request is authenticated, so this module imports no domain app. The model has `key_hash` (see config.api.keys),
`revoked_at`, `last_used_at`, `customer_id` (the one customer a restricted key may see) and `can_write`.
"""

from __future__ import annotations

from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from config.api.keys import hash_api_key

_LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiCaller:
    """The authenticated integrator: the API key and, when the key is restricted, its customer."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, api_key):
        self.api_key = api_key
        self.customer_id = api_key.customer_id

    def __str__(self) -> str:
        return f"api_key:{self.api_key.pk}"


def customer_scope(request) -> int | None:
    """The one customer the caller's key is restricted to, or None for a key that sees every customer."""
    return request.user.customer_id


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <api key>'.", code="invalid_auth_header")
        api_key_model = apps.get_model(settings.API_KEY_MODEL)
        try:  # key_hash is unique: get() spares first()'s ORDER BY, a quarter of this lookup's work in Python
            api_key = api_key_model.objects.get(key_hash=hash_api_key(parts[1]), revoked_at=None)
        except api_key_model.DoesNotExist:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.", code="invalid_api_key") from None
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > _LAST_USED_RESOLUTION:
            api_key_model.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return ApiCaller(api_key), api_key

    def authenticate_header(self, request):
        return self.keyword


class HasApiKeyScope(permissions.BasePermission):
    message = "This API key has read scope only."

    def has_permission(self, request, view):
        caller = request.user
        if not isinstance(caller, ApiCaller):
            raise exceptions.NotAuthenticated("An API key is required: 'Authorization: Bearer <api key>'.")
        if request.method in permissions.SAFE_METHODS:
            return True
        if not caller.api_key.can_write:
            raise exceptions.PermissionDenied(self.message, code="insufficient_scope")
        return True


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Shows ApiKeyAuthentication in the OpenAPI schema as HTTP bearer auth."""

    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "API key",
            "description": "`Authorization: Bearer <api key>`. Keys are created in the admin and shown once.",
        }
