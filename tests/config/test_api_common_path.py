"""The API's common path: content negotiation's shortcut gives what DRF's gives, and the session, auth and messages
middleware are skipped for /api/ only."""

from __future__ import annotations

import pytest
from django.contrib.messages.storage.base import BaseStorage
from django.contrib.sessions.backends.base import SessionBase
from django.http import Http404, HttpResponse
from django.test import RequestFactory
from drf_spectacular.views import SpectacularAPIView
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from config.api.negotiation import ContentNegotiation
from config.middleware import AuthenticationMiddleware, MessageMiddleware, SessionMiddleware

ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "",
    "text/html",
    "application/json; indent=4",
    "application/json;q=0.5, text/html",
    "application/*",
    "application/vnd.oai.openapi",
    "application/vnd.oai.openapi+json",
    "APPLICATION/JSON",
    " application/json",
]
QUERIES = ["", "format=json", "format=xml", "format=openapi-json", "page=2"]


def _negotiate(negotiation, accept, query, renderers, suffix):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(RequestFactory().get(f"/api/v1/customers/?{query}" if query else "/api/v1/customers/", **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers, suffix)
    except (exceptions.NotAcceptable, Http404) as exc:  # Http404: an unknown ?format=
        return type(exc).__name__
    return renderers.index(renderer), media_type


@pytest.mark.parametrize(
    "renderer_classes", [[JSONRenderer], SpectacularAPIView.renderer_classes], ids=["api", "schema"]
)
@pytest.mark.parametrize("suffix", [None, "json"])
@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("accept", ACCEPTS)
def test_negotiation_gives_what_drfs_gives(accept, query, suffix, renderer_classes):
    # given
    renderers = [cls() for cls in renderer_classes]

    # when
    ours = _negotiate(ContentNegotiation(), accept, query, renderers, suffix)
    drfs = _negotiate(DefaultContentNegotiation(), accept, query, renderers, suffix)

    # then
    assert ours == drfs


@pytest.mark.parametrize(
    "path, wrapped",
    [("/api/v1/customers/1/balance/", False), ("/api/v1/schema/", False), ("/admin/", True), ("/portal/", True)],
)
def test_session_auth_and_messages_middleware_run_for_every_path_but_the_apis(path, wrapped):
    # given the three middleware in settings' order, around a view that notes what the request carries
    seen = {}

    def view(request):
        seen.update(
            session=isinstance(getattr(request, "session", None), SessionBase),
            user=hasattr(request, "user"),
            messages=isinstance(getattr(request, "_messages", None), BaseStorage),
        )
        return HttpResponse("ok")

    chain = SessionMiddleware(AuthenticationMiddleware(MessageMiddleware(view)))

    # when
    response = chain(RequestFactory().get(path))

    # then
    assert response.status_code == 200
    assert seen == {"session": wrapped, "user": wrapped, "messages": wrapped}
