"""The language and time zone of a request: Django's LocaleMiddleware, except that the API speaks English by
default and always gives instants in UTC (the admin shows them in the operator's zone, TIME_ZONE).

The admin follows the user's switch (the language cookie), then the browser's Accept-Language, then LANGUAGE_CODE
(Russian by default). An API client is a program: its error messages are English unless it sends Accept-Language.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import timezone, translation

API_PREFIX = "/api/"
API_DEFAULT_LANGUAGE = "en"


class LocaleMiddleware(DjangoLocaleMiddleware):
    def process_request(self, request):
        if not request.path_info.startswith(API_PREFIX):
            super().process_request(request)
            return
        timezone.activate(dt.UTC)  # the API's instants are UTC ("…Z"), whatever the operator's zone
        if request.META.get("HTTP_ACCEPT_LANGUAGE"):
            super().process_request(request)
        else:
            translation.activate(API_DEFAULT_LANGUAGE)
            request.LANGUAGE_CODE = translation.get_language()

    def process_response(self, request, response):
        if request.path_info.startswith(API_PREFIX):
            timezone.deactivate()
        return super().process_response(request, response)


def installation_language():
    """Text stored in rows (ledger descriptions, account names, invoice lines) is written in the installation's
    language (LANGUAGE_CODE), whoever's request or task writes it, so the same row never reads in two languages."""
    return translation.override(settings.LANGUAGE_CODE)
