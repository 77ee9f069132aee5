-- The ledger's trigger functions and triggers as they are live in the database: the one canonical copy.
--
-- What they guard and why they are shaped so: docs/ledger.md ("What PostgreSQL guarantees").
-- Loaded by billing/migrations/0016_ledger_sql_file.py. The statements are idempotent (CREATE OR REPLACE
-- FUNCTION; DROP TRIGGER IF EXISTS then CREATE TRIGGER, inside the migration's transaction), so loading the
-- file again changes nothing unless the file changed.
--
-- Changing a function or a trigger: edit it here, then add a migration that loads this file again (copy
-- 0016), sets LEDGER_SQL_SHA256 to the digest tests/billing/test_ledger_sql.py prints, and whose reverse
-- restores the previous definitions verbatim. The test compares every definition here with
-- pg_get_functiondef / pg_get_triggerdef of the migrated test database, so a function changed in a migration
-- and not here (or here and in no migration) fails it.
--
-- Definitions are written the way PostgreSQL prints them back (RETURNS, LANGUAGE, AS; trigger events in
-- PostgreSQL's order), so the comparison needs no more than whitespace normalization.

-- ----- The deferred per-transaction check ---------------------------------------------------------------------
-- One deferred constraint trigger row per entry; the first one to fire for a transaction checks all of its
-- entries in one query and marks (transaction id, highest entry id) in the transaction-local setting
-- billing.ledger_checked, so the other entries of that transaction skip. An entry added later (a higher id) is
-- checked again. It proves that the transaction exists, that every entry's account exists in the entry's
-- currency, that no amount is zero and that the entries sum to zero per currency.

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

DROP TRIGGER IF EXISTS billing_entry_balanced ON billing_entry;
CREATE CONSTRAINT TRIGGER billing_entry_balanced AFTER INSERT ON billing_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION billing_ledger_check_balanced();

-- ----- Append-only transactions and entries ------------------------------------------------------------------
-- A posted transaction is corrected by a reversal (a new transaction), never by UPDATE or DELETE.

CREATE OR REPLACE FUNCTION billing_ledger_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are immutable: % on % refused (post a reversal instead)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

DROP TRIGGER IF EXISTS billing_transaction_append_only ON billing_transaction;
CREATE TRIGGER billing_transaction_append_only BEFORE DELETE OR UPDATE ON billing_transaction
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_append_only();

DROP TRIGGER IF EXISTS billing_entry_append_only ON billing_entry;
CREATE TRIGGER billing_entry_append_only BEFORE DELETE OR UPDATE ON billing_entry
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_append_only();

-- ----- The account guard -------------------------------------------------------------------------------------
-- Entries have no foreign keys (the deferred check proves them once per transaction), so what the keys would
-- also guarantee is kept here: an account is never deleted and never changes id, currency, kind or customer.
-- On INSERT it checks that a customer account names its customer and no other account names one (as a CHECK
-- constraint it would be evaluated again on every balance update), and that a customer account is in its
-- customer's currency: a customer has one currency, so no posting can open a second balance.

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

DROP TRIGGER IF EXISTS billing_account_guard ON billing_account;
CREATE TRIGGER billing_account_guard BEFORE INSERT OR DELETE OR UPDATE OF id, balance_currency, kind, customer_id
    ON billing_account FOR EACH ROW EXECUTE FUNCTION billing_account_guard();
