"""The default admin groups (billing.0004) and the portal's logins (billing.0030): accountants add customers'
portal users and change their roles; support reads them and the sign-in attempts; the Administrator gets every
permission. The permissions are created here (they would
appear only after post_migrate) so the groups get them on a fresh database too."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = ("customeruser", "signinattempt")
GROUPS = {
    "Accountant": ["view_customeruser", "add_customeruser", "change_customeruser", "view_signinattempt"],
    "Support": [f"view_{model}" for model in MODELS],
    "Administrator": [f"{action}_{model}" for model in MODELS for action in ("add", "change", "delete", "view")],
}


def grant_portal_permissions(apps, schema_editor):
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
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.using(using).filter(content_type__app_label="billing", codename__in=codenames)
        )


def revoke_portal_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    using = schema_editor.connection.alias
    for name, codenames in GROUPS.items():
        permissions = Permission.objects.using(using).filter(content_type__app_label="billing", codename__in=codenames)
        for group in Group.objects.using(using).filter(name=name):
            group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0030_portal_access"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant_portal_permissions, revoke_portal_permissions)]
