"""Account resolution: the one place that spells account codes and creates accounts.

Other apps never build a code such as `customer:<id>` or `revenue:<product>`: they ask for the account of a
customer, of a product's revenue or of a system purpose, by id (`AccountResolver`, for a unit of work that needs
many) or as a model instance (`account_for_customer`, `account_system`). An account is created the first time it
is asked for, under the unique (code, currency), so concurrent callers get the same row.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.utils.translation import gettext as _

from billing.errors import CurrencyMismatch, CustomerNotFound
from billing.models import Account, Customer
from billing.money import check_currency
from config.db import array_literal
from config.locale import installation_language


def customer_account_code(customer_id: int) -> str:
    return f"customer:{customer_id}"


def revenue_account_code(product_code: str) -> str:
    return f"revenue:{product_code}"


def vat_payable_account_code(seller_id: int) -> str:
    return f"vat_payable:{seller_id}"


def vat_advances_account_code(seller_id: int) -> str:
    return f"vat_advances:{seller_id}"


def provider_clearing_account_code(provider: str) -> str:
    """Where a payment provider's (the bank's, the cash desk's) money sits until it is settled."""
    return f"provider_clearing:{provider}"


class AccountResolver:
    """Account ids for one unit of work (a service call or a billing-run chunk).

    `prefetch` resolves every account the unit will touch in one statement (two more create the missing ones);
    nothing is cached beyond the unit, so a rollback cannot leave a stale id behind."""

    def __init__(self):
        self._ids: dict[tuple[str, str], int] = {}

    def prefetch(
        self,
        *,
        customers: Iterable[tuple[int, str]] = (),
        revenues: Iterable[tuple[str, str]] = (),
        promo: Iterable[str] = (),
        vat_payable: Iterable[tuple[int, str]] = (),
        clearing: Iterable[tuple[str, str]] = (),
    ) -> None:
        """customers: (customer_id, currency); revenues: (product_code, currency); promo: currencies;
        vat_payable: (seller_id, currency); clearing: (provider, currency)."""
        wanted = [_customer_row(customer_id, currency) for customer_id, currency in customers]
        wanted += [_revenue_row(product_code, currency) for product_code, currency in revenues]
        wanted += [_system_row(Account.Kind.PROMO, currency) for currency in promo]
        wanted += [_vat_payable_row(seller_id, currency) for seller_id, currency in vat_payable]
        wanted += [_clearing_row(provider, currency) for provider, currency in clearing]
        self._resolve(wanted)

    def customer(self, customer_id: int, currency: str) -> int:
        found = self._ids.get((customer_account_code(customer_id), currency))
        return found if found is not None else self._one(_customer_row(customer_id, currency))

    def revenue(self, product_code: str, currency: str) -> int:
        found = self._ids.get((revenue_account_code(product_code), currency))
        return found if found is not None else self._one(_revenue_row(product_code, currency))

    def promo(self, currency: str) -> int:
        found = self._ids.get((Account.Kind.PROMO.value, currency))
        return found if found is not None else self._one(_system_row(Account.Kind.PROMO, currency))

    def vat_payable(self, seller_id: int, currency: str) -> int:
        """The VAT payable of a seller (one account per seller and currency, with balance slots like revenue)."""
        found = self._ids.get((vat_payable_account_code(seller_id), currency))
        return found if found is not None else self._one(_vat_payable_row(seller_id, currency))

    def vat_advances(self, seller_id: int, currency: str) -> int:
        """VAT charged on advances received (an asset until the shipment closes the advance), per seller."""
        code = vat_advances_account_code(seller_id)
        found = self._ids.get((code, currency))
        return found if found is not None else self._one(_system_row(Account.Kind.VAT_ADVANCES, currency, code))

    def clearing(self, provider: str, currency: str) -> int:
        """A payment provider's clearing account (a system account, with balance slots)."""
        found = self._ids.get((provider_clearing_account_code(provider), currency))
        return found if found is not None else self._one(_clearing_row(provider, currency))

    def _one(self, row: tuple) -> int:
        key = (row[1], row[3])
        if key not in self._ids:
            self._resolve([row])
        return self._ids[key]

    def _resolve(self, wanted: Iterable[tuple[str, str, str, str, int | None]]) -> None:
        """wanted: (kind, code, name, currency, customer_id)."""
        missing = {
            (code, currency): (kind, code, name, currency, customer_id)
            for kind, code, name, currency, customer_id in wanted
            if (code, currency) not in self._ids
        }
        if not missing:
            return
        rows = sorted(missing.values(), key=lambda r: (r[1], r[3]))
        with connection.cursor() as cursor:
            self._select(cursor, rows)
            absent = [r for r in rows if (r[1], r[3]) not in self._ids]
            if absent:
                # a customer account's name is spelled only when it is created: most chunks find every one
                absent = [r if r[2] is not None else (*r[:2], _customer_account_name(r[4]), *r[3:]) for r in absent]
                cols = [list(c) for c in zip(*absent, strict=True)]
                # a customer account only in the customer's own currency (a customer has one currency)
                cursor.execute(
                    """
                    INSERT INTO billing_account (kind, code, name, balance_currency, customer_id, balance, created_at)
                    SELECT x.kind, x.code, x.name, x.currency, x.customer_id, 0, now()
                      FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[], %s::bigint[])
                           AS x(kind, code, name, currency, customer_id)
                      LEFT JOIN billing_customer c ON c.id = x.customer_id
                     WHERE x.customer_id IS NULL OR c.currency = x.currency
                    ON CONFLICT (code, balance_currency) DO NOTHING
                    """,
                    [array_literal(col) for col in cols],
                )
                self._select(cursor, absent)
                refused = [r for r in absent if (r[1], r[3]) not in self._ids]
                if refused:
                    _refuse(cursor, refused[0])

    def _select(self, cursor, rows: list[tuple]) -> None:
        """Look the rows' accounts up: customer accounts by customer id (an integer index probe), the others by
        (code, currency). A customer account exists only in its customer's currency (the account guard refuses
        any other), so what is found is the customer's own."""
        customers = sorted({r[4] for r in rows if r[0] == Account.Kind.CUSTOMER})
        others = [r for r in rows if r[0] != Account.Kind.CUSTOMER]
        cursor.execute(
            """
            SELECT a.id, a.code, a.balance_currency FROM billing_account a
             WHERE a.customer_id = ANY(%s::bigint[]) AND a.kind = 'customer'
            UNION ALL
            SELECT a.id, a.code, a.balance_currency FROM billing_account a
              JOIN unnest(%s::varchar[], %s::varchar[]) AS w(code, currency)
                ON a.code = w.code AND a.balance_currency = w.currency
            """,
            [array_literal(customers), array_literal(r[1] for r in others), array_literal(r[3] for r in others)],
        )
        for account_id, code, currency in cursor.fetchall():
            self._ids[(code, currency)] = account_id


