"""One deferred check per ledger transaction instead of six per-row checks per posting.

Until now every entry fired three checks: the deferred balance trigger, the deferred foreign key to its
transaction and the immediate composite foreign key (account, currency). A two-leg posting ran six of them,
each a query, and the composite key also share-locked the account row, so every writer meeting on a system
account wrote a lock into that one row. Now one deferred constraint trigger proves, at commit, for the whole
transaction in one query:

- the transaction row exists;
- every entry's account exists and is in the entry's currency;
- the entries sum to zero per currency.

The first entry of a transaction checks all of its entries and notes (transaction id, highest entry id) in a
transaction-local setting; the other entries of that transaction queued behind it skip. An entry added later
(a higher id) is checked again, so SET CONSTRAINTS ALL IMMEDIATE followed by more entries is still checked.

What the foreign keys also guaranteed is kept by triggers: accounts can be neither deleted nor moved to
another currency, kind or customer (transactions and entries are append-only since 0002).
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = r"""
ALTER TABLE billing_entry DROP CONSTRAINT entry_currency_is_account_currency;

CREATE OR REPLACE FUNCTION billing_ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    checked text := current_setting('billing.ledger_checked', true);
    transaction_found boolean;
    last_entry bigint;
    bad_entry bigint;
    bad_currency text;
    bad_sum numeric;
BEGIN
    IF checked LIKE NEW.transaction_id || ':%'
       AND NEW.id <= split_part(checked, ':', 2)::bigint THEN
        RETURN NULL;  -- checked a moment ago together with the rest of its transaction
    END IF;
    SELECT EXISTS (SELECT 1 FROM billing_transaction t WHERE t.id = NEW.transaction_id),
           max(x.last_entry), min(x.bad_entry),
           (array_agg(x.currency) FILTER (WHERE x.total <> 0))[1],
           (array_agg(x.total) FILTER (WHERE x.total <> 0))[1]
      INTO transaction_found, last_entry, bad_entry, bad_currency, bad_sum
      FROM (SELECT e.amount_currency AS currency, SUM(e.amount) AS total, max(e.id) AS last_entry,
                   -- a subquery per entry, not a join: the plan must not depend on row estimates
                   min(e.id) FILTER (WHERE e.amount_currency IS DISTINCT FROM (
                       SELECT a.balance_currency FROM billing_account a WHERE a.id = e.account_id)) AS bad_entry
              FROM billing_entry e
             WHERE e.transaction_id = NEW.transaction_id
             GROUP BY e.amount_currency) x;
    IF NOT transaction_found THEN
        RAISE EXCEPTION 'ledger entry % names transaction %, which does not exist', NEW.id, NEW.transaction_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF bad_entry IS NOT NULL THEN
        RAISE EXCEPTION 'ledger entry % of transaction % names an account that does not exist or is not in %',
            bad_entry, NEW.transaction_id, 'the entry''s currency'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF bad_currency IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % is unbalanced: % % does not sum to zero',
            NEW.transaction_id, bad_sum, bad_currency
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    PERFORM set_config('billing.ledger_checked', NEW.transaction_id || ':' || last_entry, true);
    RETURN NULL;
END;
$$;

CREATE FUNCTION billing_account_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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

CREATE TRIGGER billing_account_guard
    BEFORE DELETE OR UPDATE OF id, balance_currency, kind, customer_id ON billing_account
    FOR EACH ROW EXECUTE FUNCTION billing_account_guard();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS billing_account_guard ON billing_account;
DROP FUNCTION IF EXISTS billing_account_guard();

CREATE OR REPLACE FUNCTION billing_ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad_currency text;
    bad_sum numeric;
BEGIN
    SELECT amount_currency, SUM(amount) INTO bad_currency, bad_sum
      FROM billing_entry
     WHERE transaction_id = NEW.transaction_id
     GROUP BY amount_currency
    HAVING SUM(amount) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % is unbalanced: % % does not sum to zero',
            NEW.transaction_id, bad_sum, bad_currency
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END;
$$;

ALTER TABLE billing_entry
    ADD CONSTRAINT entry_currency_is_account_currency
    FOREIGN KEY (account_id, amount_currency) REFERENCES billing_account (id, balance_currency);
"""


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0006_account_balance_slots"),
    ]

    operations = [
        migrations.AlterField(
            model_name="entry",
            name="transaction",
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="entries", to="billing.transaction"),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
