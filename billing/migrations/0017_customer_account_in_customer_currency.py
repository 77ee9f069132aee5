"""A customer has one currency: the account guard refuses a customer account in another currency than its
customer's (billing/sql/ledger.sql, account_customer_currency), so no posting can open a second balance.

Loads billing/sql/ledger.sql again; the reverse restores the previous account guard verbatim.
"""

from pathlib import Path

from django.db import migrations

LEDGER_SQL = Path(__file__).resolve().parent.parent / "sql" / "ledger.sql"

# sha256 of the file's definitions, whitespace-normalized (tests/billing/test_ledger_sql.py computes it)
LEDGER_SQL_SHA256 = "f1b767bb861dda08a8947d763e29ed0cbd13af02b60059f0cddc12618a807953"

PREVIOUS_ACCOUNT_GUARD = """
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
"""


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0016_ledger_sql_file"),
    ]

    operations = [
        migrations.RunSQL(LEDGER_SQL.read_text(encoding="utf-8"), reverse_sql=PREVIOUS_ACCOUNT_GUARD),
    ]
