"""The ledger's guards do less per posting and guarantee exactly what they did (issue 9, ledger benchmark):

- the deferred per-transaction check (billing_ledger_check_balanced) recognises the usual case, a transaction row
  inserted by the top level of the current database transaction, by comparing its xmin with the current xid, and
  calls billing_ledger_written_here (a nested plpgsql call) only otherwise (a savepoint inserted the row, or an
  earlier transaction did: then it decides as before);
- the balance guard (billing_ledger_balance_guard) takes the current xid by a cast (xid8 to xid keeps its low 32
  bits, as the modulo did) instead of a round trip through text.

Loads billing/sql/ledger.sql again; the reverse restores both functions verbatim. See docs/ledger.md, "What
PostgreSQL guarantees".
"""

from pathlib import Path

from django.db import migrations

LEDGER_SQL = Path(__file__).resolve().parent.parent / "sql" / "ledger.sql"

# sha256 of the file's definitions, whitespace-normalized (tests/billing/test_ledger_sql.py computes it)
LEDGER_SQL_SHA256 = "be83aaacc827db83a5fff2f9f95810fe8ed3236671eba51a107a383cab324701"

PREVIOUS_DEFINITIONS = """
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
    IF NOT billing_ledger_written_here(transaction_xmin) THEN
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

CREATE OR REPLACE FUNCTION billing_ledger_balance_guard()
 RETURNS trigger
 LANGUAGE plpgsql
AS $$
DECLARE
    top xid := (pg_current_xact_id()::text::bigint % 4294967296)::text::xid;
    account bigint;
    written_here boolean;
BEGIN
    IF TG_TABLE_NAME = 'billing_account' THEN
        account := NEW.id;
    ELSE
        account := NEW.account_id;
        IF TG_OP = 'UPDATE' AND (NEW.account_id <> OLD.account_id OR NEW.slot <> OLD.slot) THEN
            RAISE EXCEPTION 'a balance slot keeps its account and number (slot %)', OLD.id
                USING ERRCODE = 'restrict_violation';
        END IF;
    END IF;
    SELECT true INTO written_here
      FROM billing_entry e
     WHERE e.account_id = account AND (e.xmin = top OR billing_ledger_written_here(e.xmin))
     ORDER BY e.id DESC
     LIMIT 1;
    IF written_here IS NULL THEN
        RAISE EXCEPTION 'the cached balance of ledger account % changes only together with its entries, '
                        'in the same database transaction (balance_follows_entries)', account
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END;
$$;

"""


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0020_prepaid_rule"),
    ]

    operations = [
        migrations.RunSQL(LEDGER_SQL.read_text(encoding="utf-8"), reverse_sql=PREVIOUS_DEFINITIONS),
    ]
