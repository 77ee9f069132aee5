"""Settings: everything comes from the environment, with safe defaults for a laptop.

See .env.example for every variable. Business policy (tax rates, grace days, numbering)
lives in admin-edited models, not here.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config import embedded

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Off unless the environment turns it on: a deployment that forgets it shows no tracebacks or URL lists.
# `make run` turns it on for a laptop (config/devserver.py); the tests set their own (config/settings/test.py).
DEBUG = env.bool("DEBUG", default=False)
if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-never-used-with-debug-off")
elif not (SECRET_KEY := env.str("SECRET_KEY", default="")):  # required in production: no literal fallback
    raise ImproperlyConfigured(
        "SECRET_KEY is required when DEBUG is off (the default). Production: set SECRET_KEY; a laptop: DEBUG=True "
        "in the environment or in .env (`make run` does so itself)."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",  # runserver leaves static files to WhiteNoise, as in production
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from our static files, not a CDN
    "djmoney",
    "django_celery_beat",
    "billing",
    "plans",
    "documents",
    "portal",
    "notifications",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # static files from STATIC_ROOT (collected at install), with or without DEBUG, no separate web server
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # who may frame the portal (the widget's origins only); before the session layer, to see the cookies it sets
    "portal.middleware.PortalFrameMiddleware",
    # Django's session, auth and messages middleware, left out for /api/ (keys only, no sessions; config/middleware.py)
    "config.middleware.SessionMiddleware",
    # the language of each request: the user's choice (cookie set by the admin's switch), else Accept-Language,
    # else LANGUAGE_CODE; the API answers in English unless Accept-Language asks otherwise (config/locale.py)
    "config.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "config.middleware.AuthenticationMiddleware",
    "config.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: PostgreSQL only. Without DATABASE_URL an embedded server (pgserver) starts under .data/.
DATABASE_URL = env.str("DATABASE_URL", default="") or embedded.embedded_database_url()
_db = env.db_url_config(DATABASE_URL)
if _db.get("HOST"):
    _db["HOST"] = unquote(_db["HOST"])  # socket directories arrive percent-encoded
# Persistent connections: each web thread and Celery worker keeps its connection between requests (tasks) for up
# to DB_CONN_MAX_AGE seconds instead of opening one per request (a new PostgreSQL backend each time, several
# milliseconds). The health check (a `SELECT 1` before the first query of each request or task that reuses a
# connection) replaces one that PostgreSQL or the network closed in the meantime. A connection stays one
# PostgreSQL session for as long as it lives, so the prepared statements (config.db.prepared_cursor: the
# ledger's, the API's), which are per session, are prepared once per connection and stay valid; a pooler in
# transaction mode would break them (docs/ledger.md).
_db["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=600)
_db["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=True)
# The ledger's and the API's hot statements are prepared (config.db.prepared_cursor). Left to itself, PostgreSQL
# may keep re-planning one on every call when its generic plan looks dearer than the custom ones; their generic
# plans are good by construction, so always use them. Nothing else is affected: Django's own queries are bound on
# the client and sent unprepared. See docs/ledger.md, "Prepared statements".
#
# random_page_cost: PostgreSQL's default (4) prices a random page read as a spinning disk's, which makes a chunk's
# look-ups of a thousand rows by key (its subscriptions' options and discounts, their customers' accounts) look
# dearer than reading a whole table, so the planner picks a sequential scan whose cost grows with the table (at
# 150,000 subscriptions it was a tenth of a billing chunk's server time, and parallel workers on top). On SSDs, and
# with the working set in memory, 1.1 is the usual setting; DB_RANDOM_PAGE_COST="" leaves the server's own.
_db.setdefault("OPTIONS", {})
_pg_options = [_db["OPTIONS"].get("options", ""), "-c plan_cache_mode=force_generic_plan"]
if _random_page_cost := env.str("DB_RANDOM_PAGE_COST", default="1.1"):
    _pg_options.append(f"-c random_page_cost={float(_random_page_cost)}")
_db["OPTIONS"]["options"] = " ".join(option for option in _pg_options if option)
_db["ATOMIC_REQUESTS"] = False
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Russian first (the accountants' language), English too; each user switches in the admin (set_language).
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="ru")
LANGUAGES = [("ru", "Русский"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]  # the compiled catalogs (.mo) are committed: no gettext tools at install
LANGUAGE_COOKIE_NAME = "billing_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
# The zone the admin shows times in (the operator's). Instants are stored in UTC (USE_TZ); billing periods are
# computed in each customer's own zone, never in this one.
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Moscow")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / ".data" / "media"))
MEDIA_URL = "media/"

# --- Security (production sets DEBUG=False; `manage.py check --deploy` passes, see README)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Celery. Without CELERY_BROKER_URL the filesystem broker under .data/broker serves a laptop.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or embedded.FILESYSTEM_BROKER_URL
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = embedded.filesystem_broker_folder()
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="billing")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "outbox-dispatch": {"task": "billing.tasks.outbox_dispatch", "schedule": 5.0},
    "billing-run": {"task": "plans.tasks.billing_run_start", "schedule": env.float("BILLING_RUN_EVERY", 900.0)},
    # closes a billing run whose workers died (no heartbeat within its lease) as interrupted, and suspends
    "billing-run-sweep": {"task": "plans.tasks.billing_run_sweep", "schedule": 60.0},
    # daily, after the runs of every time zone's midnight (the last, UTC-12, comes at 12:00 UTC): the postpaid
    # invoices of the periods that ended by today (UTC)
    "invoice-postpaid": {"task": "documents.tasks.invoice_postpaid", "schedule": crontab(hour=12, minute=30)},
    # daily, after the last time zone's midnight: on the policy's closing day, the previous month's acts and VAT
    # invoices / УПД (documents.services.closing)
    "monthly-closing": {"task": "documents.tasks.monthly_closing", "schedule": crontab(hour=12, minute=45)},
    # daily: invoices for payment before renewals that customers paying by bank transfer cannot cover
    "renewal-invoices": {"task": "documents.tasks.renewal_invoices", "schedule": crontab(hour=6, minute=0)},
    # daily: advance VAT invoices for payments not shipped within 5 days, and the VAT of shipped advances reversed
    "advance-vat": {"task": "documents.tasks.advance_vat", "schedule": crontab(hour=13, minute=0)},
    # payments: lost provider calls and timed-out refunds retried with their keys, stale pending ones read back
    "payments-retry": {"task": "billing.tasks.payments_retry", "schedule": 60.0},
    # autopay: balances below their threshold topped up from the saved method; renewals the balance cannot cover
    "autopay-sweep": {"task": "billing.tasks.autopay_sweep", "schedule": 600.0},
    "autopay-before-renewals": {"task": "plans.tasks.autopay_before_renewals", "schedule": crontab(minute=20)},
    # daily, at night (UTC): every cached balance and every transaction proven against the entries
    "ledger-verify": {"task": "billing.tasks.ledger_verify", "schedule": crontab(hour=2, minute=40)},
}
BILLING_RUN_WORKERS = env.int("BILLING_RUN_WORKERS", default=2)
CLOSING_CHUNK_SIZE = env.int("CLOSING_CHUNK_SIZE", default=500)  # customers per monthly-closing chunk
# chunks each billing-run worker keeps going at once, each on its own connection (see billing_run_work)
BILLING_RUN_CHUNKS_IN_FLIGHT = env.int("BILLING_RUN_CHUNKS_IN_FLIGHT", default=2)
# a running billing run without a sign of life from its workers (start, each chunk, end) for this long is taken
# as interrupted (its workers died) by the next run or the sweep task
BILLING_RUN_LEASE_SECONDS = env.float("BILLING_RUN_LEASE_SECONDS", default=300.0)

# --- REST API
# the models config.api uses, owned by billing (resolved when used, like AUTH_USER_MODEL)
API_KEY_MODEL = "billing.ApiKey"
IDEMPOTENCY_RECORD_MODEL = "billing.IdempotencyRecord"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["config.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["config.api.auth.HasApiKeyScope"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.problems.problem_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.api.negotiation.ContentNegotiation",
    "DEFAULT_PARSER_CLASSES": ["config.api.parsers.BoundedJSONParser"],
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Billing API",
    "DESCRIPTION": "Customers, balances and the double-entry ledger. Authenticate with "
    "`Authorization: Bearer <api key>`; send `Idempotency-Key` with every POST. "
    "Errors are RFC 9457 problem+json.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs pages load nothing from another host: the UIs come from drf-spectacular-sidecar's static files,
    # Swagger UI's online validator badge is off, and ReDoc's page template loads no web fonts (api/redoc.html).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Several models have a field named "status" with different choices: name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "CustomerStatusEnum": "billing.models.Customer.Status",
        "SubscriptionStatusEnum": "plans.models.Subscription.Status",
        "InvoiceStatusEnum": "documents.models.Invoice.Status",
        "DocumentStatusEnum": "documents.models.Document.Status",
    },
}

# --- Email (real SMTP; tests point it at aiosmtpd)
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("EMAIL_PORT", default=1025)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@localhost")

# --- Outbox / webhooks
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", default=500)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)

# One handler, on the root logger: every record is printed once. Django's own defaults give the "django" logger a
# console handler of its own (and mail_admins), which printed each warning twice; here it only propagates to the
# root. "django.server" (runserver's request lines) keeps Django's handler. Celery's worker and beat replace the
# root's handler with theirs, so their lines keep Celery's format, still once each.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {
        # beat's and the worker's lines for each run of the outbox dispatcher (every 5 s) at DEBUG, unless it
        # delivered something (config/logs.py)
        "routine_tasks": {"()": "config.logs.RoutineTaskFilter", "tasks": ["billing.tasks.outbox_dispatch"]},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": [], "level": "NOTSET", "propagate": True},  # the root's level and handler
        "django.db.backends": {"level": "INFO"},
        "celery.beat": {"filters": ["routine_tasks"]},
        "celery.worker.strategy": {"filters": ["routine_tasks"]},
        "celery.app.trace": {"filters": ["routine_tasks"]},
        # the embedded PostgreSQL's wrapper says "exiting <pid> remaining pids=[…]" at every exit
        "pgserver": {"level": "WARNING"},
        # WeasyPrint logs each of its seven steps of every PDF at INFO
        "weasyprint.progress": {"level": "WARNING"},
    },
}

# --- Money: the currencies this installation bills in (ISO 4217). Amounts are Decimal, never float.
CURRENCIES = env.list(
    "CURRENCIES",
    default=["RUB", "USD", "EUR", "KZT", "BYN", "UZS", "AMD", "GEL", "KGS", "TRY", "CNY", "AED", "GBP", "JPY"],
)
CURRENCY_CHOICES = [(c, c) for c in CURRENCIES]

# Usage events are accepted at most this far ahead of the server's clock (clock skew); the other end of the window
# is the start of the customer's oldest open billing period (plans.services.usage).
USAGE_MAX_FUTURE_MINUTES = env.int("USAGE_MAX_FUTURE_MINUTES", default=5)

# --- Payments (billing/providers/): the providers this installation takes money through. Secrets come from the
# environment only. The built-in test-mode provider simulates a hosted checkout and its webhook locally; it is on
# with DEBUG (`make run`) and in the tests, and off in production unless PAYMENTS_TEST_MODE turns it on.
PAYMENTS_TEST_MODE = env.bool("PAYMENTS_TEST_MODE", default=DEBUG)
PAYMENTS_DEFAULT_PROVIDER = env.str("PAYMENTS_DEFAULT_PROVIDER", default="test" if PAYMENTS_TEST_MODE else "yookassa")
PAYMENTS_PUBLIC_URL = env.str("PAYMENTS_PUBLIC_URL", default="http://127.0.0.1:8000")  # return and checkout URLs
PAYMENTS_TIMEOUT_SECONDS = env.float("PAYMENTS_TIMEOUT_SECONDS", default=10.0)

# --- The customer portal (portal/): sign-in throttling, one-time links, the embeddable widget.
PORTAL_SIGN_IN_WINDOW_SECONDS = env.int("PORTAL_SIGN_IN_WINDOW_SECONDS", default=15 * 60)
PORTAL_SIGN_IN_MAX_FAILURES_PER_EMAIL = env.int("PORTAL_SIGN_IN_MAX_FAILURES_PER_EMAIL", default=5)
PORTAL_SIGN_IN_MAX_FAILURES_PER_IP = env.int("PORTAL_SIGN_IN_MAX_FAILURES_PER_IP", default=30)
PORTAL_LINK_TIMEOUT_SECONDS = env.int("PORTAL_LINK_TIMEOUT_SECONDS", default=15 * 60)  # one-time sign-in links
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=24 * 3600)  # reset and invitation links
PORTAL_WIDGET_TOKEN_MAX_AGE_SECONDS = env.int("PORTAL_WIDGET_TOKEN_MAX_AGE_SECONDS", default=10 * 60)
PORTAL_HISTORY_PAGE_SIZE = 50
YOOKASSA_SHOP_ID = env.str("YOOKASSA_SHOP_ID", default="")
YOOKASSA_SECRET_KEY = env.str("YOOKASSA_SECRET_KEY", default="")
# ЮKassa signs nothing: a notification is trusted only from these networks, and then re-read from its API.
YOOKASSA_TRUSTED_NETWORKS = env.list(
    "YOOKASSA_TRUSTED_NETWORKS",
    default=[
        "185.71.76.0/27",
        "185.71.77.0/27",
        "77.75.153.0/25",
        "77.75.156.11",
        "77.75.156.35",
        "77.75.154.128/25",
        "2a02:5180::/32",
    ],
)
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
# How many proxies in front of the app append to X-Forwarded-For (0: take REMOTE_ADDR), for the IP allow-list.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
