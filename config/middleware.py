"""Django's session, authentication and messages middleware, skipped for the REST API's requests.

The API authenticates by API key only (config.api.auth): it reads no session, no logged-in user and no flash
messages, so the work these do on every request (a session store, a lazy user, a messages storage, and their
response hooks) is left out for paths under /api/. Every other path (the admin, the portal) gets them as before.
"""

from __future__ import annotations

from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as sessions_middleware

API_PATH_PREFIX = "/api/"


class _NotForApi:
    def __call__(self, request):
        if request.path_info.startswith(API_PATH_PREFIX):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_NotForApi, sessions_middleware.SessionMiddleware):
    pass


class AuthenticationMiddleware(_NotForApi, auth_middleware.AuthenticationMiddleware):
    pass


class MessageMiddleware(_NotForApi, messages_middleware.MessageMiddleware):
    pass
