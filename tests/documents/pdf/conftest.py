from __future__ import annotations

import pytest

from tests.documents.pdf.builders import buyer_create
from tests.factories.sellers import seller_create


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    # stored PDFs and seller images go to a directory of the test's own
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def seller(db):
    return seller_create(number_prefix="")


@pytest.fixture
def buyer(db):
    return buyer_create()
