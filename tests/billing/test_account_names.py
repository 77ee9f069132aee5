"""A customer account created while a unit of work resolves its accounts is named in the installation's language,
whatever language is active, and only then: resolving accounts that exist spells no name (a billing chunk resolves
a thousand customer accounts, and switching the language for each one cost more than the lookup)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import translation
from django.utils.translation import gettext as _
from moneyed import Money

from billing.models import Account, Customer
from billing.services import accounts as accounts_module
from billing.services.accounts import AccountResolver
from tests.factories.catalog import funded_customer

pytestmark = pytest.mark.django_db


def _default_name(customer_id: int, language: str) -> str:
    with translation.override(language):
        return _("Balance of customer #%(id)s") % {"id": customer_id}


@pytest.mark.parametrize("installation", ["ru", "en"])
def test_prefetch_names_a_new_customer_account_in_the_installation_language(installation):
    # given a customer without an account yet (a row written without the customers service), and another language
    # active (a request's)
    customer = Customer.objects.create(name="Bare", currency="RUB", credit_limit=Money(0, "RUB"))
    assert not Account.objects.filter(customer=customer).exists()
    other = "en" if installation == "ru" else "ru"

    # when a unit of work resolves its account
    with override_settings(LANGUAGE_CODE=installation), translation.override(other):
        resolver = AccountResolver()
        resolver.prefetch(customers=[(customer.pk, "RUB")])

    # then it is created with the default name in the installation's language
    account = Account.objects.get(customer=customer)
    assert resolver.customer(customer.pk, "RUB") == account.pk
    assert account.name == _default_name(customer.pk, installation)
    assert account.name != _default_name(customer.pk, other)


def test_prefetch_of_existing_customer_accounts_spells_no_name(monkeypatch):
    # given customers whose accounts exist
    customers = [funded_customer(balance="0") for _ in range(3)]
    AccountResolver().prefetch(customers=[(c.pk, "RUB") for c in customers])
    existing = dict(Account.objects.filter(customer__in=customers).values_list("customer_id", "pk"))
    assert len(existing) == 3

    # when they are resolved again (the name would be needed only to create one)
    spelled = []
    monkeypatch.setattr(accounts_module, "_customer_account_name", lambda customer_id: spelled.append(customer_id))
    resolver = AccountResolver()
    resolver.prefetch(customers=[(c.pk, "RUB") for c in customers])

    # then every id is found and no name was spelled
    assert {c.pk: resolver.customer(c.pk, "RUB") for c in customers} == existing
    assert spelled == []
    assert settings.LANGUAGE_CODE  # the installation language is configured
