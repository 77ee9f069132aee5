"""The ledger's checks cost less per billing chunk (issue 9, billing run benchmark), proving the same.

billing_ledger_check_balanced sums the statement's own entries (its transition table) to find the transactions a
statement left unbalanced, instead of summing every touched transaction's entries through the index: a transaction
whose entries of each statement sum to zero sums to zero (its entries all come from the database transaction that
inserted it, and are never updated or deleted); any other is marked and summed in full at commit, as before. Its
currency check probes each (account, currency) pair once instead of each entry.

billing_account_balance_guard becomes a statement-level trigger over the UPDATE's transition tables (function
billing_ledger_balances_follow_entries): a chunk's thousand balance updates are checked by one call instead of a
thousand. The balance slots keep their row triggers. Same refusals, same messages; see docs/ledger.md.

Loads billing/sql/ledger.sql again; the reverse restores the previous definitions verbatim.
"""

from pathlib import Path

from django.db import migrations

LEDGER_SQL = Path(__file__).resolve().parent.parent / "sql" / "ledger.sql"

# sha256 of the file's definitions, whitespace-normalized (tests/billing/test_ledger_sql.py computes it)
LEDGER_SQL_SHA256 = "0bc18b8385d94808642b90ba15de6fd945beeef875d6f49888eac4af159ef641"

PREVIOUS_DEFINITIONS = """
DROP TRIGGER IF EXISTS billing_account_balance_guard ON billing_account;
DROP FUNCTION IF EXISTS billing_ledger_balances_follow_entries();
CREATE TRIGGER billing_account_balance_guard AFTER UPDATE ON billing_account
    FOR EACH ROW WHEN ((new.balance IS DISTINCT FROM old.balance)) EXECUTE FUNCTION billing_ledger_balance_guard();

CREATE OR REPLACE FUNCTION billing_ledger_check_balanced()
 RETURNS trigger
 LANGUAGE plpgsql
AS $$
DECLARE
    top xid := pg_current_xact_id()::xid;
    bad_entry bigint;
    bad_transaction bigint;
    transaction_xmin xid;
BEGIN
    SELECT x.last_entry, x.transaction_id, x.transaction_xmin INTO bad_entry, bad_transaction, transaction_xmin
      FROM (SELECT n.transaction_id, max(n.id) AS last_entry,
                   (SELECT t.xmin FROM billing_transaction t WHERE t.id = n.transaction_id) AS transaction_xmin
              FROM new_entries n
             GROUP BY n.transaction_id) x
     WHERE x.transaction_xmin IS NULL
        OR (x.transaction_xmin <> top AND NOT billing_ledger_written_here(x.transaction_xmin))
     ORDER BY x.transaction_id
     LIMIT 1;
    IF bad_transaction IS NOT NULL AND transaction_xmin IS NULL THEN
        RAISE EXCEPTION 'ledger entry % names transaction %, which does not exist', bad_entry, bad_transaction
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF bad_transaction IS NOT NULL THEN
        RAISE EXCEPTION 'ledger entry % joins transaction %, which an earlier database transaction committed '
                        '(entry_joins_new_transaction: post a new transaction instead)', bad_entry, bad_transaction
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    SELECT n.id, n.transaction_id INTO bad_entry, bad_transaction
      FROM new_entries n
     WHERE n.amount_currency IS DISTINCT FROM (SELECT a.balance_currency FROM billing_account a WHERE a.id = n.account_id)
     ORDER BY n.id
     LIMIT 1;
    IF bad_entry IS NOT NULL THEN
        RAISE EXCEPTION 'ledger entry % of transaction % names an account that does not exist or is not in %',
            bad_entry, bad_transaction, 'the entry''s currency'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT n.id, n.transaction_id INTO bad_entry, bad_transaction
      FROM new_entries n
     WHERE n.amount = 0
     ORDER BY n.id
     LIMIT 1;
    IF bad_entry IS NOT NULL THEN
        RAISE EXCEPTION 'ledger entry % of transaction % has a zero amount (entry_amount_non_zero)',
            bad_entry, bad_transaction
            USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO billing_ledger_open_transaction (transaction_id)
    SELECT x.transaction_id
      FROM (SELECT DISTINCT n.transaction_id FROM new_entries n) x
     WHERE EXISTS (SELECT 1 FROM billing_entry e
                    WHERE e.transaction_id = x.transaction_id
                    GROUP BY e.amount_currency
                   HAVING sum(e.amount) <> 0);
    RETURN NULL;
END;
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0032_ledger_check_per_statement"),
    ]

    operations = [
        migrations.RunSQL(LEDGER_SQL.read_text(encoding="utf-8"), reverse_sql=PREVIOUS_DEFINITIONS),
    ]
