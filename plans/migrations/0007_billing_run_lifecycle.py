"""The billing run's lifecycle (issue 9, item 2): statuses completed_with_failures and interrupted, a heartbeat
(the lease), the count left for the next run, the error of a failed run, and at most one running run.

Existing rows: runs left `running` by the old code (two runs started together, a locked row, a killed worker)
are closed as interrupted, all but the newest, which gets its start as heartbeat (the next run closes it as
interrupted once the lease is over, unless its workers are still alive); completed runs with failures become
completed_with_failures. Reversible: the new statuses map back to completed and failed.
"""

from django.db import migrations, models
from django.db.models import F


def forwards(apps, schema_editor):
    BillingRun = apps.get_model("plans", "BillingRun")
    db = schema_editor.connection.alias
    runs = BillingRun.objects.using(db)
    runs.filter(status="running").update(heartbeat_at=F("started_at"))
    newest = runs.filter(status="running").order_by("-pk").values_list("pk", flat=True).first()
    runs.filter(status="running").exclude(pk=newest).update(status="interrupted", finished_at=F("started_at"))
    runs.filter(status="completed", failed__gt=0).update(status="completed_with_failures")


def backwards(apps, schema_editor):
    BillingRun = apps.get_model("plans", "BillingRun")
    db = schema_editor.connection.alias
    BillingRun.objects.using(db).filter(status="completed_with_failures").update(status="completed")
    BillingRun.objects.using(db).filter(status="interrupted").update(status="failed")


class Migration(migrations.Migration):

    dependencies = [
        ('plans', '0006_billing_run_moves_here'),
    ]

    operations = [
        migrations.AddField(
            model_name='billingrun',
            name='error',
            field=models.TextField(blank=True, help_text='Why a worker stopped (status failed).'),
        ),
        migrations.AddField(
            model_name='billingrun',
            name='heartbeat_at',
            field=models.DateTimeField(blank=True, help_text='Last sign of life of its workers (start, every chunk, end): its lease.', null=True),
        ),
        migrations.AddField(
            model_name='billingrun',
            name='left',
            field=models.PositiveIntegerField(default=0, help_text='Still due when the run closed (locked by another transaction, or its workers died), not counting its failures: left for the next run.'),
        ),
        migrations.AlterField(
            model_name='billingrun',
            name='status',
            field=models.CharField(choices=[('running', 'Running'), ('completed', 'Completed'), ('completed_with_failures', 'Completed with failures'), ('interrupted', 'Interrupted'), ('failed', 'Failed')], default='running', max_length=30),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.AddConstraint(
            model_name='billingrun',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'running')), fields=('status',), name='billing_run_one_running'),
        ),
    ]
