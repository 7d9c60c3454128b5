"""Hostile web input: stored XSS/formula payloads render as text on every page, in every CSV (formula
guard) and in the Atom feed; injection payloads in every query and path parameter (SQL, path traversal,
CRLF, markup) change nothing in the database, never cause a 5xx, and leak no stack trace or SQL.

Routes are read from the app itself, so a route added later is covered without editing this file.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import pytest
from bs4 import BeautifulSoup
from fastapi import FastAPI
from fastapi.testclient import TestClient
from lxml import etree
from pydantic import BaseModel
from sqlalchemy import Engine

from tests.dbdump import canonical_dump
from tests.web import hostile_site as hs

ATOM = "{http://www.w3.org/2005/Atom}"
WINDOW = "from=2024-03-01&to=2024-03-31"

SQL = ["' OR 1=1--", '"; DROP TABLE filing;--', "1; DELETE FROM insider_transaction", "' UNION SELECT 1--"]
TRAVERSAL = [
    "../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..\\..\\win.ini",
]
CRLF = ["x\r\nSet-Cookie: injected=1", "x%0d%0aSet-Cookie:%20injected=1"]
MARKUP = ["<script>alert('q')</script>", '"><svg onload=alert(1)>', "{{7*'7'}}"]
OTHER = ["\x00", "\u202e\ufeff", "9" * 400, "-1", "2024-02-30"]
PAYLOADS = SQL + TRAVERSAL + CRLF + MARKUP + OTHER
# What a leaked error looks like: a traceback, a driver or ORM name, raw SQL.
LEAKS = re.compile(
    r"Traceback|File \"/|sqlalchemy|psycopg|sqlite3|OperationalError|ProgrammingError|DataError"
    r"|IntegrityError|SELECT .* FROM|syntax error at|/work/|site-packages",
    re.IGNORECASE,
)
SECRETS = ("root:x:0:0", "[build-system]", "SEC_USER_AGENT=", "def create_app")


@pytest.fixture
def site(clean_engine: Engine, tmp_path: Path) -> hs.Site:
    return hs.load(clean_engine, tmp_path / "docs")


# --- routes, read from the app ---------------------------------------------------------------------------
def _routes(app: FastAPI) -> Iterator[Any]:
    for route in app.routes:
        # FastAPI >= 0.16x keeps included routers as wrappers around the original router.
        inner = getattr(route, "original_router", None)
        yield from (inner.routes if inner is not None else [route])


def get_routes(app: FastAPI) -> list[tuple[str, list[str], list[str]]]:
    """(path template, path params, query params) of every GET route with a dependant."""
    out = []
    for route in _routes(app):
        dependant = getattr(route, "dependant", None)
        if dependant is None or "GET" not in getattr(route, "methods", ()):
            continue
        query: list[str] = []
        for field in dependant.query_params:
            model = field.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                query += [info.alias or name for name, info in model.model_fields.items()]
            else:
                query.append(field.alias)
        out.append((route.path, [p.alias for p in dependant.path_params], query))
    return out


def _valid_path(template: str, site: hs.Site) -> str:
    """The template filled with values that exist in the site (so query params reach the service)."""
    values = {
        "week": site.week,
        "cluster_id": site.hostile_cluster,
        "accession": hs.HOSTILE_ACCESSIONS[0],
        "symbol": hs.HOSTILE_TICKER,
        "cik": hs.OWNERS[0].cik,
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


def _check_response(resp: Any, what: str) -> None:
    assert resp.status_code < 500, f"{what}: {resp.status_code} {resp.text[:300]}"
    assert not LEAKS.search(resp.text), f"{what} leaks: {LEAKS.search(resp.text)}"
    for name, value in resp.headers.items():
        assert "injected" not in f"{name}: {value}".lower(), f"{what}: header {name}"
    if resp.headers.get("content-type", "").startswith("text/html"):
        _no_active_markup(resp.text, what)


def _no_active_markup(html: str, what: str) -> None:
    """No script runs and no event handler exists, whatever the page echoes."""
    soup = BeautifulSoup(html, "html.parser")
    for script in soup.find_all("script"):
        # Allowed: our own files (src on this origin) and JSON data islands (never executed).
        src = urlsplit(script.get("src", ""))
        own_file = src.netloc in ("", "testserver") and src.path.startswith(("/static/", "/assets/"))
        assert own_file or script.get("type") == "application/json", f"{what}: {script}"
        if script.get("type") == "application/json":
            json.loads(script.string or "null")
            assert "<" not in (script.string or ""), f"{what}: raw '<' in a data island"
    for tag in soup.find_all(True):
        handlers = [a for a in tag.attrs if a.lower().startswith("on")]
        assert not handlers, f"{what}: <{tag.name} {handlers}>"
        for attr in ("href", "src", "action"):
            assert not str(tag.get(attr, "")).lower().lstrip().startswith("javascript:"), f"{what}: {tag}"
    assert soup.find("svg", attrs={"onload": True}) is None


# --- stored hostile strings ------------------------------------------------------------------------------
HTML_PAGES = [
    pytest.param(f"/?{WINDOW}", hs.ISSUER_NAME, id="screener"),
    pytest.param(f"/purchases?{WINDOW}", hs.OWNERS[1].name, id="purchases"),
    pytest.param("/weekly/2024-W11", hs.ISSUER_NAME, id="weekly"),
    pytest.param("/cluster/0000009999-2024-03-11", hs.OWNERS[0].name, id="cluster"),
    pytest.param(f"/filing/{hs.HOSTILE_ACCESSIONS[0]}", hs.OWNERS[0].title, id="filing"),
    pytest.param("/ticker/HOST?period=all", hs.ISSUER_NAME, id="ticker"),
    pytest.param(f"/insider/{hs.OWNERS[2].cik}?page=1", hs.OWNERS[2].name, id="insider"),
    pytest.param("/status", hs.JOB_MESSAGE, id="status"),
    pytest.param("/search?q=JONES", None, id="search"),
    pytest.param("/weekly", None, id="weekly-latest"),
    pytest.param("/weekly/archive", None, id="weekly-archive"),
    pytest.param("/performance", None, id="performance"),
    pytest.param("/market", None, id="market"),
]
CSV_EXPORTS = [
    pytest.param(f"/screener.csv?{WINDOW}", id="screener"),
    pytest.param(f"/purchases.csv?{WINDOW}", id="purchases"),
    pytest.param("/weekly/2024-W11.csv", id="weekly"),
    pytest.param("/ticker/HOST/trades.csv?period=all", id="ticker"),
    pytest.param(f"/insider/{hs.OWNERS[0].cik}/trades.csv", id="insider"),
    pytest.param("/performance.csv", id="performance"),
]


class TestStoredHostileStrings:
    @pytest.mark.parametrize(("path", "shown"), HTML_PAGES)
    def test_every_page_renders_them_as_text(
        self, client: TestClient, site: hs.Site, path: str, shown: str | None
    ) -> None:
        resp = client.get(path)
        assert resp.status_code == 200, resp.text[:300]
        _check_response(resp, path)
        assert "<script>alert(" not in resp.text
        assert "<img src=x" not in resp.text
        if shown is not None:
            # Shown, as the very characters that were filed (escaped once, not dropped or mangled).
            text = BeautifulSoup(resp.text, "html.parser").get_text()
            assert shown in text, f"{shown!r} not shown as text on {path}"

    def test_status_shows_the_hostile_rejection_reason_as_text(
        self, client: TestClient, site: hs.Site
    ) -> None:
        text = BeautifulSoup(client.get("/status").text, "html.parser").get_text()
        assert "root element is <script>" in text

    @pytest.mark.parametrize("path", CSV_EXPORTS)
    def test_csv_exports_guard_formulas(self, client: TestClient, site: hs.Site, path: str) -> None:
        resp = client.get(path)
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(resp.text)))
        cells = [cell for row in rows for cell in row]
        for cell in cells:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                float(cell)  # only plain numbers may start like a formula
        if path.split("?")[0] != "/performance.csv":  # no returns without prices
            assert any(cell.startswith(("'=", "'@", "'-", "'+")) for cell in cells), cells

    def test_atom_feed_escapes_them(self, client: TestClient, site: hs.Site) -> None:
        resp = client.get("/feeds/clusters.atom")
        assert resp.status_code == 200
        assert b"<script>" not in resp.content
        root = etree.fromstring(resp.content, etree.XMLParser(resolve_entities=False, no_network=True))
        assert not [el for el in root.iter() if isinstance(el.tag, str) and not el.tag.startswith(ATOM)]
        entries = root.findall(f"{ATOM}entry")
        summaries = [e.find(f"{ATOM}summary") for e in entries]
        assert all(s is not None and s.get("type") == "text" for s in summaries)
        # Plain text with the characters as filed: a reader shows them, never interprets them.
        assert any(hs.OWNERS[0].name in (s.text or "") for s in summaries if s is not None)

    def test_json_twins_return_them_verbatim_as_json(self, client: TestClient, site: hs.Site) -> None:
        resp = client.get(f"/api/clusters/{site.hostile_cluster}")
        assert resp.headers["content-type"] == "application/json"
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert hs.OWNERS[0].name in json.dumps(resp.json(), ensure_ascii=False)


# --- injection payloads ------------------------------------------------------------------------------------
def test_payloads_in_every_parameter_change_and_leak_nothing(
    client: TestClient, site: hs.Site, clean_engine: Engine
) -> None:
    before = canonical_dump(clean_engine)
    routes = get_routes(client.app)  # type: ignore[arg-type]
    assert len(routes) > 30  # the walk found the app's routes
    sent = 0
    for template, path_params, query_params in routes:
        base = _valid_path(template, site)
        for param in query_params:
            for payload in PAYLOADS:
                resp = client.get(f"{base}?{urlencode({param: payload})}")
                _check_response(resp, f"{template}?{param}={payload!r}")
                sent += 1
        for param in path_params:
            for payload in PAYLOADS:
                path = template.replace(f"{{{param}}}", quote(payload, safe=""))
                resp = client.get(_valid_path(path, site))
                _check_response(resp, f"{template} {param}={payload!r}")
                sent += 1
    assert sent > 500
    assert canonical_dump(clean_engine) == before


def _asgi_get(app: FastAPI, raw_path: str) -> tuple[int, bytes]:
    """GET `raw_path` as a server would pass it (percent-decoded once, dot segments left in place)."""
    path, _, query = raw_path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    status = 0
    body = bytearray()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # Later calls are the app listening for a disconnect: it comes once the response is sent.
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    async def call() -> None:
        nonlocal done
        done = asyncio.Event()
        await app(scope, receive, send)

    done: asyncio.Event
    # A thread of its own: the browser tests' Playwright keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, call()).result(timeout=60)
    return status, bytes(body)


TRAVERSALS = [
    "/static/../../../../etc/passwd",
    "/static/css/../../pyproject.toml",
    "/static/..%2f..%2fpyproject.toml",
    "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/%252e%252e/%252e%252e/etc/passwd",
    "/static/....//....//etc/passwd",
    "/static/..\\..\\pyproject.toml",
    "/static//etc/passwd",
    "/static/%00/../../pyproject.toml",
    "/static/css/..%5c..%5cpyproject.toml",
    "/assets/../pyproject.toml",
    "/assets/plotly.min.js/../../pyproject.toml",
    "/ticker/..%2f..%2f..%2fetc%2fpasswd",
    "/ticker/../../../etc/passwd/trades.csv",
    "/insider/..%2f..%2fetc%2fpasswd",
    "/filing/../../pyproject.toml",
    "/cluster/%2e%2e%2fpyproject.toml",
    "/weekly/..%2f..%2fetc%2fpasswd.csv",
    "/api/filings/..%2f..%2fetc%2fpasswd",
    "/feeds/../pyproject.toml",
]


@pytest.mark.parametrize("raw_path", TRAVERSALS)
def test_path_traversal_reaches_no_file(client: TestClient, site: hs.Site, raw_path: str) -> None:
    status, body = _asgi_get(client.app, raw_path)  # type: ignore[arg-type]
    assert status < 500
    assert not any(secret.encode() in body for secret in SECRETS), raw_path
    assert not LEAKS.search(body.decode("utf-8", "replace"))


def test_static_files_still_served(client: TestClient) -> None:
    status, body = _asgi_get(client.app, "/static/css/app.css")  # type: ignore[arg-type]
    assert status == 200
    assert body


@pytest.mark.parametrize(
    "path",
    [
        "/search?q=" + quote("HOST\r\nSet-Cookie: injected=1"),
        "/ticker/" + quote("HOST\r\nSet-Cookie: injected=1", safe="") + "/trades.csv",
        "/weekly/" + quote("2024-W11\r\nX-Injected: 1", safe="") + ".csv",
        "/cluster/" + quote("x\r\nLocation: http://127.0.0.1:9/", safe=""),
    ],
)
def test_crlf_never_reaches_a_response_header(client: TestClient, site: hs.Site, path: str) -> None:
    resp = client.get(path, follow_redirects=False)
    _check_response(resp, path)
    for name, value in resp.headers.items():
        assert not {"\r", "\n"} & set(value)
        assert name.lower() not in ("x-injected",)
    assert resp.headers.get("location", "").find("127.0.0.1:9") == -1


@pytest.mark.parametrize(
    "path",
    [
        "/cluster/%00",
        "/api/clusters/x%00y",
        "/api/screener?q=%00",
        "/?sector=a%00b",
        "/static/css/app.css%00",
    ],
)
def test_nul_bytes_in_urls_are_a_client_error(client: TestClient, site: hs.Site, path: str) -> None:
    # PostgreSQL text cannot hold NUL: without the guard these reached the database and answered 500.
    resp = client.get(path)
    assert resp.status_code == 400
    assert "NUL" in resp.text
    assert resp.headers["x-content-type-options"] == "nosniff"
