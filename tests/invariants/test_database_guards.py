"""PostgreSQL itself guards the ledger (billing/sql/ledger.sql, docs/ledger.md): raw SQL cannot update or delete ledger
rows, commit an unbalanced transaction or a zero entry, book an entry in a currency other than its account's or on
an account or a transaction that does not exist, delete or re-currency an account, nor create a customer account
without its customer (or another account with one). Nothing a session can set switches a check off, no entry joins a
transaction committed earlier, a cached balance changes only together with its account's entries, and TRUNCATE
empties the whole ledger or nothing."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from moneyed import Money

from billing.models import Account, AccountBalanceSlot, Entry, Transaction
from billing.services.accounts import account_for_customer, account_system
from billing.services.ledger import Leg, ledger_post

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def accounts(customer):
    return (
        account_for_customer(customer=customer),
        account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="RUB"),
    )


@pytest.fixture
def posted(customer, accounts) -> Transaction:
    customer_account, clearing = accounts
    return ledger_post(
        kind=Transaction.Kind.PAYMENT,
        key="pay-1",
        customer=customer,
        legs=[
            Leg.credit(customer_account, Money(Decimal("100.00"), "RUB")),
            Leg.debit(clearing, Money(Decimal("100.00"), "RUB")),
        ],
    )


def _insert_transaction(cursor, key: str) -> int:
    cursor.execute(
        """
        INSERT INTO billing_transaction (kind, idempotency_key, content_hash, effective_date, posted_at, source_type,
                                         source_id, description, created_by, metadata)
        VALUES ('adjustment', %s, 'raw', CURRENT_DATE, now(), 'raw', '', '', 'raw sql', '{}'::jsonb)
        RETURNING id
        """,
        [key],
    )
    return cursor.fetchone()[0]


def _insert_entry(cursor, transaction_id: int, account_id: int, amount: str, currency: str = "RUB") -> None:
    cursor.execute(
        "INSERT INTO billing_entry (transaction_id, account_id, amount, amount_currency, memo) "
        "VALUES (%s, %s, %s, %s, 'raw')",
        [transaction_id, account_id, Decimal(amount), currency],
    )


def _ledger_rows() -> tuple:
    return (
        tuple(Transaction.objects.order_by("pk").values_list("pk", "kind", "idempotency_key", "description")),
        tuple(Entry.objects.order_by("pk").values_list("pk", "transaction_id", "account_id", "amount", "memo")),
    )


@pytest.mark.parametrize(
    ("sql", "operation", "table"),
    [
        ("UPDATE billing_transaction SET description = 'edited' WHERE id = %(txn)s", "UPDATE", "billing_transaction"),
        ("UPDATE billing_transaction SET kind = 'charge'", "UPDATE", "billing_transaction"),
        ("DELETE FROM billing_transaction WHERE id = %(txn)s", "DELETE", "billing_transaction"),
        ("UPDATE billing_entry SET amount = amount * 2 WHERE transaction_id = %(txn)s", "UPDATE", "billing_entry"),
        ("UPDATE billing_entry SET memo = 'edited'", "UPDATE", "billing_entry"),
        ("DELETE FROM billing_entry WHERE transaction_id = %(txn)s", "DELETE", "billing_entry"),
    ],
)
def test_ledger_rows_cannot_be_updated_or_deleted(posted, sql, operation, table):
    # given a posted transaction
    before = _ledger_rows()

    # when raw SQL tries to change it
    with pytest.raises(DatabaseError) as exc_info, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, {"txn": posted.pk})

    # then PostgreSQL refuses, naming the operation and the table
    message = str(exc_info.value)
    assert "ledger rows are immutable" in message
    assert f"{operation} on {table} refused" in message
    assert exc_info.value.__cause__.sqlstate == "42501"  # insufficient_privilege
    assert _ledger_rows() == before


def test_orm_update_and_delete_are_refused_too(posted):
    # given
    before = _ledger_rows()

    # when / then
    with pytest.raises(DatabaseError, match="ledger rows are immutable"), transaction.atomic():
        Entry.objects.filter(transaction_id=posted.pk).update(memo="edited")
    with pytest.raises(DatabaseError, match="ledger rows are immutable"), transaction.atomic():
        Entry.objects.filter(transaction_id=posted.pk).delete()
    with pytest.raises(DatabaseError, match="ledger rows are immutable"), transaction.atomic():
        Transaction.objects.filter(pk=posted.pk).update(description="edited")
    assert _ledger_rows() == before


def test_unbalanced_raw_transaction_fails_at_commit(accounts):
    # given
    customer_account, _ = accounts
    before = _ledger_rows()
    inserted = False

    # when a transaction row and a single entry are inserted by raw SQL and committed
    with pytest.raises(IntegrityError) as exc_info:
        with transaction.atomic(), connection.cursor() as cursor:
            txn_id = _insert_transaction(cursor, "raw-unbalanced")
            _insert_entry(cursor, txn_id, customer_account.pk, "-10.00")
            inserted = True  # the statements themselves succeed: the check is deferred to COMMIT

    # then COMMIT raised and nothing was kept
    assert inserted
    message = str(exc_info.value)
    assert f"ledger transaction {txn_id} is unbalanced" in message
    assert "-10.0000 RUB does not sum to zero" in message
    assert _ledger_rows() == before
    assert Account.objects.get(pk=customer_account.pk).balance.amount == Decimal("0")


def test_unbalanced_in_one_currency_fails_even_if_the_other_balances(customer, accounts):
    # given a second currency
    customer_account, clearing = accounts
    usd_clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="USD")
    before = _ledger_rows()

    # when RUB balances but USD does not
    with pytest.raises(IntegrityError, match="100.0000 USD does not sum to zero"):
        with transaction.atomic(), connection.cursor() as cursor:
            txn_id = _insert_transaction(cursor, "raw-fx")
            _insert_entry(cursor, txn_id, customer_account.pk, "-10.00")
            _insert_entry(cursor, txn_id, clearing.pk, "10.00")
            _insert_entry(cursor, txn_id, usd_clearing.pk, "100.00", "USD")

    # then
    assert _ledger_rows() == before


def test_balanced_in_total_but_not_per_currency_fails_at_commit(customer, accounts):
    # given
    customer_account, _ = accounts
    usd_clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="USD")
    before = _ledger_rows()

    # when -10 RUB and +10 USD: zero in total, unbalanced per currency
    with pytest.raises(IntegrityError, match="is unbalanced"):
        with transaction.atomic(), connection.cursor() as cursor:
            txn_id = _insert_transaction(cursor, "raw-cross")
            _insert_entry(cursor, txn_id, customer_account.pk, "-10.00")
            _insert_entry(cursor, txn_id, usd_clearing.pk, "10.00", "USD")

    # then
    assert _ledger_rows() == before


def test_entry_currency_must_be_its_accounts_currency(accounts):
    # given a RUB account
    customer_account, clearing = accounts
    before = _ledger_rows()

    # when a balanced pair of USD entries names RUB accounts
    with pytest.raises(IntegrityError) as exc_info:
        with transaction.atomic(), connection.cursor() as cursor:
            txn_id = _insert_transaction(cursor, "raw-currency")
            _insert_entry(cursor, txn_id, customer_account.pk, "-10.00", "USD")
            _insert_entry(cursor, txn_id, clearing.pk, "10.00", "USD")

    # then the check at commit refuses it
    assert f"of transaction {txn_id} names an account that does not exist or is not in the entry's currency" in str(
        exc_info.value
    )
    assert _ledger_rows() == before


def test_entry_on_an_account_that_does_not_exist_is_refused(accounts):
    # given
    customer_account, _ = accounts
    missing = Account.objects.order_by("-pk").first().pk + 1000
    before = _ledger_rows()

    # when
    with pytest.raises(IntegrityError, match="names an account that does not exist"):
        with transaction.atomic(), connection.cursor() as cursor:
            txn_id = _insert_transaction(cursor, "raw-missing-account")
            _insert_entry(cursor, txn_id, customer_account.pk, "-10.00")
            _insert_entry(cursor, txn_id, missing, "10.00")

    # then
    assert _ledger_rows() == before


def test_entries_of_a_transaction_that_does_not_exist_are_refused(accounts):
    # given
    customer_account, clearing = accounts
    before = _ledger_rows()

    # when a balanced pair names a transaction id nobody inserted
    with pytest.raises(IntegrityError, match=r"names transaction 987654321, which does not exist"):
        with transaction.atomic(), connection.cursor() as cursor:
            _insert_entry(cursor, 987654321, customer_account.pk, "-10.00")
            _insert_entry(cursor, 987654321, clearing.pk, "10.00")

    # then
    assert _ledger_rows() == before


def test_an_entry_added_after_an_early_check_is_checked_again(accounts):
    # given a balanced transaction checked early (SET CONSTRAINTS ALL IMMEDIATE)
    customer_account, clearing = accounts
    before = _ledger_rows()

    # when one more, unbalancing, entry is added in the same database transaction
    with pytest.raises(IntegrityError, match="is unbalanced"):
        with transaction.atomic(), connection.cursor() as cursor:
            txn_id = _insert_transaction(cursor, "raw-late-entry")
            _insert_entry(cursor, txn_id, customer_account.pk, "-10.00")
            _insert_entry(cursor, txn_id, clearing.pk, "10.00")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            _insert_entry(cursor, txn_id, clearing.pk, "5.00")

    # then
    assert _ledger_rows() == before


def test_a_statement_summing_to_zero_does_not_close_a_transaction_an_earlier_statement_left_open(accounts):
    # given a transaction left unbalanced by its first statement (+10.00 on the clearing account)
    customer_account, clearing = accounts
    before = _ledger_rows()

    # when a second statement adds entries that sum to zero among themselves
    with pytest.raises(IntegrityError, match=r"is unbalanced: 10\.0+ RUB"):
        with transaction.atomic(), connection.cursor() as cursor:
            txn_id = _insert_transaction(cursor, "raw-open-then-zero")
            _insert_entry(cursor, txn_id, clearing.pk, "10.00")
            cursor.execute(
                "INSERT INTO billing_entry (transaction_id, account_id, amount, amount_currency, memo) "
                "VALUES (%(t)s, %(a)s, -5.00, 'RUB', 'raw'), (%(t)s, %(b)s, 5.00, 'RUB', 'raw')",
                {"t": txn_id, "a": customer_account.pk, "b": clearing.pk},
            )

    # then the commit is refused: the transaction still sums to 10.00
    assert _ledger_rows() == before


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM billing_account WHERE id = %(account)s",
        "UPDATE billing_account SET balance_currency = 'USD' WHERE id = %(account)s",
        "UPDATE billing_account SET kind = 'revenue', customer_id = NULL WHERE id = %(account)s",
    ],
)
def test_accounts_are_never_deleted_nor_moved(accounts, sql):
    # given an account with no entries yet
    customer_account, _ = accounts

    # when / then
    with pytest.raises(IntegrityError, match="ledger accounts are never deleted|keeps its id, currency, kind"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, {"account": customer_account.pk})
    account = Account.objects.get(pk=customer_account.pk)
    assert (account.balance_currency, account.kind) == ("RUB", Account.Kind.CUSTOMER)


@pytest.mark.parametrize(("kind", "names_a_customer"), [("customer", False), ("revenue", True)])
def test_an_account_names_a_customer_exactly_when_it_is_a_customer_account(customer, kind, names_a_customer):
    # when / then: a raw insert of a customer account without its customer, or of a system account with one
    with pytest.raises(IntegrityError, match="account_customer_iff_customer_kind"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO billing_account (kind, code, name, customer_id, balance, balance_currency, created_at) "
                "VALUES (%s, 'raw:account', 'Raw', %s, 0, 'RUB', now())",
                [kind, customer.pk if names_a_customer else None],
            )
    assert not Account.objects.filter(code="raw:account").exists()


def test_zero_amount_entry_is_refused(accounts):
    # given
    customer_account, _ = accounts

    # when / then
    with pytest.raises(IntegrityError, match="entry_amount_non_zero"):
        with transaction.atomic(), connection.cursor() as cursor:
            txn_id = _insert_transaction(cursor, "raw-zero")
            _insert_entry(cursor, txn_id, customer_account.pk, "0")
    assert _ledger_rows() == ((), ())


def test_duplicate_idempotency_key_is_refused(posted):
    # given
    before = _ledger_rows()

    # when / then
    with pytest.raises(IntegrityError, match="idempotency_key"):
        with transaction.atomic(), connection.cursor() as cursor:
            _insert_transaction(cursor, "pay-1")
    assert _ledger_rows() == before


def test_balanced_raw_transaction_commits(accounts):
    # given
    customer_account, clearing = accounts

    # when
    with transaction.atomic(), connection.cursor() as cursor:
        txn_id = _insert_transaction(cursor, "raw-balanced")
        _insert_entry(cursor, txn_id, customer_account.pk, "-10.00")
        _insert_entry(cursor, txn_id, clearing.pk, "7.50")
        _insert_entry(cursor, txn_id, clearing.pk, "2.50")

    # then
    assert Transaction.objects.filter(pk=txn_id).exists()
    assert sorted(Entry.objects.filter(transaction_id=txn_id).values_list("amount", flat=True)) == [
        Decimal("-10.0000"),
        Decimal("2.5000"),
        Decimal("7.5000"),
    ]
    with connection.cursor() as cursor:  # its entries came in three statements: checked at commit, then unmarked
        cursor.execute("SELECT count(*) FROM billing_ledger_open_transaction")
        assert cursor.fetchone()[0] == 0


# --- nothing a session can set, append or truncate breaks the ledger (issue 9, item 13) ---------------------------


def _balances() -> tuple:
    return (
        tuple(Account.objects.order_by("pk").values_list("pk", "balance")),
        tuple(AccountBalanceSlot.objects.order_by("pk").values_list("pk", "account_id", "slot", "balance")),
    )


def test_a_session_setting_cannot_switch_the_balance_check_off(accounts):
    # given the mark the check once kept in a custom setting, set by the session itself for the transaction it is
    # about to insert (and any other value a session might try)
    customer_account, _ = accounts
    before = _ledger_rows()

    # when an unbalanced transaction is inserted and committed under it
    with pytest.raises(IntegrityError, match="is unbalanced"):
        with transaction.atomic(), connection.cursor() as cursor:
            txn_id = _insert_transaction(cursor, "raw-forged-mark")
            cursor.execute("SELECT set_config('billing.ledger_checked', %s, true)", [f"{txn_id}:999999999999"])
            _insert_entry(cursor, txn_id, customer_account.pk, "-10.00")

    # then the check ran all the same and nothing was kept
    assert _ledger_rows() == before


def test_deleting_the_open_mark_does_not_skip_the_check_at_commit(accounts):
    # given an unbalanced transaction, marked open by its entry's statement (billing_ledger_open_transaction)
    customer_account, _ = accounts
    before = _ledger_rows()

    # when the session deletes the mark before committing
    with pytest.raises(IntegrityError, match="is unbalanced"):
        with transaction.atomic(), connection.cursor() as cursor:
            txn_id = _insert_transaction(cursor, "raw-unmarked")
            _insert_entry(cursor, txn_id, customer_account.pk, "-10.00")
            cursor.execute("SELECT count(*) FROM billing_ledger_open_transaction WHERE transaction_id = %s", [txn_id])
            assert cursor.fetchone()[0] == 1
            cursor.execute("DELETE FROM billing_ledger_open_transaction")

    # then the check queued by the mark's insert ran all the same
    assert _ledger_rows() == before


def test_a_balanced_statement_leaves_nothing_to_check_at_commit(accounts):
    # given a transaction whose entries come in one statement, as the ledger's writers insert them
    customer_account, clearing = accounts

    # when they balance
    with transaction.atomic(), connection.cursor() as cursor:
        txn_id = _insert_transaction(cursor, "raw-one-statement")
        cursor.execute(
            "INSERT INTO billing_entry (transaction_id, account_id, amount, amount_currency, memo) "
            "VALUES (%s, %s, -10, 'RUB', 'raw'), (%s, %s, 10, 'RUB', 'raw')",
            [txn_id, customer_account.pk, txn_id, clearing.pk],
        )
        cursor.execute("SELECT count(*) FROM billing_ledger_open_transaction")
        open_marks = cursor.fetchone()[0]

    # then nothing was left open for the commit, and the open marks of a committed transaction are gone
    assert open_marks == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM billing_ledger_open_transaction")
        assert cursor.fetchone()[0] == 0


def test_entries_cannot_join_a_transaction_committed_earlier(posted, accounts):
    # given a transaction committed by an earlier database transaction
    customer_account, clearing = accounts
    before, balances = _ledger_rows(), _balances()

    # when a balanced pair of entries is appended to it
    with pytest.raises(IntegrityError) as exc_info:
        with transaction.atomic(), connection.cursor() as cursor:
            _insert_entry(cursor, posted.pk, customer_account.pk, "-500.00")
            _insert_entry(cursor, posted.pk, clearing.pk, "500.00")

    # then the check at commit refuses it
    assert f"joins transaction {posted.pk}, which an earlier database transaction committed" in str(exc_info.value)
    assert _ledger_rows() == before
    assert _balances() == balances


def test_entries_join_a_transaction_inserted_in_a_savepoint_of_the_same_database_transaction(accounts):
    # given a transaction row inserted inside a savepoint (a subtransaction: its xmin is not the top-level id)
    customer_account, clearing = accounts

    # when its entries and balance updates come after the savepoint was released
    with transaction.atomic(), connection.cursor() as cursor:
        with transaction.atomic():
            txn_id = _insert_transaction(cursor, "raw-savepoint")
        _insert_entry(cursor, txn_id, customer_account.pk, "-10.00")
        _insert_entry(cursor, txn_id, clearing.pk, "10.00")
        cursor.execute("UPDATE billing_account SET balance = balance - 10 WHERE id = %s", [customer_account.pk])

    # then it commits: the savepoint is part of the same database transaction
    assert Entry.objects.filter(transaction_id=txn_id).count() == 2
    assert Account.objects.get(pk=customer_account.pk).balance.amount == Decimal("-10.00")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE billing_account SET balance = balance - 1000 WHERE id = %(customer_account)s",
        "UPDATE billing_account SET balance = balance + 1000 WHERE id = %(clearing)s",
        "UPDATE billing_accountbalanceslot SET balance = balance + 1000 WHERE account_id = %(clearing)s",
        "INSERT INTO billing_accountbalanceslot (account_id, slot, balance) VALUES (%(clearing)s, 999, 1000)",
        "UPDATE billing_accountbalanceslot SET account_id = %(customer_account)s WHERE account_id = %(clearing)s",
        "DELETE FROM billing_accountbalanceslot WHERE account_id = %(clearing)s",
        "INSERT INTO billing_account (kind, code, name, balance, balance_currency, created_at) "
        "VALUES ('adjustments', 'raw:rich', 'Raw', 1000, 'RUB', now())",
    ],
)
def test_cached_balances_change_only_together_with_entries(posted, accounts, sql):
    # given a posted transaction (a customer balance and a balance slot of the clearing account)
    customer_account, clearing = accounts
    before, balances = _ledger_rows(), _balances()
    assert AccountBalanceSlot.objects.filter(account=clearing).exists()

    # when raw SQL changes a cached balance without entries of that account in the same database transaction
    with pytest.raises(DatabaseError) as exc_info:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, {"customer_account": customer_account.pk, "clearing": clearing.pk})

    # then PostgreSQL refuses it and nothing changed
    assert re.search(
        "balance_follows_entries|keeps its account and number|ledger rows are immutable|account_opens_at_zero",
        str(exc_info.value),
    )
    assert _balances() == balances
    assert _ledger_rows() == before


def test_a_balance_moved_by_entries_of_another_account_is_refused(posted, accounts):
    # given entries of the clearing account only, in this database transaction
    customer_account, clearing = accounts
    other = account_system(kind=Account.Kind.ADJUSTMENTS, currency="RUB")
    balances = _balances()

    # when the customer's balance is moved along with them
    with pytest.raises(DatabaseError, match=f"ledger account {customer_account.pk} changes only together"):
        with transaction.atomic(), connection.cursor() as cursor:
            txn_id = _insert_transaction(cursor, "raw-other-account")
            _insert_entry(cursor, txn_id, other.pk, "-10.00")
            _insert_entry(cursor, txn_id, clearing.pk, "10.00")
            cursor.execute("UPDATE billing_account SET balance = balance - 10 WHERE id = %s", [customer_account.pk])

    # then
    assert _balances() == balances


def test_one_statement_moving_several_balances_is_refused_for_the_one_without_entries(posted, accounts):
    # given entries of the customer's account (and the clearing account's) in this database transaction
    customer_account, clearing = accounts
    other = account_system(kind=Account.Kind.ADJUSTMENTS, currency="RUB")
    balances = _balances()

    # when one UPDATE moves the customer's balance together with that of an account without entries
    with pytest.raises(DatabaseError, match=f"ledger account {other.pk} changes only together"):
        with transaction.atomic(), connection.cursor() as cursor:
            txn_id = _insert_transaction(cursor, "raw-two-balances")
            _insert_entry(cursor, txn_id, customer_account.pk, "-10.00")
            _insert_entry(cursor, txn_id, clearing.pk, "10.00")
            cursor.execute(
                "UPDATE billing_account SET balance = balance - 10 WHERE id = ANY(%s)",
                [[customer_account.pk, other.pk]],
            )

    # then PostgreSQL refuses the statement, naming the account without entries, and nothing changed
    assert _balances() == balances


def test_the_balance_guard_reads_an_accounts_newest_entries_only(customer, accounts):
    # given a customer account with 200 postings behind it
    customer_account, clearing = accounts

    def post(key: str) -> None:
        ledger_post(
            kind=Transaction.Kind.PAYMENT,
            key=key,
            customer=customer,
            legs=[
                Leg.credit(customer_account, Money(Decimal("1.00"), "RUB")),
                Leg.debit(clearing, Money(Decimal("1.00"), "RUB")),
            ],
        )

    for n in range(200):
        post(f"history-{n}")

    # when one more posting moves its balance, the entry rows it reads counted (this transaction's statistics)
    def entries_read(cursor) -> int:
        cursor.execute(
            "SELECT COALESCE(idx_tup_fetch, 0) + seq_tup_read FROM pg_stat_xact_user_tables "
            "WHERE relname = 'billing_entry'"
        )
        return cursor.fetchone()[0]

    with transaction.atomic(), connection.cursor() as cursor:
        before = entries_read(cursor)
        post("one-more")
        read = entries_read(cursor) - before

    # then the guards read a few entries, not the account's history (a plan that reads it all grows with every posting)
    assert read < 20


def test_updating_accounts_without_changing_a_balance_needs_no_entries(posted, accounts):
    # given no entries in this database transaction
    customer_account, clearing = accounts

    # when every account row is updated with its balance as it is
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE billing_account SET balance = balance + 0, name = name")
        updated = cursor.rowcount

    # then the update goes through
    assert updated >= 2


def test_a_raw_posting_that_moves_its_balances_with_its_entries_commits(posted, accounts):
    # given
    customer_account, clearing = accounts

    # when a raw posting inserts its entries and then moves the balances it touched
    with transaction.atomic(), connection.cursor() as cursor:
        txn_id = _insert_transaction(cursor, "raw-with-balances")
        _insert_entry(cursor, txn_id, customer_account.pk, "-10.00")
        _insert_entry(cursor, txn_id, clearing.pk, "10.00")
        cursor.execute("UPDATE billing_account SET balance = balance - 10 WHERE id = %s", [customer_account.pk])
        cursor.execute(
            "UPDATE billing_accountbalanceslot SET balance = balance + 10 WHERE id = "
            "(SELECT min(id) FROM billing_accountbalanceslot WHERE account_id = %s)",
            [clearing.pk],
        )

    # then
    assert Account.objects.get(pk=customer_account.pk).balance.amount == Decimal("-110.00")
    assert Account.objects.with_slot_balance().get(pk=clearing.pk).total_balance.amount == Decimal("110.00")


@pytest.mark.parametrize(
    "tables",
    [
        "billing_entry",
        "billing_entry, billing_transaction CASCADE",
        "billing_accountbalanceslot",
        "billing_entry, billing_transaction, billing_accountbalanceslot CASCADE",
        "billing_account CASCADE",
    ],
)
def test_truncating_part_of_the_ledger_is_refused(posted, tables):
    # given a ledger with a transaction, its entries and the balances they moved
    before, balances = _ledger_rows(), _balances()

    # when raw SQL truncates some of its tables (leaving cached balances or entries behind)
    with pytest.raises(DatabaseError) as exc_info:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables}")

    # then the whole statement is refused
    assert "the ledger is emptied whole" in str(exc_info.value)
    assert exc_info.value.__cause__.sqlstate == "42501"
    assert _ledger_rows() == before
    assert _balances() == balances


def test_truncating_the_whole_ledger_at_once_is_accepted(posted):
    # given a ledger with rows (pytest-django's flush of a transactional test empties every table this way)

    # when every ledger table is emptied in one statement
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE billing_entry, billing_transaction, billing_accountbalanceslot, billing_account CASCADE"
        )

    # then
    assert _ledger_rows() == ((), ())
    assert _balances() == ((), ())
