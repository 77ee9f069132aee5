"""The posting statement's plan does not hang on row estimates.

`ledger_post` runs one prepared statement with a generic plan, made once per connection from the statistics of
that moment. On a small ledger that PostgreSQL has not analysed yet (a new deployment, or the benchmark's fresh
database), a plan that joined a list of ids against the account table read the whole table once or twice per
posting; the statement must probe accounts by id whatever the statistics say.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction

from billing.models import Account
from billing.services.accounts import account_for_customer, account_system
from billing.services.ledger import Leg, ledger_post

pytestmark = pytest.mark.django_db(transaction=True)


def _seq_scans_in_this_transaction(table: str) -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = %s", [table])
        row = cur.fetchone()
    return row[0] if row else 0


@pytest.mark.parametrize("enforce_credit_limit", [False, True])
def test_a_posting_probes_accounts_by_id_on_a_small_unanalysed_ledger(make_customer, enforce_credit_limit):
    # given: a thousand system accounts (a few dozen pages, never analysed), a customer with money, and a new
    # connection, so that the posting statement is planned from these statistics
    with connection.cursor() as cur:
        cur.execute("""INSERT INTO billing_account (kind, code, name, balance, balance_currency, created_at)
                       SELECT 'promo', 'plan-probe:' || n, 'Plan probe', 0, 'RUB', now()
                         FROM generate_series(1, 1000) AS n""")
    customer = make_customer(credit_limit=Decimal("1000"))
    account = account_for_customer(customer=customer)
    clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="RUB")
    connection.close()

    # when: a few postings (the generic plan is in use from the first) in one database transaction
    with transaction.atomic():
        for n in range(3):
            ledger_post(
                kind="adjustment",
                key=f"plan-probe-{enforce_credit_limit}-{n}",
                customer=customer,
                legs=[Leg(account.pk, Decimal("10.00"), "RUB"), Leg(clearing.pk, Decimal("-10.00"), "RUB")],
                enforce_credit_limit=enforce_credit_limit,
            )
        account_seq_scans = _seq_scans_in_this_transaction("billing_account")
        entry_seq_scans = _seq_scans_in_this_transaction("billing_entry")

    # then: every account was found through an index, and the balance check read entries by transaction
    assert account_seq_scans == 0
    assert entry_seq_scans == 0
    assert Account.objects.get(pk=account.pk).balance.amount == Decimal("30.00")
