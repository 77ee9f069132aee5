"""The default admin groups (billing.0004) and the documents of issue 11 (documents.0005): accountants read
documents, lines and closing runs, and add and change documents (request an invoice for payment, issue drafts,
void with a reason: each through the documents services); support reads them; the Administrator gets every
permission. Created here so the groups get them on a fresh database too."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = ("document", "documentline", "closingrun")
ACTIONS = ("add", "change", "delete", "view")
GROUPS = {
    "Accountant": [f"view_{model}" for model in MODELS] + ["add_document", "change_document", "add_closingrun"],
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
        group.permissions.add(
            *Permission.objects.using(using).filter(content_type__app_label="documents", codename__in=codenames)
        )


def revoke_document_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    using = schema_editor.connection.alias
    for name, codenames in GROUPS.items():
        permissions = Permission.objects.using(using).filter(
            content_type__app_label="documents", codename__in=codenames
        )
        for group in Group.objects.using(using).filter(name=name):
            group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0005_documents_and_closing_runs"),
        ("billing", "0004_default_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant_document_permissions, revoke_document_permissions)]
