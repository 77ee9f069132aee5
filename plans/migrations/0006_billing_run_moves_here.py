"""BillingRun moves here from billing (billing.0015): the billing run renews subscriptions, so plans owns it.

State only: the model keeps the table billing_billingrun with its rows. Its content type moves from billing to
plans, so the permissions granted on it (and the groups that hold them) stay as they were; Support, which views
everything in plans, may now view billing runs too. Reversible.
"""

from django.db import migrations, models


def _move_content_type(apps, schema_editor, *, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if ContentType.objects.using(db).filter(app_label=target, model="billingrun").exists():
        return  # already there (e.g. created by a post_migrate signal on a fresh database)
    ContentType.objects.using(db).filter(app_label=source, model="billingrun").update(app_label=target)


def _support_view_billingrun(apps, schema_editor):
    """Support views everything in plans (billing.0004): billing runs too, now that they are plans'."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    db = schema_editor.connection.alias
    return (
        Group.objects.using(db).filter(name="Support").first(),
        Permission.objects.using(db).filter(content_type__app_label="plans", codename="view_billingrun").first(),
    )


def forwards(apps, schema_editor):
    _move_content_type(apps, schema_editor, source="billing", target="plans")
    group, permission = _support_view_billingrun(apps, schema_editor)
    if group is not None and permission is not None:
        group.permissions.add(permission)


def backwards(apps, schema_editor):
    group, permission = _support_view_billingrun(apps, schema_editor)
    if group is not None and permission is not None:
        group.permissions.remove(permission)
    _move_content_type(apps, schema_editor, source="plans", target="billing")


class Migration(migrations.Migration):
    dependencies = [
        ("plans", "0005_bundle_billing_terms_and_plan"),
        ("billing", "0015_billing_run_moves_to_plans"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="BillingRun",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                        ),
                        (
                            "as_of",
                            models.DateTimeField(help_text="Subscriptions due at or before this instant are billed."),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[("running", "Running"), ("completed", "Completed"), ("failed", "Failed")],
                                default="running",
                                max_length=10,
                            ),
                        ),
                        ("triggered_by", models.CharField(blank=True, max_length=100)),
                        ("chunk_size", models.PositiveIntegerField(default=1000)),
                        ("started_at", models.DateTimeField(auto_now_add=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("due_at_start", models.PositiveIntegerField(default=0)),
                        ("processed", models.PositiveIntegerField(default=0)),
                        ("charged", models.PositiveIntegerField(default=0)),
                        ("canceled", models.PositiveIntegerField(default=0)),
                        ("suspended", models.PositiveIntegerField(default=0)),
                        ("failed", models.PositiveIntegerField(default=0)),
                        ("chunks", models.PositiveIntegerField(default=0)),
                        (
                            "failures",
                            models.JSONField(blank=True, default=list, help_text="[{subscription_id, reason}]"),
                        ),
                        ("workers_started", models.PositiveSmallIntegerField(default=0)),
                        ("workers_finished", models.PositiveSmallIntegerField(default=0)),
                    ],
                    options={"db_table": "billing_billingrun", "ordering": ["-id"]},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
