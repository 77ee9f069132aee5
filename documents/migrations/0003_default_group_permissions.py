"""The default admin groups (billing.0004) see the invoices: Accountant and Support read them and the
document counters; Administrator gets every permission of the documents models (the admin itself is
read-only: invoices are issued by the service, never edited)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = ("documentcounter", "invoice", "invoiceline")
ACTIONS = ("add", "change", "delete", "view")
GROUPS = {
    "Accountant": [f"view_{model}" for model in MODELS],
    "Support": [f"view_{model}" for model in MODELS],
    "Administrator": [f"{action}_{model}" for model in MODELS for action in ACTIONS],
}


def grant_document_permissions(apps, schema_editor):
    using = schema_editor.connection.alias
    app_config = apps.get_app_config("documents")
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
        group.permissions.add(*Permission.objects.using(using).filter(content_type__app_label="documents",
                                                                      codename__in=codenames))


def revoke_document_permissions(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    using = schema_editor.connection.alias
    permissions = Permission.objects.using(using).filter(content_type__app_label="documents")
    for group in Group.objects.using(using).filter(name__in=GROUPS):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0002_issued_invoices_immutable"),
        ("billing", "0004_default_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant_document_permissions, revoke_document_permissions)]