def _refuse(cursor, row: tuple) -> None:
    """Why a customer account could not be had: no such customer, or another currency than the customer's."""
    customer_id, currency = row[4], row[3]
    cursor.execute("SELECT currency FROM billing_customer WHERE id = %s", [customer_id])
    found = cursor.fetchone()
    if found is None:
        raise CustomerNotFound(_("Customer %(customer_id)s not found.") % {"customer_id": customer_id})
    raise CurrencyMismatch(
        _("Customer %(customer_id)s is billed in %(billed)s; nothing can be posted to it in %(currency)s.")
        % {"customer_id": customer_id, "billed": found[0], "currency": currency},
        field="currency",
        extra={"customer_currency": found[0], "currency": currency},
    )


def _customer_row(customer_id: int, currency: str, name: str | None = None) -> tuple:
    """name None: the default name, spelled by `_resolve` only if the account has to be created."""
    if name is not None:
        name = name[:255]
    return (Account.Kind.CUSTOMER.value, customer_account_code(customer_id), name, currency, customer_id)


def _customer_account_name(customer_id: int) -> str:
    with installation_language():
        return (_("Balance of customer #%(id)s") % {"id": customer_id})[:255]


def _revenue_name(product_code: str) -> str:
    with installation_language():
        return _("Revenue: %(product)s") % {"product": product_code}


def _revenue_row(product_code: str, currency: str) -> tuple:
    return (Account.Kind.REVENUE.value, revenue_account_code(product_code), _revenue_name(product_code), currency, None)


def _vat_payable_row(seller_id: int, currency: str) -> tuple:
    return _system_row(Account.Kind.VAT_PAYABLE, currency, vat_payable_account_code(seller_id))


def _clearing_row(provider: str, currency: str) -> tuple:
    return _system_row(Account.Kind.PROVIDER_CLEARING, currency, provider_clearing_account_code(provider))


def _system_row(kind: str, currency: str, code: str | None = None) -> tuple:
    if kind == Account.Kind.CUSTOMER:
        raise ValueError("customer accounts come from account_for_customer")
    code = code or kind
    with installation_language():
        label = str(Account.Kind(kind).label)
    return (Account.Kind(kind).value, code, f"{label}: {code}" if code != kind else label, currency, None)


def account_system(*, kind: str, currency: str, code: str | None = None) -> Account:
    """A system account (revenue, VAT payable, clearing, promo, refunds, adjustments) in a currency."""
    return _account(_system_row(kind, check_currency(currency), code))


def account_for_customer(*, customer: Customer, currency: str | None = None) -> Account:
    """The customer's balance account in a currency (the customer's own by default)."""
    currency = check_currency(currency or customer.currency)
    with installation_language():
        name = _("Balance of %(customer)s") % {"customer": customer.name}
    return _account(_customer_row(customer.pk, currency, name))


def _account(row: tuple) -> Account:
    return Account.objects.get(pk=AccountResolver()._one(row))
