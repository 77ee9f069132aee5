"""DEBUG is off unless the environment turns it on (issue 10, item 11): a deployment that forgets it shows no
tracebacks or URL lists, and then it must bring its own SECRET_KEY."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# the base settings as a deployment reads them, without a .env file that a developer may keep in the checkout
READ_SETTINGS = (
    "import environ; environ.Env.read_env = lambda *args, **kwargs: None; "
    "import config.settings.base as s; print('DEBUG', s.DEBUG, 'HTTPS', s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE)"
)


def _settings(**env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE")}
    environment.update(DATABASE_URL="postgres://nobody@127.0.0.1:1/unused", **env)
    return subprocess.run(
        [sys.executable, "-c", READ_SETTINGS], cwd=BASE_DIR, env=environment, capture_output=True, text=True, timeout=60
    )


def test_debug_is_off_when_the_environment_does_not_say():
    # when
    result = _settings(SECRET_KEY="k" * 50)

    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["DEBUG", "False", "HTTPS", "True", "True"]


def test_without_debug_a_secret_key_is_required():
    # when
    result = _settings()

    # then
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def test_debug_on_when_the_environment_says_so():
    # when (a laptop: `make run` sets DEBUG=True unless told otherwise)
    result = _settings(DEBUG="True")

    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["DEBUG", "True", "HTTPS", "False", "False"]
