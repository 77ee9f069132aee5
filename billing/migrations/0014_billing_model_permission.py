"""Switching a customer between prepaid and postpaid takes its own permission.

The switch changes how the customer is billed (suspension for insufficient funds, or invoices at period end), so
it is not a contact-data edit: Support, which corrects customers' cards, no longer may; Accountant and
Administrator may. The permission is created here (it would appear only after post_migrate) so the groups get it
on a fresh database too.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = ("Accountant", "Administrator")


def grant_billing_model_permission(apps, schema_editor):
    using = schema_editor.connection.alias
    app_config = apps.get_app_config("billing")
    models_module = getattr(app_config, "models_module", None)
    app_config.models_module = models_module or True  # create_permissions skips historical configs without it
    try:
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
    finally:
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.using(using).get(content_type__app_label="billing",
                                                     codename="change_billing_model")
    for name in GROUPS:
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(permission)


def revoke_billing_model_permission(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.using(schema_editor.connection.alias).filter(
        content_type__app_label="billing", codename="change_billing_model").delete()


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0013_checks_off_the_posting_path"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="customer",
            options={"ordering": ["id"],
                     "permissions": [("change_billing_model", "Can switch a customer between prepaid and postpaid")]},
        ),
        migrations.RunPython(grant_billing_model_permission, revoke_billing_model_permission),
    ]
