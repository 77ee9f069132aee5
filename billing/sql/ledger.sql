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

-- ----- Rows written by the current database transaction -------------------------------------------------------
-- Whether a row's xmin is the current database transaction's own: its top-level id, or one of its subtransactions
-- (a savepoint, released or still open). A subtransaction's id is newer than its top-level one, and a row another
-- transaction wrote is visible only once that one committed, so a visible row whose writer is still in progress
-- was written here. The 32-bit xmin is placed relative to the current full transaction id (within 2^31 of it).

CREATE OR REPLACE FUNCTION billing_ledger_written_here(inserted_by xid)
 RETURNS boolean
 LANGUAGE plpgsql
AS $$
DECLARE
    top bigint := pg_current_xact_id()::text::bigint;
    delta bigint := ((inserted_by::text::bigint - top) % 4294967296 + 6442450944) % 4294967296 - 2147483648;
BEGIN
    RETURN delta = 0 OR (delta > 0 AND pg_xact_status((top + delta)::text::xid8) = 'in progress');
END;
$$;

-- ----- The per-statement check, and the check at commit of what a statement left open ---------------------------
-- An AFTER INSERT trigger on the entries, once per statement, over the rows that statement inserted (its transition
-- table new_entries): every transaction they name exists and was inserted by this same database transaction (no
-- entry joins a transaction committed earlier; the usual case, a transaction row inserted by the top level of the
-- current database transaction, is recognised by comparing xids without calling billing_ledger_written_here),
-- every entry's account exists in the entry's currency, and no amount is zero: any of these refuses the statement
-- at once. Then the statement's own entries are summed per transaction and currency (the transition table alone, no
-- index probe). A transaction whose entries of this statement do not sum to zero (its entries come in several
-- statements) is written to billing_ledger_open_transaction, whose deferred constraint trigger sums all of its
-- entries at commit (or at SET CONSTRAINTS ALL IMMEDIATE) and refuses the commit unless it balances then. That is
-- enough: a transaction's entries all come from statements of the database transaction that inserted it (checked
-- above), entries are never updated or deleted, and every such statement either added a zero sum or marked the
-- transaction, so one whose statements each added zero sums to zero, and any other is marked (a mark inserted in a
-- rolled-back subtransaction goes with the entries it was for). The ledger's writers insert a transaction's entries
-- in one statement, so their checks cost one trigger call per statement and nothing at commit. Nothing a session
-- can set changes what is checked; a row deleted from the open table after its insert is still checked (its event
-- is queued by the insert). The queries probe the indexes once per transaction and once per (account, currency)
-- pair (subqueries, not joins: the plan must not depend on the transition table's estimates).

CREATE TABLE IF NOT EXISTS billing_ledger_open_transaction (transaction_id bigint NOT NULL);

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
    PERFORM 1
       FROM (SELECT DISTINCT d.account_id, d.amount_currency FROM new_entries d) p
      WHERE p.amount_currency IS DISTINCT FROM (SELECT a.balance_currency FROM billing_account a WHERE a.id = p.account_id)
      LIMIT 1;
    IF FOUND THEN  -- the first entry at fault, for the message
        SELECT n.id, n.transaction_id INTO bad_entry, bad_transaction
          FROM new_entries n
         WHERE n.amount_currency IS DISTINCT FROM (SELECT a.balance_currency FROM billing_account a WHERE a.id = n.account_id)
         ORDER BY n.id
         LIMIT 1;
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
    SELECT DISTINCT x.transaction_id
      FROM (SELECT n.transaction_id FROM new_entries n
             GROUP BY n.transaction_id, n.amount_currency
            HAVING sum(n.amount) <> 0) x;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS billing_entry_balanced ON billing_entry;
CREATE TRIGGER billing_entry_balanced AFTER INSERT ON billing_entry REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION billing_ledger_check_balanced();

CREATE OR REPLACE FUNCTION billing_ledger_check_open()
 RETURNS trigger
 LANGUAGE plpgsql
AS $$
DECLARE
    bad_currency text;
    bad_sum numeric;
BEGIN
    SELECT e.amount_currency, sum(e.amount) INTO bad_currency, bad_sum
      FROM billing_entry e
     WHERE e.transaction_id = NEW.transaction_id
     GROUP BY e.amount_currency
    HAVING sum(e.amount) <> 0
     ORDER BY e.amount_currency
     LIMIT 1;
    IF bad_currency IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % is unbalanced: % % does not sum to zero',
            NEW.transaction_id, bad_sum, bad_currency
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    DELETE FROM billing_ledger_open_transaction WHERE transaction_id = NEW.transaction_id;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS billing_ledger_open_transaction_balanced ON billing_ledger_open_transaction;
CREATE CONSTRAINT TRIGGER billing_ledger_open_transaction_balanced AFTER INSERT ON billing_ledger_open_transaction
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION billing_ledger_check_open();

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
-- Entries have no foreign keys (the per-statement check proves them), so what the keys would
-- also guarantee is kept here: an account is never deleted and never changes id, currency, kind or customer.
-- On INSERT it checks that the account opens with a zero balance (its balance comes from entries), that a customer
-- account names its customer and no other account names one (as a CHECK constraint it would be evaluated again on
-- every balance update), and that a customer account is in its customer's currency: a customer has one currency,
-- so no posting can open a second balance.

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
        IF NEW.balance <> 0 THEN
            RAISE EXCEPTION 'a ledger account opens with a zero balance: its balance comes from entries '
                            '(account_opens_at_zero; account %)', NEW.code
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

-- ----- Cached balances change only together with entries -------------------------------------------------------
-- A change of an account's cached balance (its row's balance, or one of its balance slots: inserted with a
-- non-zero balance or updated) is refused unless entries of that account were inserted by the same database
-- transaction before the statement's end (the posting statement inserts its entries and updates the balances in
-- one statement; the batch inserts the entries first). For the slots, AFTER row triggers whose WHEN clause lets
-- only real changes through; for the accounts, a statement trigger (below): one index probe per changed balance, at
-- the end of the statement. The account's newest entries are
-- read first (index on account, id), so the entries of the current database transaction are found at once. That
-- the amounts match is proven by ledger_verify (billing/services/ledger_verify.py), not here. A slot keeps its
-- account and number, and is never deleted.

