"""Fixtures shared by the bundle tests: the catalog and the published Office bundle."""

from __future__ import annotations

import pytest

from plans.models import Bundle
from plans.services.bundles import bundle_publish
from tests.factories.catalog import make_bundle, make_option, make_plan, make_product


@pytest.fixture
def catalog():
    """CRM Start (990.00) with a backup option (200.00), Storage Basic (500.00), and the bundle "office" of
    the three at 1200.00 RUB / 15.00 EUR a month, not yet published."""
    crm, storage = make_product("crm", "CRM"), make_product("storage", "Cloud storage")
    start = make_plan("crm-start", "990.00", product=crm)
    backup = make_option("crm-backup", "200.00", product=crm)
    basic = make_plan("storage-basic", "500.00", product=storage)
    office = make_bundle(
        "office",
        {"RUB": "1200.00", "EUR": "15.00"},
        plans=[start, basic],
        options=[backup],
        name="Office pack",
        description="CRM and storage, with backups",
    )
    return {"crm": crm, "start": start, "backup": backup, "basic": basic, "office": office}


@pytest.fixture
def office(catalog) -> Bundle:
    bundle_publish(bundle_id=catalog["office"].pk)
    catalog["office"].refresh_from_db()
    return catalog["office"]
