"""PostgreSQL guards the ledger itself, so even raw SQL cannot break it:

- an entry's currency is its account's (composite foreign key);
- the entries of a transaction sum to zero per currency, checked at commit (deferred constraint trigger);
- transactions and entries are append-only (UPDATE and DELETE raise).
"""

from django.db import migrations

FORWARD = r"""
ALTER TABLE billing_entry
    ADD CONSTRAINT entry_currency_is_account_currency
    FOREIGN KEY (account_id, amount_currency) REFERENCES billing_account (id, balance_currency);

CREATE FUNCTION billing_ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE CONSTRAINT TRIGGER billing_entry_balanced
    AFTER INSERT ON billing_entry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_check_balanced();

CREATE FUNCTION billing_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are immutable: % on % refused (post a reversal instead)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER billing_transaction_append_only
    BEFORE UPDATE OR DELETE ON billing_transaction
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_append_only();

CREATE TRIGGER billing_entry_append_only
    BEFORE UPDATE OR DELETE ON billing_entry
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_append_only();
"""

REVERSE = r"""
DROP TRIGGER IF EXISTS billing_entry_append_only ON billing_entry;
DROP TRIGGER IF EXISTS billing_transaction_append_only ON billing_transaction;
DROP FUNCTION IF EXISTS billing_ledger_append_only();
DROP TRIGGER IF EXISTS billing_entry_balanced ON billing_entry;
DROP FUNCTION IF EXISTS billing_ledger_check_balanced();
ALTER TABLE billing_entry DROP CONSTRAINT IF EXISTS entry_currency_is_account_currency;
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
