"""API keys as `Authorization: Bearer <key>`; read scope for safe methods, read_write for writes.

The key model is billing's; it is named by the API_KEY_MODEL setting (like AUTH_USER_MODEL) and resolved when a
request is authenticated, so this module imports no domain app. The model has `key_hash` (see config.api.keys),
`revoked_at`, `last_used_at`, `customer_id` (the one customer a restricted key may see) and `can_write`.
"""

from __future__ import annotations

from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from config.api.keys import hash_api_key
from config.db import prepared_cursor

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
        # the header as DRF's get_authorization_header reads it, without building request.headers for it
        header = request._request.META.get("HTTP_AUTHORIZATION", "")
        if isinstance(header, bytes):
            header = header.decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <api key>'.", code="invalid_auth_header")
        api_key = _active_key(hash_api_key(parts[1]))
        if api_key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.", code="invalid_api_key")
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > _LAST_USED_RESOLUTION:
            type(api_key).objects.filter(pk=api_key.pk).update(last_used_at=now)
        return ApiCaller(api_key), api_key

    def authenticate_header(self, request):
        return self.keyword


_key_lookup: tuple | None = None  # (model, SQL), built at the first request: the model is resolved by name


def _active_key(key_hash: str):
    """The unrevoked key with this hash, or None: looked up in the database on every request, never cached, so a
    revoked key is refused from the next request on.

    Every request of every API operation runs this lookup, so it is one prepared statement (config.db) by the
    unique key_hash, read into a model instance without the ORM's query compilation.
    """
    global _key_lookup
    if _key_lookup is None:
        model = apps.get_model(settings.API_KEY_MODEL)
        meta = model._meta
        columns = ", ".join(f'"{field.column}"' for field in meta.concrete_fields)
        hash_column, revoked_column = meta.get_field("key_hash").column, meta.get_field("revoked_at").column
        sql = f'SELECT {columns} FROM "{meta.db_table}" WHERE "{hash_column}" = %s AND "{revoked_column}" IS NULL'
        _key_lookup = model, sql
    model, sql = _key_lookup
    cursor = prepared_cursor()  # the connection's own cursor: not closed
    cursor.execute(sql, (key_hash,))
    row = cursor.fetchone()
    if row is None:
        return None
    return model.from_db(DEFAULT_DB_ALIAS, None, row)


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
