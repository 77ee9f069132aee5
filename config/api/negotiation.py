"""Content negotiation: DRF's, with a shortcut for the Accept headers nearly every API request sends."""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's DefaultContentNegotiation, answering the common case without parsing the Accept header.

    A request without a format suffix or query string whose Accept header is absent, `*/*` or exactly the first
    renderer's media type (`application/json`) gets what DRF's negotiation gives it: the first renderer and its
    media type. Every other request (a list of types, parameters, a `?format=`, an unacceptable type) goes through
    DRF's negotiation unchanged.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        if not format_suffix and renderers:
            meta = request._request.META
            first = renderers[0]
            if not meta.get("QUERY_STRING") and ";" not in first.media_type:
                accept = meta.get("HTTP_ACCEPT", "*/*")
                if accept == "*/*" or accept == first.media_type:
                    return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
