"""Drop the unique (id, balance_currency) on accounts.

It existed only as the target of the entries' composite foreign key (account, currency), which migration 0007
replaced by the per-transaction check; since then nothing referenced it, yet every posting still opened it, and
the planner used it for lookups the primary key serves as well.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0010_hot_balance_updates"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="account",
            name="account_id_currency_unique",
        ),
    ]
