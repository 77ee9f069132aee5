"""Turning priced charge lines into ledger legs: revenue per product, discounts on the promo account,
the net on the customer's balance account. One entry per line, so statements show each line."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import connection

from billing.models import Account
from billing.services.ledger import Leg
from plans.pricing.charges import ChargeLine, LineKind


class AccountResolver:
    """Account ids for one unit of work (a service call or a billing-run chunk): two statements
    for all missing accounts at once, nothing cached beyond the unit (a rollback cannot leave a
    stale id behind)."""

    def __init__(self):
        self._ids: dict[tuple[str, str], int] = {}

    def resolve(self, wanted: Iterable[tuple[str, str, str, str, int | None]]) -> None:
        """wanted: (kind, code, name, currency, customer_id)."""
        missing = {
            (code, currency): (kind, code, name, currency, customer_id)
            for kind, code, name, currency, customer_id in wanted
            if (code, currency) not in self._ids
        }
        if not missing:
            return
        rows = sorted(missing.values(), key=lambda r: (r[1], r[3]))
        cols = [list(c) for c in zip(*rows, strict=True)]
        with connection.cursor() as cursor:
            self._select(cursor, cols[1], cols[3])
            absent = [r for r in rows if (r[1], r[3]) not in self._ids]
            if absent:
                cols = [list(c) for c in zip(*absent, strict=True)]
                cursor.execute(
                    """
                    INSERT INTO billing_account (kind, code, name, balance_currency, customer_id, balance, created_at)
                    SELECT x.kind, x.code, x.name, x.currency, x.customer_id, 0, now()
                      FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[], %s::bigint[])
                           AS x(kind, code, name, currency, customer_id)
                    ON CONFLICT (code, balance_currency) DO NOTHING
                    """,
                    cols,
                )
                self._select(cursor, cols[1], cols[3])

    def _select(self, cursor, codes: list[str], currencies: list[str]) -> None:
        cursor.execute(
            """
            SELECT a.id, a.code, a.balance_currency FROM billing_account a
              JOIN unnest(%s::varchar[], %s::varchar[]) AS w(code, currency)
                ON a.code = w.code AND a.balance_currency = w.currency
            """,
            [codes, currencies],
        )
        for account_id, code, currency in cursor.fetchall():
            self._ids[(code, currency)] = account_id

    def known(self, code: str, currency: str, account_id: int | None) -> None:
        """Seed an id already loaded elsewhere (e.g. with a subscription snapshot)."""
        if account_id is not None:
            self._ids[(code, currency)] = account_id

    def customer(self, customer_id: int, currency: str) -> int:
        key = (f"customer:{customer_id}", currency)
        if key not in self._ids:
            self.resolve(
                [(Account.Kind.CUSTOMER, key[0], f"Balance of customer #{customer_id}", currency, customer_id)]
            )
        return self._ids[key]

    def revenue(self, product_code: str, currency: str) -> int:
        key = (f"revenue:{product_code}", currency)
        if key not in self._ids:
            self.resolve([(Account.Kind.REVENUE, key[0], f"Revenue: {product_code}", currency, None)])
        return self._ids[key]

    def promo(self, currency: str) -> int:
        key = (Account.Kind.PROMO.value, currency)
        if key not in self._ids:
            self.resolve([(Account.Kind.PROMO, key[0], Account.Kind.PROMO.label, currency, None)])
        return self._ids[key]


def charge_legs(
    *, accounts: AccountResolver, customer_id: int, lines: Iterable[ChargeLine], product_of: Callable[[str], str]
) -> list[Leg]:
    """Legs for a set of lines in one currency; empty when every line is zero."""
    legs: list[Leg] = []
    net = 0
    currency = None
    for line in lines:
        if not line.amount:
            continue
        currency = line.currency
        if line.kind is LineKind.DISCOUNT:
            account = accounts.promo(line.currency)
        else:
            account = accounts.revenue(product_of(line.ref), line.currency)
        legs.append(Leg(account, -line.amount, line.currency, line.description[:255]))
        net += line.amount
    if not legs:
        return []
    if net:
        legs.insert(0, Leg(accounts.customer(customer_id, currency), net, currency, "Charge" if net > 0 else "Credit"))
    return legs
