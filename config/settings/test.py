import os

# Tests run with DEBUG off, as production does (Django's test runner forces it off anyway), so they need a key:
# a throwaway one, set before the base settings require it. Read by the Celery worker the tests start, too.
os.environ.setdefault("SECRET_KEY", "test-only-insecure-key-never-used-in-production")
# The tests read the admin's pages in English (what they assert); tests of the Russian pages ask for Russian.
os.environ.setdefault("LANGUAGE_CODE", "en")

from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The test client, the live server and the browser speak plain http on 127.0.0.1: no HTTPS redirect, no secure-only
# cookies, no HSTS (production's defaults with DEBUG off).
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = False
SECURE_HSTS_PRELOAD = False
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# The built-in test-mode payment provider takes the tests' payments offline (the real adapters' tests intercept HTTP).
PAYMENTS_TEST_MODE = True
PAYMENTS_DEFAULT_PROVIDER = "test"
