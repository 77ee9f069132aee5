import os

from celery import Celery

# Processes started as `celery -A config` default to the base settings. Whether the environment chose the settings
# is remembered: `python -m config.embedded CMD` (which imports this package) must not hand its default on to CMD,
# or pytest would run on the base settings instead of its own (config.settings.test, from pyproject.toml).
SETTINGS_MODULE_FROM_ENVIRONMENT = "DJANGO_SETTINGS_MODULE" in os.environ
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("billing")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
