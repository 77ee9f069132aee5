"""The customer portal in a real browser (Debian's Chromium through Playwright): sign in, see the balance, switch
plan with the preview, top up through the test-mode checkout and see the new balance, download an act; an axe
check of every page; a phone's width; the widget on a page of another origin. Screenshots of each step are kept in
test-artifacts/browser/<test>/."""

from __future__ import annotations

import datetime as dt
import http.server
import re
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from billing.models import ApiKey
from billing.selectors import customer_balance
from billing.services.api_keys import api_key_create
from billing.services.portal_access import api_key_widget_origins_set, api_key_widget_secret_rotate
from documents.models import Document
from documents.services.closing import close_month
from plans.services.subscriptions import subscription_create
from portal.widget import widget_token_sign
from tests.plans.support import msk
from tests.portal.conftest import PASSWORD, world  # noqa: F401 (the fixture)
from tests.support.webserver import free_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
NBSP = "\u00a0"


@pytest.fixture
def portal(world, live_server, settings):  # noqa: F811
    settings.PAYMENTS_PUBLIC_URL = live_server.url  # the test checkout's page on this server
    subscription_create(customer_id=world.acme.pk, plan_code="pro", at=msk(2026, 11, 1))
    close_month(month=dt.date(2026, 11, 1))
    return world


def _sign_in(page, email: str = "owner@acme.test"):
    page.goto("/portal/")
    page.fill("#id_email", email)
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")  # the form is sent from the keyboard
    page.wait_for_url(re.compile(r".*/portal/$"))


def test_sign_in_change_plan_top_up_and_download_an_act(page, portal, artifacts):
    acme = portal.acme
    _sign_in(page)
    balance = customer_balance(customer=acme).amount
    assert page.locator("[data-test=balance]").inner_text() == f"RUB{NBSP}{balance:,.2f}"
    page.screenshot(path=artifacts / "1-dashboard.png", full_page=True)

    # switch Basic → Pro with the preview
    page.click("text=Plans")
    page.locator(f"#subscription-{portal.sub.pk} form:has(input[value=pro]) button").click()
    total = page.locator("[data-test=preview-total]").inner_text()
    assert page.locator("[data-test=preview] tbody tr").count() >= 2  # the credit of Basic, the charge of Pro
    page.screenshot(path=artifacts / "2-change-preview.png", full_page=True)
    page.click("text=Confirm the change")
    page.wait_for_url(re.compile(r".*/portal/plans/$"))
    assert "The plan is changed." in page.content()
    portal.sub.refresh_from_db()
    assert portal.sub.plan_id == portal.pro.pk
    after_change = customer_balance(customer=acme).amount
    assert f"{balance - after_change:,.2f}" == total.replace(f"RUB{NBSP}", "")
    page.screenshot(path=artifacts / "3-changed.png", full_page=True)

    # top up 1,500.00 by card through the test-mode checkout
    page.click("nav >> text=Top up")
    page.fill("#id_amount", "1500")
    page.check("input[value=card]")
    page.screenshot(path=artifacts / "4-top-up.png", full_page=True)
    page.click("text=Continue")
    page.wait_for_url(re.compile(r".*/payments/test-checkout/.*"))
    page.screenshot(path=artifacts / "5-checkout.png", full_page=True)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/portal/topup/return/$"))
    expected = after_change + Decimal("1500.00")
    assert page.locator("[data-test=balance]").inner_text() == f"RUB{NBSP}{expected:,.2f}"
    page.screenshot(path=artifacts / "6-paid.png", full_page=True)

    # download November's act
    act = Document.objects.get(customer=acme, doc_type="act")
    page.goto("/portal/documents/?period=2026-11")
    page.screenshot(path=artifacts / "7-documents.png", full_page=True)
    with page.expect_download() as download:
        page.click(f"a[href='/portal/documents/{act.pk}/pdf/']")
    path = download.value.path()
    assert Path(path).read_bytes().startswith(b"%PDF")
    assert download.value.suggested_filename == f"{act.number}.pdf"


