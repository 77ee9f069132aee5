"""The ledger's trigger functions and triggers are loaded from their one canonical file, billing/sql/ledger.sql.

The file holds exactly the definitions that migrations 0002, 0007 and 0013 left in the database (checked when
this migration was written: pg_get_functiondef and pg_get_triggerdef print the same before and after it), so
loading it changes nothing in a database migrated to 0014, and the reverse is a no-op.

A later change of a function or trigger edits the file and adds a migration like this one whose reverse
restores the previous definitions; LEDGER_SQL_SHA256 pins the file's definitions that the migration was written
for (tests/billing/test_ledger_sql.py checks the newest pin against the file). See docs/ledger.md.
"""

from pathlib import Path

from django.db import migrations

LEDGER_SQL = Path(__file__).resolve().parent.parent / "sql" / "ledger.sql"

# sha256 of the file's definitions, whitespace-normalized (tests/billing/test_ledger_sql.py computes it)
LEDGER_SQL_SHA256 = "ed288eed259b27f560d92d8805b275aef9a78ad91696a80914bdd79560de1d33"


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0015_billing_run_moves_to_plans"),
    ]

    operations = [
        migrations.RunSQL(LEDGER_SQL.read_text(encoding="utf-8"), reverse_sql=migrations.RunSQL.noop),
    ]
