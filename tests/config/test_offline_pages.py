"""No page of the project loads anything from another host: the API docs work without internet (issue 10, item 10).

The rule, checked on every page a test can reach (the Swagger UI and ReDoc pages, the admin's login page, its index
and every registered model's changelist and add page as a superuser with the demo data, /healthz) and on every
stylesheet of ours that those pages link:
- no attribute that names a URL (src, href, action, formaction, srcset, poster, data, …) on any element, links
  included, points at another host: an absolute URL (`http:`, `https:`, any `scheme://`) or a scheme-relative one
  (`//host/…`) is refused;
- no CSS `url(…)` or `@import` (in <style>, a style attribute or a linked stylesheet) points at another host;
- no inline <script> holds a quoted absolute URL (`"https://…"`, `'//host'`).
Plain text content may mention anything; nothing in it is loaded or linked.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, reverse

pytestmark = pytest.mark.django_db

URL_ATTRIBUTES = frozenset(
    {"src", "href", "action", "formaction", "srcset", "poster", "data", "background", "cite", "manifest", "ping"}
)
# another host: a scheme (http:, https:, ftp:, …) followed by //, or a scheme-relative //host
EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)|@import\s+['"]([^'"]+)""", re.IGNORECASE)
SCRIPT_URL = re.compile(r"""["'`]((?:[a-z][a-z0-9+.-]*:)?//[^"'`\s]*)""", re.IGNORECASE)
STATIC_PREFIX = "/static/"


class _Resources(HTMLParser):
    """Every URL-bearing attribute, inline style and inline script of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str]] = []  # (where, url)
        self.css: list[str] = []
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        for name, value in attrs:
            if value is None:
                continue
            if name in URL_ATTRIBUTES:
                for url in value.split(",") if name == "srcset" else [value]:
                    self.urls.append((f"<{tag} {name}>", url.strip().split(" ")[0]))
            elif name == "style":
                self.css.append(value)
        if tag == "link" and "stylesheet" in (values.get("rel") or "") and values.get("href"):
            self.stylesheets.append(values["href"])
        if tag in ("script", "style"):
            self._in = tag

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "style":
            self.css.append(data)
        elif self._in == "script":
            self.scripts.append(data)


def _css_offenders(where: str, css: str) -> list[str]:
    return [
        f"{where}: {url}" for match in CSS_URL.finditer(css) if EXTERNAL.match(url := match.group(1) or match.group(2))
    ]


def external_resources(html: str) -> list[str]:
    """What the page would load or link from another host, and our stylesheets' own external url()s."""
    page = _Resources()
    page.feed(html)
    page.close()
    offenders = [f"{where}: {url}" for where, url in page.urls if EXTERNAL.match(url)]
    for css in page.css:
        offenders += _css_offenders("inline css", css)
    for script in page.scripts:
        offenders += [f"inline script: {match.group(1)}" for match in SCRIPT_URL.finditer(script)]
    for href in page.stylesheets:
        if href.startswith(STATIC_PREFIX):
            path = finders.find(href.removeprefix(STATIC_PREFIX).split("?")[0])
            assert path, f"stylesheet {href} is not among the static files"
            with open(path, encoding="utf-8", errors="replace") as stylesheet:
                offenders += _css_offenders(href, stylesheet.read())
    return offenders


def test_the_rule_catches_every_kind_of_external_reference():
    # given one page with each kind of reference to another host, and one with only local ones
    bad = """<html><head>
      <link rel="stylesheet" href="https://cdn.example/x.css"><script src="//cdn.example/x.js"></script>
      <style>body { background: url('https://img.example/a.png') } @import "http://f.example/f.css";</style>
      <script>fetch("https://api.example/v1")</script></head>
      <body style="background:url(//img.example/b.png)"><img srcset="/a.png 1x, https://img.example/c.png 2x">
      <a href="https://docs.example/">docs</a><form action="http://evil.example/"></form></body></html>"""
    good = """<html><head><link rel="stylesheet" href="/static/admin/css/base.css"><script src="/static/x.js">
      </script><style>div { background: url(data:image/png;base64,AAA) }</style></head>
      <body><a href="/admin/">home</a> See https://docs.example in plain text.<img src="data:image/gif;base64,R0">
      <svg xmlns="http://www.w3.org/2000/svg"></svg></body></html>"""

    # when / then
    assert len(external_resources(bad)) == 9
    assert external_resources(good) == []


@pytest.fixture
def superuser_client(django_user_model) -> Client:
    call_command("seed_demo", stdout=io.StringIO())  # content on every page
    user = django_user_model.objects.create_superuser(username="offline", email="o@example.com", password="x")
    client = Client()
    client.force_login(user)
    return client


def _admin_urls() -> list[str]:
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        opts = model._meta
        for view in ("changelist", "add"):
            try:
                urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}"))
            except NoReverseMatch:
                pass
    return urls


def test_no_page_loads_or_links_anything_from_another_host(superuser_client):
    # given every page we can reach: anonymous ones, then the admin as a superuser
    anonymous = Client()
    pages = {url: anonymous.get(url) for url in ("/api/v1/docs/", "/api/v1/redoc/", "/admin/login/", "/healthz")}
    pages.update({url: superuser_client.get(url) for url in _admin_urls()})

    # then each answers, and none refers to another host
    rendered = 0
    offenders = {}
    for url, response in pages.items():
        assert response.status_code in (200, 403), (url, response.status_code)  # 403: an add page the admin refuses
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            rendered += 1
            if found := external_resources(response.content.decode()):
                offenders[url] = found
    assert offenders == {}
    assert rendered > 20


def test_the_docs_pages_use_our_static_copies_of_swagger_ui_and_redoc():
    # when
    swagger = Client().get("/api/v1/docs/").content.decode()
    redoc = Client().get("/api/v1/redoc/").content.decode()

    # then
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in swagger
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css" in swagger
    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in redoc
    for asset in (
        "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js",
    ):
        assert finders.find(asset), asset


def test_static_files_are_served_with_debug_off(settings, tmp_path):
    # given DEBUG off (as in production and in every test) and the static files collected, as at install
    assert settings.DEBUG is False
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", interactive=False, verbosity=0)

    # when the docs page's own assets are fetched from the application itself (WhiteNoise, no web server)
    response = Client().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")

    # then
    assert response.status_code == 200
    assert b"swagger-ui" in b"".join(response.streaming_content)
