"""Django's session, authentication and messages middleware, skipped for the REST API's requests and the payment
providers' webhooks.

The API authenticates by API key only (config.api.auth) and a webhook by its signature (billing.payment_views): they
read no session, no logged-in user and no flash messages, so the work these do on every request (a session store, a
lazy user, a messages storage, and their response hooks) is left out for paths under /api/ and /payments/webhooks/.
Every other path (the admin, the portal, the test-mode checkout page) gets them as before.
"""

from __future__ import annotations

from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as sessions_middleware

API_PATH_PREFIX = "/api/"
STATELESS_PATH_PREFIXES = (API_PATH_PREFIX, "/payments/webhooks/")


class _NotForApi:
    def __call__(self, request):
        if request.path_info.startswith(STATELESS_PATH_PREFIXES):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_NotForApi, sessions_middleware.SessionMiddleware):
    pass


class AuthenticationMiddleware(_NotForApi, auth_middleware.AuthenticationMiddleware):
    pass


class MessageMiddleware(_NotForApi, messages_middleware.MessageMiddleware):
    pass
