"""Default admin groups: Accountant, Support, Administrator.

Permissions are created first (they normally appear only after the post_migrate signal), so the groups get
them on a fresh database too. Groups are matched by name: running forward on a database that already has a
group of that name adds the permissions to it.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ACTIONS = ("add", "change", "delete", "view")
BILLING_MODELS = (
    "customer", "account", "transaction", "entry", "event", "eventdelivery", "webhookendpoint", "apikey",
    "idempotencyrecord", "billingpolicy", "billingrun",
)


def _view_all(app_label, models):
    return [(app_label, f"view_{model}") for model in models]


def _all(app_label, models):
    return [(app_label, f"{action}_{model}") for model in models for action in ACTIONS]


def _group_permissions(apps):
    # the billing models of this state (the admin test fixture runs this function on today's apps, from which
    # billingrun has moved to plans: plans.0006 moved its permissions)
    present = {model._meta.model_name for model in apps.get_app_config("billing").get_models()}
    billing_models = tuple(model for model in BILLING_MODELS if model in present)
    plans_models = tuple(model._meta.model_name for model in apps.get_app_config("plans").get_models())
    beat_models = tuple(model._meta.model_name for model in apps.get_app_config("django_celery_beat").get_models())
    return {
        # the accountant's home: everything billing to read, customers to create and edit,
        # manual adjustments and reversals (both post transactions)
        "Accountant": [
            *_view_all("billing", billing_models),
            ("billing", "add_customer"), ("billing", "change_customer"),
            ("billing", "add_transaction"),
            *_view_all("plans", plans_models),
        ],
        # answers customers: reads their card, ledger and events, corrects contact data; no money moves
        "Support": [
            *_view_all("billing", ("customer", "transaction", "entry", "account", "event")),
            ("billing", "change_customer"),
            *_view_all("plans", plans_models),
        ],
        "Administrator": [
            *_all("billing", billing_models),
            *_all("plans", plans_models),
            *_all("django_celery_beat", beat_models),
            *_all("auth", ("user", "group")),
            ("auth", "view_permission"),
        ],
    }


def create_default_groups(apps, schema_editor):
    using = schema_editor.connection.alias
    for app_config in apps.get_app_configs():
        # create_permissions skips app configs without a models module, as historical ones are
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        try:
            create_permissions(app_config, verbosity=0, using=using, apps=apps)
        finally:
            app_config.models_module = models_module

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in _group_permissions(apps).items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        permissions = []
        for app_label, codename in wanted:
            permissions.append(
                Permission.objects.using(using).get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.add(*permissions)


def delete_default_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(
        name__in=("Accountant", "Support", "Administrator")
    ).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0003_billing_run_and_policy"),
        ("plans", "0001_catalog_and_subscriptions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(create_default_groups, delete_default_groups),
    ]
