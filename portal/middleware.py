"""Who may frame the portal. An ordinary portal page may be framed by nobody (`frame-ancestors 'none'` and
X-Frame-Options DENY). A widget session's pages may be framed only by the origins configured on the API key whose
secret signed its token; its session and CSRF cookies are then `SameSite=None; Secure`, or a browser would not send
them from inside another site's page, and `Partitioned`, so that a browser blocking third-party cookies keeps them
in a jar of that site's own. The same holds for the language cookie that the portal's language switch (Django's
set_language, outside /portal/) sets for a widget session: a `Lax` cookie set inside a cross-site frame is dropped,
and the language would never change there.

Listed before the session middleware, so that it sees the cookies the session and CSRF layers set."""

from __future__ import annotations

from http.cookies import Morsel

from django.conf import settings

from billing.models import ApiKey
from portal.access import SESSION_KEY

PORTAL_PREFIX = "/portal/"
SET_LANGUAGE_PATH = "/i18n/setlang/"  # django.conf.urls.i18n, included at /i18n/ (config/urls.py)

# CHIPS: a cookie of a site framed by another one is kept only when it is `Partitioned` (its own jar per top-level
# site) once a browser blocks third-party cookies, as Chrome may and Safari and Firefox do. Python reads and writes
# the attribute from 3.14 on; before that it is taught here.
if "partitioned" not in Morsel._reserved:  # pragma: no branch
    Morsel._reserved["partitioned"] = "Partitioned"
    Morsel._flags.add("partitioned")


class PortalFrameMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path_info.startswith(PORTAL_PREFIX) and request.path_info != SET_LANGUAGE_PATH:
            return response
        data = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
        origins = []
        if data and data.get("via") == "widget" and data.get("api_key"):
            key = ApiKey.objects.filter(pk=data["api_key"], revoked_at=None).only("widget_origins").first()
            origins = list(key.widget_origins) if key is not None else []
        if origins:
            response["Content-Security-Policy"] = "frame-ancestors " + " ".join(origins)
            if "X-Frame-Options" in response:
                del response["X-Frame-Options"]
            for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME, settings.LANGUAGE_COOKIE_NAME):
                if name in response.cookies:
                    response.cookies[name]["samesite"] = "None"
                    response.cookies[name]["secure"] = True
                    response.cookies[name]["partitioned"] = True
        else:
            response["Content-Security-Policy"] = "frame-ancestors 'none'"
            response["X-Frame-Options"] = "DENY"
        return response
