"""Accountants run subscriptions from the admin (issue 10, item 8): the Accountant group (billing.0004) may add
subscriptions and change them (plan, quantity, options, coupon, cancel, pause, resume), each through the same
services as the API. The permissions are created here (they would appear only after post_migrate) so the group
gets them on a fresh database too."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Accountant"
CODENAMES = ("add_subscription", "change_subscription")


def grant_subscription_permissions(apps, schema_editor):
    using = schema_editor.connection.alias
    app_config = apps.get_app_config("plans")
    models_module = getattr(app_config, "models_module", None)
    app_config.models_module = models_module or True  # create_permissions skips historical configs without it
    try:
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
    finally:
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name=GROUP)
    group.permissions.add(
        *Permission.objects.using(using).filter(content_type__app_label="plans", codename__in=CODENAMES)
    )


def revoke_subscription_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    using = schema_editor.connection.alias
    permissions = Permission.objects.using(using).filter(content_type__app_label="plans", codename__in=CODENAMES)
    for group in Group.objects.using(using).filter(name=GROUP):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("plans", "0009_prepaid_rule"),
        ("billing", "0004_default_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant_subscription_permissions, revoke_subscription_permissions)]
