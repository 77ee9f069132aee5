"""The language of a request: Django's LocaleMiddleware, except that the API speaks English by default.

The admin follows the user's switch (the language cookie), then the browser's Accept-Language, then LANGUAGE_CODE
(Russian by default). An API client is a program: its error messages are English unless it sends Accept-Language.
"""

from __future__ import annotations

from django.conf import settings
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import translation

API_PREFIX = "/api/"
API_DEFAULT_LANGUAGE = "en"


class LocaleMiddleware(DjangoLocaleMiddleware):
    def process_request(self, request):
        if request.path_info.startswith(API_PREFIX) and not request.META.get("HTTP_ACCEPT_LANGUAGE"):
            translation.activate(API_DEFAULT_LANGUAGE)
            request.LANGUAGE_CODE = translation.get_language()
            return
        super().process_request(request)


def installation_language():
    """Text stored in rows (ledger descriptions, account names, invoice lines) is written in the installation's
    language (LANGUAGE_CODE), whoever's request or task writes it, so the same row never reads in two languages."""
    return translation.override(settings.LANGUAGE_CODE)
