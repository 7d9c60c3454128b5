"""Screener and purchases pages, their JSON twins and CSV exports (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import Doc, Owner, Tx, form4_xml, ingest_submissions, purchase_filing, submission_txt

WINDOW = "from=2024-03-01&to=2024-03-31"
ALICE = Owner("0000000101", "ALICE A", officer=True, title="Chief Executive Officer")
BOB = Owner("0000000102", "BOB B", director=True)
CAROL = Owner("0000000103", "CAROL C", officer=True, title="Chief Financial Officer")
FUND = Owner("0000000201", "BIG FUND LP", ten_percent=True)
HOSTILE = Owner("0000000301", '=HYPERLINK("http://x")', director=True)


@pytest.fixture
def loaded(clean_engine: Engine, tmp_path: Path) -> Engine:
    files = {
        "a1.txt": purchase_filing(
            "0000000101-24-000001",
            "2024-03-05T16:30:00",
            owners=[ALICE],
            trade_date="2024-03-04",
            shares="1000",
            price="10.00",
        ),
        "a2.txt": purchase_filing(
            "0000000102-24-000001",
            "2024-03-08T18:00:00",
            owners=[BOB],
            trade_date="2024-03-07",
            shares="2000",
            price="10.50",
        ),
        "a3.txt": purchase_filing(
            "0000000103-24-000001",
            "2024-03-13T09:15:00",
            owners=[CAROL],
            trade_date="2024-03-12",
            shares="500",
            price="11.00",
        ),
        # A sale by the CEO is not a purchase and never shows on the screener.
        "a4.txt": submission_txt(
            form4_xml(
                Doc(
                    owners=[ALICE],
                    period="2024-03-14",
                    transactions=[
                        Tx(
                            code="S",
                            acquired_disposed="D",
                            shares="300",
                            price="12.00",
                            trade_date="2024-03-14",
                        )
                    ],
                )
            ),
            accession="0000000101-24-000002",
            accepted_at_et="2024-03-15T16:00:00",
        ),
        "b1.txt": purchase_filing(
            "0000000201-24-000001",
            "2024-03-20T16:05:00",
            owners=[FUND],
            trade_date="2024-03-19",
            shares="100000",
            price="5.00",
            issuer_cik="0000005678",
            ticker="OTHR",
        ),
        "c1.txt": submission_txt(
            form4_xml(
                Doc(
                    issuer_cik="0000009999",
                    issuer_name="<script>alert(1)</script> Corp",
                    ticker="HOST",
                    owners=[HOSTILE],
                    period="2024-03-21",
                    transactions=[Tx(shares="10", price="20", trade_date="2024-03-21")],
                )
            ),
            accession="0000000301-24-000001",
            accepted_at_et="2024-03-22T10:00:00",
        ),
    }
    ingest_submissions(clean_engine, tmp_path, files)
    return clean_engine


def _table(html: str, table_id: str) -> list[dict[str, str]]:
    soup = BeautifulSoup(html, "html.parser")
    table = soup.select_one(f"table#{table_id}")
    assert table is not None
    headers = [th.get_text(strip=True).rstrip("▼▲") for th in table.select("thead th")]
    rows = []
    for tr in table.select("tbody tr"):
        cells = tr.find_all("td")
        if len(cells) == len(headers):
            rows.append({h: c.get_text(" ", strip=True) for h, c in zip(headers, cells, strict=True)})
    return rows


class TestScreenerPage:
    def test_groups_purchases_by_company_sorted_by_value(self, client: TestClient, loaded: Engine) -> None:
        response = client.get(f"/?{WINDOW}")
        assert response.status_code == 200
        rows = _table(response.text, "screener")
        assert [r["Ticker"].split()[0] for r in rows] == ["OTHR", "EXMP", "HOST"]
        exmp = rows[1]
        assert exmp["Insiders"] == "3"
        assert exmp["Value"] == "$36,500"
        assert exmp["Shares"] == "3,500"
        assert exmp["Avg price"] == "$10.43"
        assert (exmp["First trade"], exmp["Last trade"]) == ("2024-03-04", "2024-03-12")
        assert exmp["Latest filing (ET)"] == "2024-03-13 09:15 ET"
        assert "cluster" in exmp["Ticker"]

    def test_cluster_badge_links_to_the_permalink(self, client: TestClient, loaded: Engine) -> None:
        soup = BeautifulSoup(client.get(f"/?{WINDOW}&clusters_only=true").text, "html.parser")
        badges = soup.select("table#screener a.badge.cluster")
        assert [a["href"] for a in badges] == ["/cluster/0000001234-2024-03-04"]

    @pytest.mark.parametrize(
        ("query", "tickers"),
        [
            pytest.param("role=ceo_cfo", ["EXMP"], id="ceo-cfo"),
            pytest.param("role=director", ["EXMP", "HOST"], id="director"),
            pytest.param("min_value=40000", ["OTHR"], id="min-value"),
            pytest.param("exclude_ten_percent_only=true", ["EXMP", "HOST"], id="no-10pct-only"),
            pytest.param("q=exm", ["EXMP"], id="search"),
            pytest.param("min_price=10.2&max_price=15", ["EXMP"], id="price-range"),
            pytest.param("min_price=15", ["HOST"], id="min-price"),
            pytest.param("n=2&clusters_only=true", ["EXMP"], id="custom-rule"),
            pytest.param("n=4&clusters_only=true", [], id="rule-not-met"),
            pytest.param("sort=ticker&order=asc", ["EXMP", "HOST", "OTHR"], id="sort-ticker"),
        ],
    )
    def test_filters_and_sorting(
        self, client: TestClient, loaded: Engine, query: str, tickers: list[str]
    ) -> None:
        rows = _table(client.get(f"/?{WINDOW}&{query}").text, "screener")
        assert [r["Ticker"].split()[0] for r in rows] == tickers

    @pytest.mark.parametrize(
        ("query", "met"), [("n=2", {"EXMP"}), ("n=4", set()), ("n=2&sort=delta_own", {"EXMP"})]
    )
    def test_another_rule_badges_the_rows_shown(
        self, client: TestClient, loaded: Engine, query: str, met: set[str]
    ) -> None:
        rows = client.get(f"/api/screener?{WINDOW}&{query}").json()["rows"]
        assert len(rows) == 3  # not a filter: every company stays
        assert {r["ticker"] for r in rows if r["meets_rule"]} == met

    @pytest.mark.parametrize("order", ["asc", "desc"])
    @pytest.mark.parametrize(
        ("sort", "key"),
        [
            pytest.param("value", lambda r: Decimal(r["total_value"]), id="value"),
            pytest.param("latest", lambda r: r["latest_known_at"], id="latest"),
            pytest.param("buyers", lambda r: (r["n_buyers"], Decimal(r["total_value"])), id="buyers"),
            pytest.param("shares", lambda r: Decimal(r["total_shares"]), id="shares"),
            pytest.param("first_trade", lambda r: r["first_trade_date"], id="first-trade"),
            pytest.param("last_trade", lambda r: r["last_trade_date"], id="last-trade"),
        ],
    )
    def test_pages_sorted_in_sql_follow_the_sort_key(
        self, client: TestClient, loaded: Engine, sort: str, key: Any, order: str
    ) -> None:
        url = f"/api/screener?{WINDOW}&sort={sort}&order={order}&page_size=1"
        pages = [client.get(f"{url}&page={n}").json() for n in (1, 2, 3, 4)]
        rows = [r for p in pages for r in p["rows"]]
        expected = sorted(sorted(rows, key=lambda r: r["issuer_cik"]), key=key, reverse=order == "desc")
        assert [r["ticker"] for r in rows] == [r["ticker"] for r in expected]
        # A page past the end is empty but still counts every company.
        assert pages[3]["rows"] == []
        assert {(p["total_rows"], p["pages"], Decimal(p["total_value"])) for p in pages} == {
            (3, 3, Decimal("536700"))
        }

    @pytest.mark.parametrize("order", ["asc", "desc"])
    def test_delta_own_sort_follows_the_median(self, client: TestClient, loaded: Engine, order: str) -> None:
        def key(r: dict[str, Any]) -> float:
            if r["delta_own_new"]:
                return math.inf
            return -math.inf if r["delta_own_median"] is None else r["delta_own_median"]

        url = f"/api/screener?{WINDOW}&sort=delta_own&order={order}&page_size=1"
        rows = [r for n in (1, 2, 3) for r in client.get(f"{url}&page={n}").json()["rows"]]
        expected = sorted(sorted(rows, key=lambda r: r["issuer_cik"]), key=key, reverse=order == "desc")
        assert len(rows) == 3
        assert [r["ticker"] for r in rows] == [r["ticker"] for r in expected]

    @pytest.mark.parametrize("sort", ["value", "buyers", "ticker"])
    def test_rows_count_buyers_and_flag_ten_percent_only_whatever_the_sort(
        self, client: TestClient, loaded: Engine, sort: str
    ) -> None:
        rows = client.get(f"/api/screener?{WINDOW}&sort={sort}").json()["rows"]
        by_ticker = {r["ticker"]: r for r in rows}
        assert {t: r["n_buyers"] for t, r in by_ticker.items()} == {"EXMP": 3, "OTHR": 1, "HOST": 1}
        assert [t for t, r in by_ticker.items() if "ten_percent_owner_only" in r["flags"]] == ["OTHR"]

    def test_sector_and_search_select_companies_and_page_their_purchases(
        self, client: TestClient, loaded: Engine
    ) -> None:
        from app.models import Issuer

        with loaded.begin() as conn:
            conn.execute(Issuer.__table__.update().where(Issuer.ticker == "HOST").values(sector="Energy"))

        def tickers(query: str, path: str = "/api/screener") -> list[str]:
            return sorted({r["ticker"] for r in client.get(f"{path}?{WINDOW}&{query}").json()["rows"]})

        assert tickers("sector=energy") == ["HOST"]  # any case
        assert tickers("sector=energy", "/api/purchases") == ["HOST"]
        assert tickers("sector=Energy&q=exm") == []  # both must hold
        assert tickers("q=EXM") == ["EXMP"]
        assert tickers("sector=Utilities") == []
        assert client.get(f"/api/screener?{WINDOW}&sector=Utilities").json()["total_rows"] == 0

    def test_role_filter_counts_only_matching_buyers(self, client: TestClient, loaded: Engine) -> None:
        (row,) = _table(client.get(f"/?{WINDOW}&role=ceo_cfo").text, "screener")
        assert row["Insiders"] == "2"

    def test_pagination_links_keep_the_filters(self, client: TestClient, loaded: Engine) -> None:
        soup = BeautifulSoup(client.get(f"/?{WINDOW}&page_size=1&page=2").text, "html.parser")
        rows = _table(str(soup), "screener")
        assert [r["Ticker"].split()[0] for r in rows] == ["EXMP"]
        prev_link, next_link = soup.select_one("a[rel=prev]")["href"], soup.select_one("a[rel=next]")["href"]
        assert "page_size=1" in next_link
        assert "page=3" in next_link
        assert "from=2024-03-01" in next_link
        assert "page=" not in prev_link.replace("page_size", "")  # page 1 is the default, left out

    def test_json_twin_carries_the_same_rows(self, client: TestClient, loaded: Engine) -> None:
        html_rows = _table(client.get(f"/?{WINDOW}").text, "screener")
        data = client.get(f"/api/screener?{WINDOW}").json()
        assert [r["ticker"] for r in data["rows"]] == [r["Ticker"].split()[0] for r in html_rows]
        assert [Decimal(r["total_value"]) for r in data["rows"]] == [
            Decimal("500000"),
            Decimal("36500"),
            Decimal("200"),
        ]
        assert data["total_rows"] == 3

    def test_csv_equals_the_table_and_is_formula_safe(self, client: TestClient, loaded: Engine) -> None:
        response = client.get(f"/screener.csv?{WINDOW}")
        assert response.headers["content-type"].startswith("text/csv")
        records = list(csv.DictReader(io.StringIO(response.text)))
        assert [r["ticker"] for r in records] == ["OTHR", "EXMP", "HOST"]
        assert records[1]["total_value"] == "36500.00"
        purchases = list(csv.DictReader(io.StringIO(client.get(f"/purchases.csv?{WINDOW}&q=host").text)))
        assert purchases[0]["insider"] == '\'=HYPERLINK("http://x")'

    def test_hostile_names_render_as_text(self, client: TestClient, loaded: Engine) -> None:
        soup = BeautifulSoup(client.get(f"/?{WINDOW}").text, "html.parser")
        assert soup.find("script", string=lambda s: s and "alert(1)" in s) is None
        assert any("<script>alert(1)</script> Corp" in td.get_text() for td in soup.select("td.company"))

    @pytest.mark.parametrize(
        ("query", "param"),
        [
            pytest.param("n=1", "n", id="n-too-small"),
            pytest.param("w=91", "w", id="w-too-big"),
            pytest.param("page_size=1001", "page_size", id="page-size"),
            pytest.param("days=abc", "days", id="days-not-int"),
            pytest.param("role=ceo", "role", id="role-unknown"),
            pytest.param("from=2024-13-01", "from", id="bad-date"),
            pytest.param("sort=hack", "sort", id="sort-unknown"),
            pytest.param("from=2024-03-05&to=2024-03-01", "request", id="from-after-to"),
        ],
    )
    def test_bad_parameter_gets_a_422_page_naming_it(
        self, client: TestClient, query: str, param: str
    ) -> None:
        response = client.get(f"/?{query}")
        assert response.status_code == 422
        detail = BeautifulSoup(response.text, "html.parser").select_one(".error-detail").get_text()
        assert detail.startswith(f"{param}:")
        assert "allowed" in detail or param in ("from", "request")
        assert client.get(f"/api/screener?{query}").status_code == 422


class TestPurchasesPage:
    def test_lists_each_eligible_purchase_newest_first(self, client: TestClient, loaded: Engine) -> None:
        rows = _table(client.get(f"/purchases?{WINDOW}").text, "purchases")
        assert [r["Ticker"].split()[0] for r in rows] == ["HOST", "OTHR", "EXMP", "EXMP", "EXMP"]
        assert rows[2]["Insider"] == "CAROL C"
        assert rows[2]["Value"] == "$5,500"

    def test_json_twin_and_csv_agree(self, client: TestClient, loaded: Engine) -> None:
        data = client.get(f"/api/purchases?{WINDOW}&sort=value").json()
        records = list(csv.DictReader(io.StringIO(client.get(f"/purchases.csv?{WINDOW}&sort=value").text)))
        assert [r["accession"] for r in data["rows"]] == [r["accession"] for r in records]
        assert data["rows"][0]["accession"] == "0000000201-24-000001"


class TestChainBlocks:
    """The same block filed by each entity of an ownership chain is one buyer and counted once."""

    @pytest.fixture
    def chain(self, clean_engine: Engine, tmp_path: Path) -> Engine:
        entities = [Owner(f"00000005{k:02d}", f"CHAIN ENTITY {k}", ten_percent=True) for k in range(3)]
        files = {
            f"chain{k}.txt": purchase_filing(
                f"00000005{k:02d}-24-000001",
                f"2024-03-0{6 + k}T16:30:00",
                owners=[owner],
                trade_date="2024-03-05",
                shares="10000",
                price="20.00",
            )
            for k, owner in enumerate(entities)
        }
        files["alice.txt"] = purchase_filing(
            "0000000101-24-000001", "2024-03-06T17:00:00", owners=[ALICE], trade_date="2024-03-05"
        )
        ingest_submissions(clean_engine, tmp_path, files)
        return clean_engine

    def test_screener_counts_the_block_once(self, client: TestClient, chain: Engine) -> None:
        (row,) = client.get(f"/api/screener?{WINDOW}").json()["rows"]
        assert row["n_buyers"] == 2
        assert row["n_purchases"] == 4
        assert Decimal(row["total_value"]) == Decimal("200000") + Decimal("10000")
        assert Decimal(row["total_shares"]) == Decimal("11000")
        fund = next(b for b in row["buyers"] if "CHAIN" in b["name"])
        assert fund["key"] == "0000000500+0000000501+0000000502"
        assert Decimal(fund["value"]) == Decimal("200000")
        assert "ten_percent_owner_only" not in row["flags"]  # Alice is the CEO

    def test_exclude_ten_percent_only_keeps_the_company_with_an_officer(
        self, client: TestClient, chain: Engine
    ) -> None:
        data = client.get(f"/api/screener?{WINDOW}&exclude_ten_percent_only=true").json()
        assert [r["ticker"] for r in data["rows"]] == ["EXMP"]
        data = client.get(f"/api/screener?{WINDOW}&exclude_ten_percent_only=true&role=ceo_cfo").json()
        assert data["rows"][0]["n_buyers"] == 1

    def test_facts_are_rebuilt_when_missing(self, client: TestClient, chain: Engine) -> None:
        from app.db import session_scope
        from app.models import EligiblePurchase
        from app.services.clustering import refresh_missing_facts

        before = client.get(f"/api/screener?{WINDOW}").json()["rows"]
        with chain.begin() as conn:
            conn.execute(EligiblePurchase.__table__.delete())
        assert client.get(f"/api/screener?{WINDOW}").json()["rows"] == []
        with session_scope(chain, write=True) as session:
            assert refresh_missing_facts(session) == 1
        with session_scope(chain, write=True) as session:
            assert refresh_missing_facts(session) == 0
        assert client.get(f"/api/screener?{WINDOW}").json()["rows"] == before


class TestPurchasesOrder:
    """The purchases view sorts and pages in SQL; it must order exactly as the rows' own values do."""

    @pytest.mark.parametrize("sort", ["latest", "value", "trade_date", "ticker", "price", "delta_own"])
    @pytest.mark.parametrize("order", ["asc", "desc"])
    def test_sql_order_matches_the_row_values(
        self, client: TestClient, loaded: Engine, sort: str, order: str
    ) -> None:
        from app.schemas.screener import PurchaseRow
        from app.services.purchases import PURCHASE_SORT_KEYS

        data = client.get(f"/api/purchases?{WINDOW}&sort={sort}&order={order}").json()
        rows = [PurchaseRow.model_validate(r) for r in data["rows"]]
        expected = sorted(rows, key=lambda r: r.transaction_id)
        expected.sort(key=PURCHASE_SORT_KEYS[sort], reverse=order == "desc")
        assert [r.transaction_id for r in rows] == [r.transaction_id for r in expected]
        paged = [
            client.get(f"/api/purchases?{WINDOW}&sort={sort}&order={order}&page_size=2&page={p}").json()
            for p in (1, 2, 3)
        ]
        assert [r["transaction_id"] for page in paged for r in page["rows"]] == [
            r.transaction_id for r in rows
        ]
        assert {page["total_rows"] for page in paged} == {5}

    def test_custom_rule_clusters_only(self, client: TestClient, loaded: Engine) -> None:
        data = client.get(f"/api/purchases?{WINDOW}&n=2&clusters_only=true").json()
        assert sorted(r["buyer"] for r in data["rows"]) == ["ALICE A", "BOB B", "CAROL C"]
        assert client.get(f"/api/purchases?{WINDOW}&n=4&clusters_only=true").json()["rows"] == []

    def test_filters_push_down(self, client: TestClient, loaded: Engine) -> None:
        def buyers(query: str) -> list[str]:
            return [r["buyer"] for r in client.get(f"/api/purchases?{WINDOW}&{query}").json()["rows"]]

        assert buyers("role=ceo_cfo&sort=trade_date&order=asc") == ["ALICE A", "CAROL C"]
        assert buyers("min_value=20000") == ["BIG FUND LP", "BOB B"]
        assert "BIG FUND LP" not in buyers("exclude_ten_percent_only=true")
        assert buyers("q=oth") == ["BIG FUND LP"]
        assert buyers("q=%25") == []  # LIKE wildcards in a search are literal
        assert buyers("min_price=10.2&max_price=10.6") == ["BOB B"]
