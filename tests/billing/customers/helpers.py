"""Helpers shared by the customer service tests: valid requisites per kind, nothing written, error fields."""

from __future__ import annotations

from billing.models import Account, Customer, Event


def _nothing_written():
    assert Customer.objects.count() == 0
    assert Account.objects.count() == 0
    assert Event.objects.count() == 0


def _error_fields(exc_info) -> set[str]:
    return set(exc_info.value.message_dict)
