"""A billing chunk translates its charges' texts once (ChargeTexts) instead of once per charge: the descriptions
and memos it writes are the ones a single charge writes (charge_description, charge_legs without texts), in the
installation's language whatever language is active."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.utils import translation
from django.utils.translation import pgettext

from plans.models import Charge
from plans.services.posting import ChargeTexts, charge_description

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("installation", ["ru", "en"])
@pytest.mark.parametrize("kind", [k.value for k in Charge.Kind])
def test_charge_texts_equal_the_per_charge_texts_in_the_installation_language(installation, kind):
    other = "en" if installation == "ru" else "ru"
    with override_settings(LANGUAGE_CODE=installation), translation.override(other):
        texts = ChargeTexts()
        assert charge_description(kind, 42, texts=texts) == charge_description(kind, 42)
        with translation.override(installation):
            expected_memos = (pgettext("ledger memo", "Charge"), pgettext("ledger memo", "Credit"))
        assert (texts.memo_charge, texts.memo_credit) == expected_memos


def test_charge_texts_refuse_an_unknown_kind_as_the_per_charge_path_does():
    with pytest.raises(ValueError):
        charge_description("nonsense", 1)
    with pytest.raises(ValueError):
        charge_description("nonsense", 1, texts=ChargeTexts())


def test_installation_language_texts_differ_between_languages():
    # the tests above would prove nothing if both languages read the same
    with override_settings(LANGUAGE_CODE="ru"):
        ru = charge_description(Charge.Kind.RECURRING.value, 42)
    with override_settings(LANGUAGE_CODE="en"):
        en = charge_description(Charge.Kind.RECURRING.value, 42)
    assert ru != en
