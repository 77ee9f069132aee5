"""`manage.py ledger_verify` and the daily task prove every cached balance and every transaction against the entries,
and report a difference loudly: exit code 1, a log line at ERROR, a stored result and a red banner in the admin.

The database refuses the writes that would make a difference (tests/invariants/test_database_guards.py), so the
differences here are planted with the guards switched off in ways only a superuser or the tables' owner can
(session_replication_role, ALTER TABLE … DISABLE TRIGGER): what an operator's mistake or a restored backup may do."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import ManagementUtility, call_command
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from moneyed import Money

from billing import tasks
from billing.models import Account, LedgerVerification, Transaction
from billing.services.accounts import account_for_customer, account_system
from billing.services.ledger import Leg, ledger_post

pytestmark = pytest.mark.django_db(transaction=True)

BANNER = "found differences"


@pytest.fixture
def ledger(customer):
    """A customer account and the clearing account, with two top-ups posted through the service."""
    customer_account = account_for_customer(customer=customer)
    clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="RUB")
    for n, amount in enumerate(("100.00", "25.50")):
        ledger_post(
            kind=Transaction.Kind.PAYMENT,
            key=f"top-up-{n}",
            customer=customer,
            legs=[
                Leg.credit(customer_account, Money(Decimal(amount), "RUB")),
                Leg.debit(clearing, Money(Decimal(amount), "RUB")),
            ],
        )
    return customer_account, clearing


@pytest.fixture
def admin_client(django_user_model) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser(username="root", email="r@example.com", password="x"))
    return client


def _plant_differences(customer_account: Account, clearing: Account) -> int:
    """A cached balance moved without entries, and a transaction whose entries do not sum to zero (its balances
    moved along, so only the transaction is wrong); returns the unbalanced transaction's id."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # superuser only: no trigger fires
        cursor.execute("UPDATE billing_account SET balance = balance + 7 WHERE id = %s", [customer_account.pk])
        cursor.execute(
            """
            INSERT INTO billing_transaction (kind, idempotency_key, content_hash, effective_date, posted_at,
                                             source_type, source_id, description, created_by, metadata)
            VALUES ('adjustment', 'planted', '', CURRENT_DATE, now(), 'test', '', '', 'test', '{}') RETURNING id
            """
        )
        txn_id = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO billing_entry (transaction_id, account_id, amount, amount_currency, memo) "
            "VALUES (%s, %s, -3.00, 'RUB', ''), (%s, %s, 2.00, 'RUB', '')",
            [txn_id, customer_account.pk, txn_id, clearing.pk],
        )
        cursor.execute("UPDATE billing_account SET balance = balance - 3 WHERE id = %s", [customer_account.pk])
        cursor.execute(
            "UPDATE billing_accountbalanceslot SET balance = balance + 2 WHERE id = "
            "(SELECT min(id) FROM billing_accountbalanceslot WHERE account_id = %s)",
            [clearing.pk],
        )
    return txn_id


def test_a_consistent_ledger_verifies(ledger, admin_client, verify_log):
    # when
    call_command("ledger_verify")

    # then the result is stored, nothing is logged at ERROR and the admin shows no banner
    verification = LedgerVerification.objects.get()
    assert verification.ok is True
    assert verification.finished_at is not None
    assert (verification.accounts_checked, verification.transactions_checked) == (2, 2)
    assert verification.differences == {}
    assert not [r for r in verify_log if r.levelno >= logging.WARNING]
    assert BANNER not in admin_client.get(reverse("admin:index")).content.decode()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def verify_log():
    """The service's log records (on its own logger: running a command configures logging anew, root included)."""
    handler = _Records()
    logger = logging.getLogger("billing.services.ledger_verify")
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


def test_the_verifier_reports_a_planted_difference_loudly(ledger, admin_client, verify_log, capsys):
    # given a cached balance that drifted from its entries and an unbalanced transaction, planted with the guards off
    customer_account, clearing = ledger
    unbalanced = _plant_differences(customer_account, clearing)

    # when the command runs as from the shell
    with pytest.raises(SystemExit) as exit_info:
        ManagementUtility(["manage.py", "ledger_verify"]).execute()

    # then it exits non-zero, naming both differences
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "FAILED: 1 account(s)" in err
    assert f"account {customer_account.pk} (customer:{customer_account.customer_id}, RUB): cached balance " in err
    assert f"transaction {unbalanced}: -1.0000 RUB, not zero" in err
    # and logs at ERROR
    errors = [r for r in verify_log if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "LEDGER VERIFICATION" in errors[0].getMessage()
    # and stores exactly what differs: the customer's cached balance is 7.00 off its entries (-125.50 - 3.00)
    verification = LedgerVerification.objects.get()
    assert verification.ok is False
    assert verification.differences == {
        "accounts_count": 1,
        "accounts": [
            {
                "account_id": customer_account.pk,
                "code": customer_account.code,
                "currency": "RUB",
                "cached_balance": "-121.5000",
                "sum_of_entries": "-128.5000",
            }
        ],
        "transactions_count": 1,
        "transactions": [{"transaction_id": unbalanced, "currency": "RUB", "sum": "-1.0000"}],
    }
    # and the admin shows a red banner on every page while the last verification failed
    for url in (reverse("admin:index"), reverse("admin:billing_customer_changelist")):
        page = admin_client.get(url).content.decode()
        assert BANNER in page
        assert f"The ledger verification #{verification.pk}" in page


def test_the_banner_goes_once_a_later_verification_is_clean(ledger, admin_client):
    # given a failed verification, then a clean one (the difference was corrected)
    LedgerVerification.objects.create(ok=False, differences={"accounts_count": 1, "transactions_count": 0})
    call_command("ledger_verify")

    # when / then
    assert BANNER not in admin_client.get(reverse("admin:index")).content.decode()


def test_the_daily_task_verifies_and_is_scheduled(ledger):
    # given
    customer_account, clearing = ledger
    _plant_differences(customer_account, clearing)

    # when the beat task runs (called directly, as a worker would)
    result = tasks.ledger_verify()

    # then it stored a failed verification, and beat runs it every day
    assert result is False
    assert LedgerVerification.objects.get().ok is False
    entry = settings.CELERY_BEAT_SCHEDULE["ledger-verify"]
    assert entry["task"] == "billing.tasks.ledger_verify"
    assert entry["schedule"].hour == {2}