CREATE OR REPLACE FUNCTION billing_ledger_balance_guard()
 RETURNS trigger
 LANGUAGE plpgsql
AS $$
DECLARE
    top xid := pg_current_xact_id()::xid;
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

-- The accounts' rows are checked once per UPDATE statement over its transition tables (a billing chunk updates a
-- thousand customer balances in one statement): the same probe per changed balance, in one query instead of a
-- trigger call per row.

CREATE OR REPLACE FUNCTION billing_ledger_balances_follow_entries()
 RETURNS trigger
 LANGUAGE plpgsql
AS $$
DECLARE
    top xid := pg_current_xact_id()::xid;
    account bigint;
BEGIN
    SELECT n.id INTO account
      FROM new_accounts n
      JOIN old_accounts o ON o.id = n.id
     WHERE n.balance IS DISTINCT FROM o.balance
       -- a scalar subquery, not NOT EXISTS: PostgreSQL drops ORDER BY and LIMIT from an EXISTS, and the anti-join
       -- it then plans reads the account's entries from the oldest one (a busy account's postings slow down)
       AND (SELECT true
              FROM billing_entry e
             WHERE e.account_id = n.id AND (e.xmin = top OR billing_ledger_written_here(e.xmin))
             ORDER BY e.id DESC
             LIMIT 1) IS NULL
     ORDER BY n.id
     LIMIT 1;
    IF account IS NOT NULL THEN
        RAISE EXCEPTION 'the cached balance of ledger account % changes only together with its entries, '
                        'in the same database transaction (balance_follows_entries)', account
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS billing_account_balance_guard ON billing_account;
CREATE TRIGGER billing_account_balance_guard AFTER UPDATE ON billing_account
    REFERENCING OLD TABLE AS old_accounts NEW TABLE AS new_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION billing_ledger_balances_follow_entries();

DROP TRIGGER IF EXISTS billing_slot_insert_guard ON billing_accountbalanceslot;
CREATE TRIGGER billing_slot_insert_guard AFTER INSERT ON billing_accountbalanceslot
    FOR EACH ROW WHEN ((new.balance <> (0)::numeric)) EXECUTE FUNCTION billing_ledger_balance_guard();

DROP TRIGGER IF EXISTS billing_slot_update_guard ON billing_accountbalanceslot;
CREATE TRIGGER billing_slot_update_guard AFTER UPDATE ON billing_accountbalanceslot
    FOR EACH ROW WHEN (((new.balance IS DISTINCT FROM old.balance) OR (new.account_id <> old.account_id)
                        OR (new.slot <> old.slot))) EXECUTE FUNCTION billing_ledger_balance_guard();

DROP TRIGGER IF EXISTS billing_slot_append_only ON billing_accountbalanceslot;
CREATE TRIGGER billing_slot_append_only BEFORE DELETE ON billing_accountbalanceslot
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_append_only();

-- ----- TRUNCATE: the whole ledger or nothing -------------------------------------------------------------------
-- Row triggers do not fire on TRUNCATE. An AFTER TRUNCATE trigger runs once every table the statement names has
-- been emptied, so it accepts a TRUNCATE that leaves the ledger consistent (no entry, no transaction, every cached
-- balance zero: the test suite's flush empties every table in one statement) and refuses any other, which rolls
-- the whole statement back.

CREATE OR REPLACE FUNCTION billing_ledger_truncate_guard()
 RETURNS trigger
 LANGUAGE plpgsql
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM billing_entry) OR EXISTS (SELECT 1 FROM billing_transaction)
       OR EXISTS (SELECT 1 FROM billing_accountbalanceslot s WHERE s.balance <> 0)
       OR EXISTS (SELECT 1 FROM billing_account a WHERE a.balance <> 0) THEN
        RAISE EXCEPTION 'TRUNCATE of % refused: the ledger is emptied whole (entries, transactions and balances '
                        'in one statement) or not at all', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS billing_entry_truncate_guard ON billing_entry;
CREATE TRIGGER billing_entry_truncate_guard AFTER TRUNCATE ON billing_entry
    FOR EACH STATEMENT EXECUTE FUNCTION billing_ledger_truncate_guard();

DROP TRIGGER IF EXISTS billing_transaction_truncate_guard ON billing_transaction;
CREATE TRIGGER billing_transaction_truncate_guard AFTER TRUNCATE ON billing_transaction
    FOR EACH STATEMENT EXECUTE FUNCTION billing_ledger_truncate_guard();

DROP TRIGGER IF EXISTS billing_account_truncate_guard ON billing_account;
CREATE TRIGGER billing_account_truncate_guard AFTER TRUNCATE ON billing_account
    FOR EACH STATEMENT EXECUTE FUNCTION billing_ledger_truncate_guard();

DROP TRIGGER IF EXISTS billing_slot_truncate_guard ON billing_accountbalanceslot;
CREATE TRIGGER billing_slot_truncate_guard AFTER TRUNCATE ON billing_accountbalanceslot
    FOR EACH STATEMENT EXECUTE FUNCTION billing_ledger_truncate_guard();
