"""The ledger's own guarantees hold against whatever a session of the application's role sends (issue 9, item 13):

- the deferred per-transaction check keeps no mark a session could set (the setting billing.ledger_checked is
  gone): the entries one command inserted into a transaction are checked once, by the last of them;
- an entry joins only a transaction inserted by the same database transaction;
- a cached balance (an account's row or a balance slot) changes only in a statement of a database transaction that
  inserted entries of that account, an account opens at zero and a slot is never deleted;
- TRUNCATE is refused unless it empties the whole ledger at once.

Loads billing/sql/ledger.sql again; the reverse drops the new triggers and functions and restores the previous
check and account guard verbatim. See docs/ledger.md, "What PostgreSQL guarantees".
"""

from pathlib import Path

from django.db import migrations

LEDGER_SQL = Path(__file__).resolve().parent.parent / "sql" / "ledger.sql"

# sha256 of the file's definitions, whitespace-normalized (tests/billing/test_ledger_sql.py computes it)
LEDGER_SQL_SHA256 = "2d082bbc988ed49c158d02b9ddec5ccbeb528a900afdd7a51ddec77c22ffea4f"

PREVIOUS_DEFINITIONS = """
DROP TRIGGER billing_account_balance_guard ON billing_account;
DROP TRIGGER billing_slot_insert_guard ON billing_accountbalanceslot;
DROP TRIGGER billing_slot_update_guard ON billing_accountbalanceslot;
DROP TRIGGER billing_slot_append_only ON billing_accountbalanceslot;
DROP TRIGGER billing_entry_truncate_guard ON billing_entry;
DROP TRIGGER billing_transaction_truncate_guard ON billing_transaction;
DROP TRIGGER billing_account_truncate_guard ON billing_account;
DROP TRIGGER billing_slot_truncate_guard ON billing_accountbalanceslot;
DROP FUNCTION billing_ledger_balance_guard();
DROP FUNCTION billing_ledger_truncate_guard();

CREATE OR REPLACE FUNCTION billing_ledger_check_balanced()
 RETURNS trigger
 LANGUAGE plpgsql
AS $$
DECLARE
    checked text := current_setting('billing.ledger_checked', true);
    transaction_found boolean;
    last_entry bigint;
    bad_entry bigint;
    zero_entry bigint;
    first_currency text;
    last_currency text;
    total numeric;
    bad_currency text;
    bad_sum numeric;
BEGIN
    IF checked LIKE NEW.transaction_id || ':%'
       AND NEW.id <= split_part(checked, ':', 2)::bigint THEN
        RETURN NULL;
    END IF;
    SELECT EXISTS (SELECT 1 FROM billing_transaction t WHERE t.id = NEW.transaction_id),
           max(e.id), min(e.amount_currency), max(e.amount_currency), sum(e.amount),
           -- a subquery per entry, not a join: the plan must not depend on row estimates
           min(e.id) FILTER (WHERE e.amount_currency IS DISTINCT FROM (
               SELECT a.balance_currency FROM billing_account a WHERE a.id = e.account_id)),
           min(e.id) FILTER (WHERE e.amount = 0)
      INTO transaction_found, last_entry, first_currency, last_currency, total, bad_entry, zero_entry
      FROM billing_entry e
     WHERE e.transaction_id = NEW.transaction_id;
    IF NOT transaction_found THEN
        RAISE EXCEPTION 'ledger entry % names transaction %, which does not exist', NEW.id, NEW.transaction_id
            USING ERRCODE = 'foreign_key_violation';
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
    checked := set_config('billing.ledger_checked', NEW.transaction_id || ':' || last_entry, true);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION billing_account_guard()
 RETURNS trigger
 LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF (NEW.kind = 'customer') IS DISTINCT FROM (NEW.customer_id IS NOT NULL) THEN
            RAISE EXCEPTION 'a customer account names its customer and no other account names one '
                            '(account_customer_iff_customer_kind; account %)', NEW.code
                USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.kind = 'customer' AND EXISTS (
            SELECT 1 FROM billing_customer c WHERE c.id = NEW.customer_id AND c.currency <> NEW.balance_currency
        ) THEN
            RAISE EXCEPTION 'a customer has one currency: no % account for customer % '
                            '(account_customer_currency; account %)', NEW.balance_currency, NEW.customer_id, NEW.code
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'ledger accounts are never deleted (account %)', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.id <> OLD.id OR NEW.balance_currency <> OLD.balance_currency OR NEW.kind <> OLD.kind
       OR NEW.customer_id IS DISTINCT FROM OLD.customer_id THEN
        RAISE EXCEPTION 'a ledger account keeps its id, currency, kind and customer (account %)', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$;

DROP FUNCTION billing_ledger_written_here(xid);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0017_customer_account_in_customer_currency"),
    ]

    operations = [
        migrations.RunSQL(LEDGER_SQL.read_text(encoding="utf-8"), reverse_sql=PREVIOUS_DEFINITIONS),
    ]
