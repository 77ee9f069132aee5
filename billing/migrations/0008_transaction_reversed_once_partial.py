"""A transaction is reversed at most once: unique only where `reverses` is set (a partial index), so the
ledger's inserts no longer add a NULL to a unique index on every posting."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0007_ledger_checks_once_per_transaction"),
    ]

    operations = [
        migrations.AlterField(
            model_name="transaction",
            name="reverses",
            field=models.ForeignKey(blank=True, db_index=False, null=True,
                                    on_delete=django.db.models.deletion.PROTECT, related_name="reversed_by",
                                    to="billing.transaction"),
        ),
        migrations.AddConstraint(
            model_name="transaction",
            constraint=models.UniqueConstraint(condition=models.Q(("reverses__isnull", False)), fields=("reverses",),
                                               name="transaction_reversed_once"),
        ),
    ]
