"""Room on every page of the balance tables, so a balance update stays on its page (a HOT update): no new
entries in the account table's four indexes for each posting. With full pages (the default fillfactor 100)
nearly every update of a customer's balance moved the row and re-indexed it. New pages get the room; existing
ones as their rows are rewritten (or at once with VACUUM FULL / pg_repack)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0009_customer_postpaid_since"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE billing_account SET (fillfactor = 70); "
            "ALTER TABLE billing_accountbalanceslot SET (fillfactor = 50);",
            "ALTER TABLE billing_account RESET (fillfactor); "
            "ALTER TABLE billing_accountbalanceslot RESET (fillfactor);",
        ),
    ]
