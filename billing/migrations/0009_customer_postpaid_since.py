"""Customer.postpaid_since: the day (UTC) a customer became postpaid, set while and only while it is postpaid (a
check constraint); invoicing takes only the charges of periods starting on or after it."""

from django.db import migrations, models

# Customers already postpaid (made so by hand: no service could set the model before this) were postpaid from the
# start: their day is their creation day (UTC), so every charge they have stays invoiceable, as it was.
BACKFILL = """
UPDATE billing_customer SET postpaid_since = (created_at AT TIME ZONE 'UTC')::date
 WHERE billing_model = 'postpaid' AND postpaid_since IS NULL
"""


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0008_transaction_reversed_once_partial"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="postpaid_since",
            field=models.DateField(
                blank=True, editable=False, null=True,
                help_text="The day (UTC) the customer became postpaid: only charges of periods starting on or after "
                          "it are invoiced. Empty while prepaid.",
            ),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name="customer",
            constraint=models.CheckConstraint(
                condition=models.Q(models.Q(("billing_model", "postpaid"), ("postpaid_since__isnull", False)),
                                   models.Q(models.Q(("billing_model", "postpaid"), _negated=True),
                                            ("postpaid_since", None)), _connector="OR"),
                name="customer_postpaid_since_matches_billing_model",
            ),
        ),
    ]
