"""The Russian catalog: shipped compiled, complete, in step with its .po, and covering every marked string."""

from __future__ import annotations

import gettext as gnu_gettext
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils import translation

LOCALE = Path(settings.BASE_DIR) / "locale"
PO = LOCALE / "ru" / "LC_MESSAGES" / "django.po"
MO = LOCALE / "ru" / "LC_MESSAGES" / "django.mo"


def _catalog(path: Path = PO):
    with path.open("rb") as f:
        return read_po(f, locale="ru")


def test_the_compiled_russian_catalog_ships_and_translates():
    # given the catalog as committed (no gettext tools needed on the machine)
    assert MO.is_file()

    # when / then: Django finds it through LOCALE_PATHS
    with translation.override("ru"):
        assert translation.gettext("Debit") == "Дебет"
        assert translation.gettext("Credit") == "Кредит"
        assert translation.ngettext("%(count)d key revoked.", "%(count)d keys revoked.", 5) % {"count": 5} == (
            "Отозвано 5 ключей."
        )
    with translation.override("en"):
        assert translation.gettext("Debit") == "Debit"


def test_every_entry_of_the_po_file_is_translated_and_none_is_fuzzy():
    untranslated, fuzzy = [], []
    for message in _catalog():
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            untranslated.append(message.id)
        if message.fuzzy:
            fuzzy.append(message.id)
    assert (untranslated, fuzzy) == ([], [])


def test_the_compiled_catalog_matches_the_po_file():
    # a .po edited without compiling again would ship the old translations
    with MO.open("rb") as f:
        compiled = gnu_gettext.GNUTranslations(f)
    stale = []
    for message in _catalog():
        if not message.id:
            continue
        if message.context:
            got, want = compiled.pgettext(message.context, message.id), message.string
        elif isinstance(message.id, tuple):
            got = tuple(compiled.ngettext(*message.id, n) for n in (1, 3, 5))
            want = (message.string[0], message.string[1], message.string[2])
        else:
            got, want = compiled.gettext(message.id), message.string
        if got != want:
            stale.append(message.id)
    assert stale == []


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="makemessages needs GNU gettext's xgettext")
def test_every_marked_string_of_the_project_is_in_the_catalog(tmp_path, monkeypatch):
    # given a copy of the project's sources, extracted afresh as `make messages` does
    root = Path(settings.BASE_DIR)
    ignore = shutil.ignore_patterns(".venv", ".data", ".git", "staticfiles", "tests", "docs", "locale", "*.pyc")
    for item in root.iterdir():
        if item.name in {".venv", ".data", ".git", "staticfiles", "tests", "docs", "locale"}:
            continue
        if item.is_dir():
            shutil.copytree(item, tmp_path / item.name, ignore=ignore, symlinks=True)
        elif item.is_file():
            shutil.copy(item, tmp_path / item.name)
    (tmp_path / "locale").mkdir()
    monkeypatch.chdir(tmp_path)

    # when
    with override_settings(LOCALE_PATHS=[tmp_path / "locale"]):
        call_command("makemessages", locale=["ru"], no_location=True, verbosity=0)

    # then every string the code marks has its entry in the committed catalog
    fresh = {m.id for m in _catalog(tmp_path / "locale" / "ru" / "LC_MESSAGES" / "django.po") if m.id}
    committed = {m.id for m in _catalog() if m.id}
    assert sorted(map(str, fresh - committed)) == []
