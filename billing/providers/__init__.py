"""Payment providers behind one interface (billing/providers/base.py); `provider_get(code)` builds the adapter."""

from __future__ import annotations

from django.conf import settings

from billing.providers.base import Provider, ProviderError


class ProviderNotConfigured(ProviderError):
    pass


def provider_codes() -> list[str]:
    """The providers this installation may use (test mode only where it is on)."""
    codes = ["yookassa", "stripe"]
    return ["test", *codes] if settings.PAYMENTS_TEST_MODE else codes


def provider_get(code: str) -> Provider:
    if code == "test" and settings.PAYMENTS_TEST_MODE:
        from billing.providers.testmode import TestModeProvider

        return TestModeProvider()
    if code == "yookassa":
        from billing.providers.yookassa import YooKassaProvider

        return YooKassaProvider()
    if code == "stripe":
        from billing.providers.stripe import StripeProvider

        return StripeProvider()
    raise ProviderNotConfigured(f"payment provider {code!r} is not available here")
