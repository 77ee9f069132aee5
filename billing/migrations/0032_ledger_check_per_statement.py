"""The ledger's balance check runs once per INSERT statement instead of once per entry at commit (issue 9, billing
run benchmark: a chunk of 1,000 subscriptions inserts about 3,500 entries, and their 3,500 deferred trigger calls were
a fifth of the chunk's time).

billing_ledger_check_balanced becomes a statement-level AFTER INSERT trigger over the statement's transition table: it
refuses at once an entry that names a missing transaction, joins a transaction committed earlier, names an account
not in its currency or has a zero amount, and it sums every transaction the statement touched. A transaction that
does not balance yet is written to billing_ledger_open_transaction, whose deferred constraint trigger
(billing_ledger_check_open) sums it again at commit. What is guaranteed is unchanged; see docs/ledger.md.

Loads billing/sql/ledger.sql again; the reverse drops the new trigger, function and table and restores the deferred
per-entry check verbatim.
"""

from pathlib import Path

from django.db import migrations

LEDGER_SQL = Path(__file__).resolve().parent.parent / "sql" / "ledger.sql"

# sha256 of the file's definitions, whitespace-normalized (tests/billing/test_ledger_sql.py computes it)
LEDGER_SQL_SHA256 = "571e603a585113c74627a745f719025df92a6f39e9efb458b436e6c1784cfa6a"

PREVIOUS_DEFINITIONS = """
DROP TRIGGER IF EXISTS billing_ledger_open_transaction_balanced ON billing_ledger_open_transaction;
DROP FUNCTION IF EXISTS billing_ledger_check_open();
DROP TABLE IF EXISTS billing_ledger_open_transaction;
DROP TRIGGER IF EXISTS billing_entry_balanced ON billing_entry;

CREATE OR REPLACE FUNCTION billing_ledger_check_balanced()
 RETURNS trigger
 LANGUAGE plpgsql
AS $$
DECLARE
    checked_later boolean;
    transaction_xmin xid;
    bad_entry bigint;
    zero_entry bigint;
    first_currency text;
    last_currency text;
    total numeric;
    bad_currency text;
    bad_sum numeric;
BEGIN
    SELECT EXISTS (SELECT 1 FROM billing_entry e
                    WHERE e.transaction_id = n.transaction_id AND e.id > n.id AND e.xmin = n.xmin AND e.cmin = n.cmin)
      INTO checked_later
      FROM billing_entry n
     WHERE n.id = NEW.id;
    IF checked_later THEN
        RETURN NULL;
    END IF;
    SELECT (SELECT t.xmin FROM billing_transaction t WHERE t.id = NEW.transaction_id),
           min(e.amount_currency), max(e.amount_currency), sum(e.amount),
           -- a subquery per entry, not a join: the plan must not depend on row estimates
           min(e.id) FILTER (WHERE e.amount_currency IS DISTINCT FROM (
               SELECT a.balance_currency FROM billing_account a WHERE a.id = e.account_id)),
           min(e.id) FILTER (WHERE e.amount = 0)
      INTO transaction_xmin, first_currency, last_currency, total, bad_entry, zero_entry
      FROM billing_entry e
     WHERE e.transaction_id = NEW.transaction_id;
    IF transaction_xmin IS NULL THEN
        RAISE EXCEPTION 'ledger entry % names transaction %, which does not exist', NEW.id, NEW.transaction_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF transaction_xmin <> pg_current_xact_id()::xid AND NOT billing_ledger_written_here(transaction_xmin) THEN
        RAISE EXCEPTION 'ledger entry % joins transaction %, which an earlier database transaction committed '
                        '(entry_joins_new_transaction: post a new transaction instead)', NEW.id, NEW.transaction_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF bad_entry IS NOT NULL THEN
        RAISE EXCEPTION 'ledger entry % of transaction % names an account that does not exist or is not in %',
            bad_entry, NEW.transaction_id, 'the entry''s currency'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF zero_entry IS NOT NULL THEN
        RAISE EXCEPTION 'ledger entry % of transaction % has a zero amount (entry_amount_non_zero)',
            zero_entry, NEW.transaction_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF first_currency = last_currency THEN  -- one currency: the sum says it all
        IF total <> 0 THEN
            bad_currency := first_currency;
            bad_sum := total;
        END IF;
    ELSE
        SELECT e.amount_currency, SUM(e.amount) INTO bad_currency, bad_sum
          FROM billing_entry e
         WHERE e.transaction_id = NEW.transaction_id
         GROUP BY e.amount_currency
        HAVING SUM(e.amount) <> 0
         LIMIT 1;
    END IF;
    IF bad_currency IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % is unbalanced: % % does not sum to zero',
            NEW.transaction_id, bad_sum, bad_currency
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS billing_entry_balanced ON billing_entry;
CREATE CONSTRAINT TRIGGER billing_entry_balanced AFTER INSERT ON billing_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION billing_ledger_check_balanced();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0031_portal_group_permissions"),
    ]

    operations = [
        migrations.RunSQL(LEDGER_SQL.read_text(encoding="utf-8"), reverse_sql=PREVIOUS_DEFINITIONS),
    ]
