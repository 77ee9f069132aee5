"""Panels other apps add to the customer card. billing imports no app above it (ARCHITECTURE.md), so an app that
shows its own rows of a customer on the card (plans: the customer's subscriptions) registers a function here when
its admin module loads; the card renders each panel below its own inlines, in registration order."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest

from billing.models import Customer

# (request, customer) -> the panel's HTML (safe: the panel renders its own template), or "" to show nothing
CustomerCardPanel = Callable[[HttpRequest, Customer], str]

_PANELS: list[CustomerCardPanel] = []


def customer_card_panel_register(panel: CustomerCardPanel) -> CustomerCardPanel:
    """Add a panel to the customer card (once, however often its module is imported)."""
    if panel not in _PANELS:
        _PANELS.append(panel)
    return panel


def customer_card_panels(request: HttpRequest, customer: Customer) -> list[str]:
    return [html for html in (panel(request, customer) for panel in _PANELS) if html]