PAGES = [
    "/portal/",
    "/portal/topup/",
    "/portal/history/",
    "/portal/documents/?period=2026-11",
    "/portal/plans/",
    "/portal/profile/",
]


def _axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_axe_finds_no_serious_violation_on_any_page(page, portal, artifacts):
    page.goto("/portal/login/")
    assert _axe(page) == [], "/portal/login/"
    _sign_in(page)
    for path in PAGES:
        page.goto(path)
        assert _axe(page) == [], path
    page.goto("/portal/", wait_until="load")
    page.screenshot(path=artifacts / "dashboard.png", full_page=True)


def test_pages_fit_a_phones_width_and_work_in_russian(chromium, live_server, portal, artifacts):
    context = chromium.new_context(
        viewport={"width": 375, "height": 740}, locale="ru-RU", base_url=live_server.url, is_mobile=True
    )
    page = context.new_page()
    try:
        _sign_in(page)
        for n, path in enumerate(PAGES):
            page.goto(path)
            wide = page.evaluate(
                """() => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                    .filter(e => !e.closest('.card table'))  // a wide table scrolls inside its card
                    .map(e => e.tagName + '.' + e.className + '#' + e.id)"""
            )
            assert wide == [], path
            assert page.evaluate("() => document.documentElement.scrollWidth") <= 375, path
            page.screenshot(path=artifacts / f"phone-{n}.png", full_page=True)
        page.goto("/portal/")
        assert "Баланс" in page.content() and "₽" in page.locator("[data-test=balance]").inner_text()
    finally:
        context.close()


class _ForeignSite:
    """A page of the SaaS's own app on another origin (127.0.0.1 and a port of its own; the portal is on
    localhost), embedding the widget as README shows."""

    def __init__(self):
        site = self
        self.html = ""

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = site.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def test_the_widget_on_a_foreign_page_shows_the_balance_and_opens_the_portal(page, portal, live_server, artifacts):
    api_key, _ = api_key_create(name="saas", scope="read")
    api_key_widget_secret_rotate(api_key_id=api_key.pk)
    site = _ForeignSite()
    api_key_widget_origins_set(api_key_id=api_key.pk, origins=[site.url])
    api_key = ApiKey.objects.get(pk=api_key.pk)
    token = widget_token_sign(api_key=api_key, external_id="acme-1", origin=site.url)
    site.html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>SaaS app</title></head>
<body><h1>My SaaS</h1><div id="billing-badge"></div>
<script src="{live_server.url}/static/portal/widget.js"></script>
<script>BillingWidget.mount({{portal: "{live_server.url}", target: "#billing-badge", token: "{token}"}});</script>
</body></html>"""
    try:
        page.goto(site.url)
        badge = page.locator("[data-billing-widget=balance]")
        balance = customer_balance(customer=portal.acme).amount
        assert badge.inner_text() == f"Balance: RUB{NBSP}{balance:,.2f}"
        page.screenshot(path=artifacts / "1-badge.png")
        page.click("[data-billing-widget=top-up]")
        frame = page.frame_locator("[data-billing-widget=modal] iframe")
        frame.locator("#id_amount").wait_for()
        assert "Top up the balance" in frame.locator("h1").inner_text()
        page.screenshot(path=artifacts / "2-modal.png")
        # the portal's own pages in the frame are the token's customer's
        frame.locator("nav >> text=Overview").click()
        assert frame.locator("[data-test=balance]").inner_text() == f"RUB{NBSP}{balance:,.2f}"
        page.keyboard.press("Escape")  # pressed inside the portal's frame: the frame tells the page
        page.locator("[data-billing-widget=modal]").wait_for(state="detached")
        # and the page's own Escape closes it too
        page.click("[data-billing-widget=top-up]")
        page.frame_locator("[data-billing-widget=modal] iframe").locator("#id_amount").wait_for()
        page.focus("[data-billing-widget=modal] button")  # the focus on the page, not in the frame
        page.keyboard.press("Escape")
        page.locator("[data-billing-widget=modal]").wait_for(state="detached")
        page.screenshot(path=artifacts / "3-closed.png")
    finally:
        site.close()
