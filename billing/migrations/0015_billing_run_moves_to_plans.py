"""BillingRun moves to plans (plans.0006 takes it over): billing forgets the model, the table stays as it is.

A state-only operation: the table billing_billingrun and its rows are untouched; plans' model keeps the table
name. Reversible (the reverse gives the model back to billing's state).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0014_billing_model_permission"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="BillingRun")],
            database_operations=[],
        ),
    ]
