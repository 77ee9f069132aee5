"""Plan segments of a period (plans.SubscriptionSegment): which plan a subscription was on until a plan change
"now", so the period's usage is priced per plan. The default admin groups get the new model's permissions as they
have every plans model's (billing.0004): Accountant and Support view it, Administrator has all four. Reversible.
"""

import django.db.models.deletion
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

ACTIONS = {"Accountant": ("view",), "Support": ("view",), "Administrator": ("add", "change", "delete", "view")}


def _permissions(apps, schema_editor, name: str) -> tuple:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    db = schema_editor.connection.alias
    codenames = [f"{action}_subscriptionsegment" for action in ACTIONS[name]]
    return (
        Group.objects.using(db).filter(name=name).first(),
        list(Permission.objects.using(db).filter(content_type__app_label="plans", codename__in=codenames)),
    )


def forwards(apps, schema_editor):
    config = apps.get_app_config("plans")
    models_module = getattr(config, "models_module", None)
    config.models_module = models_module or True  # historical app configs have none; create_permissions needs one
    try:
        create_permissions(config, verbosity=0, using=schema_editor.connection.alias, apps=apps)
    finally:
        config.models_module = models_module
    for name in ACTIONS:
        group, permissions = _permissions(apps, schema_editor, name)
        if group is not None:
            group.permissions.add(*permissions)


def backwards(apps, schema_editor):
    for name in ACTIONS:
        group, permissions = _permissions(apps, schema_editor, name)
        if group is not None:
            group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("plans", "0007_billing_run_lifecycle"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.CreateModel(
            name="SubscriptionSegment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("period_start", models.DateField(help_text="The period the part belongs to.")),
                (
                    "ends_at",
                    models.DateTimeField(help_text="The instant of the change: events from it on are the next plan's."),
                ),
                (
                    "ends_on",
                    models.DateField(
                        help_text="The customer's local day of the change: it counts on the next plan (minimums prorate by days)."
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "plan",
                    models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="plans.plan"),
                ),
                (
                    "price",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="plans.planprice"
                    ),
                ),
                (
                    "subscription",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="segments",
                        to="plans.subscription",
                    ),
                ),
            ],
            options={
                "ordering": ["subscription", "ends_at", "id"],
                "indexes": [models.Index(fields=["subscription", "period_start"], name="subscription_segment_period")],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
