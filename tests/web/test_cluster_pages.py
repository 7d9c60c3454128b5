"""Weekly, cluster and filing pages, their JSON twins, the weekly CSV and the Atom feed, on filings written
for the tests and ingested through the real path (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from bs4 import BeautifulSoup, Tag
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine, select

from app.config import Settings
from app.db import session_scope
from app.ingest import codes
from app.ingest.files import ingest_files
from app.ingest.urls import EdgarUrls
from app.main import create_app
from app.models import ClusterAlias, ClusterReturn, Filing
from app.services.clustering import iso_week_of
from app.services.weekly import shift_week
from app.web.templating import delta_own, et, money, price, shares
from tests.conftest import truncate_all
from tests.factories import Doc, Hold, Owner, Tx, form4_xml, purchase_filing, submission_txt

HOSTILE = "<script>alert(1)</script>"

ALICE = Owner("0000000101", "ALICE A", officer=True, title="Chief Executive Officer")
BOB = Owner("0000000102", "BOB B", director=True)
CAROL = Owner("0000000103", "CAROL C", officer=True, title="EVP, Chief Financial Officer")
DAVE = Owner("0000000104", "DAVE D", director=True)
EVIL = Owner("0000000201", f"{HOSTILE} EVIL E", director=True)
FRANK = Owner("0000000202", "FRANK F", director=True)
GRACE = Owner("0000000203", "GRACE G", officer=True, title="President")

EXMP, HSTL, OTHR = "0000001234", "0000005678", "0000009999"
X_ID, Y_ID, Z_ID = f"{EXMP}-2024-03-04", f"{HSTL}-2024-03-11", f"{OTHR}-2024-03-18"
ALIAS_ID = f"{EXMP}-2024-03-01"

ACC = {
    "alice": "0000000101-24-000001",
    "bob": "0000000102-24-000001",
    "bob_amend": "0000000102-24-000002",
    "carol": "0000000103-24-000001",
    "dave": "0000000104-24-000001",
    "evil": "0000000201-24-000001",
    "frank": "0000000202-24-000001",
    "grace": "0000000203-24-000001",
}


def _files() -> dict[str, bytes]:
    """Three clusters: EXMP and HSTL trigger in 2024-W11, OTHR in 2024-W12."""
    files = {
        # EXMP: Alice, Bob (amended 2,000 -> 2,200 shares), Carol (price only as a footnote range)
        # trigger Carol's filing on Wed 2024-03-13; Dave's purchase is filed the next week.
        "alice.txt": purchase_filing(
            ACC["alice"], "2024-03-05T16:30:00", owners=[ALICE], trade_date="2024-03-04", price="10.00"
        ),
        "bob.txt": purchase_filing(
            ACC["bob"],
            "2024-03-08T18:00:00",
            owners=[BOB],
            trade_date="2024-03-07",
            shares="2000",
            price="10.50",
        ),
        "bob_amend.txt": submission_txt(
            form4_xml(
                Doc(
                    owners=[BOB],
                    document_type="4/A",
                    period="2024-03-07",
                    original_date="2024-03-08",
                    transactions=[Tx(shares="2200", price="10.50", trade_date="2024-03-07", after="7200")],
                )
            ),
            accession=ACC["bob_amend"],
            accepted_at_et="2024-03-11T10:00:00",
            form_type="4/A",
        ),
        "carol.txt": submission_txt(
            form4_xml(
                Doc(
                    owners=[CAROL],
                    period="2024-03-12",
                    transactions=[Tx(shares="500", price=None, price_footnote="F1", trade_date="2024-03-12")],
                    footnotes={"F1": "Weighted average; prices ranged from $10.80 to $11.20."},
                )
            ),
            accession=ACC["carol"],
            accepted_at_et="2024-03-13T09:15:00",
        ),
        "dave.txt": purchase_filing(
            ACC["dave"], "2024-03-19T11:00:00", owners=[DAVE], trade_date="2024-03-14", price="11.00"
        ),
        # HSTL: a hostile owner name, remarks and footnote; a grant and a tax withholding beside the buy.
        "evil.txt": submission_txt(
            form4_xml(
                Doc(
                    issuer_cik=HSTL,
                    issuer_name="HOSTILE INC",
                    ticker="HSTL",
                    owners=[EVIL],
                    period="2024-03-11",
                    transactions=[
                        Tx(shares="5000", price="20.00", trade_date="2024-03-11", after="15000"),
                        Tx(code="A", shares="300", price="0", trade_date="2024-03-11", after="15300"),
                        Tx(
                            code="F",
                            shares="100",
                            price="20.00",
                            acquired_disposed="D",
                            trade_date="2024-03-11",
                            after="15200",
                        ),
                    ],
                    holdings=[Hold(shares="2500")],
                    footnotes={"F2": f"{HOSTILE} Bought in the open market."},
                    remarks=f"{HOSTILE} remarks",
                )
            ).replace(
                b"<transactionShares><value>5000</value></transactionShares>",
                b'<transactionShares><value>5000</value><footnoteId id="F2"/></transactionShares>',
            ),
            accession=ACC["evil"],
            accepted_at_et="2024-03-12T10:00:00",
        ),
        "frank.txt": purchase_filing(
            ACC["frank"],
            "2024-03-13T11:00:00",
            owners=[FRANK],
            trade_date="2024-03-12",
            price="20.00",
            issuer_cik=HSTL,
            ticker="HSTL",
            issuer_name="HOSTILE INC",
        ),
        "grace.txt": purchase_filing(
            ACC["grace"],
            "2024-03-14T12:00:00",
            owners=[GRACE],
            trade_date="2024-03-13",
            price="20.00",
            issuer_cik=HSTL,
            ticker="HSTL",
            issuer_name="HOSTILE INC",
        ),
    }
    for i, day in enumerate((18, 19, 20)):
        owner = Owner(f"00000003{i:02d}", f"OTHER INSIDER {i}", director=True)
        files[f"othr{i}.txt"] = purchase_filing(
            f"00000003{i:02d}-24-000001",
            f"2024-03-{day + 1}T10:00:00",
            owners=[owner],
            trade_date=f"2024-03-{day}",
            issuer_cik=OTHR,
            ticker="OTHR",
            issuer_name="OTHER CO",
        )
    return files


# A bare ownership XML (no accession in its name): stored under a local- id, not linkable to EDGAR.
LOCAL_DOC = Doc(
    issuer_cik=OTHR,
    issuer_name="OTHER CO",
    ticker="OTHR",
    owners=[Owner("0000000399", "LOCAL L", director=True)],
    period="2024-02-01",
    transactions=[Tx(code="G", shares="50", price=None, acquired_disposed="D", trade_date="2024-02-01")],
)


@dataclass
class Site:
    client: TestClient
    local_accession: str


@pytest.fixture(scope="module")
def site(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Ingest the test filings once per backend, add an alias and returns, and serve the app."""
    truncate_all(engine)
    folder = tmp_path_factory.mktemp("filings")
    paths = []
    for name, data in {**_files(), "local.xml": form4_xml(LOCAL_DOC)}.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    report = ingest_files(paths, engine=engine, max_bytes=5_000_000)
    assert report.rejected == 0, report.rejections
    with session_scope(engine) as s:
        s.add(ClusterAlias(alias_id=ALIAS_ID, cluster_id=X_ID))
        s.add(
            ClusterReturn(
                cluster_id=X_ID,
                horizon="1w",
                status="done",
                stock_return=0.05,
                spy_return=0.01,
                excess_return=0.04,
                computed_at=datetime(2024, 4, 1, tzinfo=UTC),
            )
        )
        s.add(
            ClusterReturn(
                cluster_id=X_ID, horizon="1m", status="open", computed_at=datetime(2024, 4, 1, tzinfo=UTC)
            )
        )
    local = next(p for p in _accessions(engine) if p.startswith("local-"))
    url = engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(Settings(database_url=url))) as client:
        yield Site(client, local)
    truncate_all(engine)


def _accessions(engine: Engine) -> list[str]:
    with session_scope(engine) as s:
        return list(s.scalars(select(Filing.accession)))


def _soup(resp) -> BeautifulSoup:  # type: ignore[no-untyped-def]
    assert resp.status_code == 200, resp.text[:500]
    return BeautifulSoup(resp.text, "html.parser")


def _cell(row: Tag, field: str) -> str:
    cell = row.find(attrs={"data-field": field})
    assert cell is not None, field
    return " ".join(cell.get_text(" ", strip=True).split())


def _first_text(cell: Tag) -> str:
    """The cell's own leading text (before any <br>/<small> annotation)."""
    return next(cell.stripped_strings)


def _no_script(soup: BeautifulSoup) -> None:
    assert soup.find_all("script") == []


# --- weekly -----------------------------------------------------------------------------------------------


class TestWeeklyPage:
    def test_week_ranks_clusters_by_value_filed_by_week_end(self, site: Site) -> None:
        soup = _soup(site.client.get("/weekly/2024-W11"))
        rows = soup.select("table#weekly tbody tr[data-cluster]")
        assert [r["data-cluster"] for r in rows] == [Y_ID, X_ID]
        assert [_cell(r, "ticker") for r in rows] == ["HSTL", "EXMP"]
        y, x = rows
        assert _first_text(y.find(attrs={"data-field": "week_value"})) == "$140,000"
        # Dave's purchase was filed in W12: not in the week value, shown as the value to date.
        assert _first_text(x.find(attrs={"data-field": "week_value"})) == "$38,600"  # 10,000 + 23,100 + 5,500
        assert "$49,600 to date" in _cell(x, "week_value")
        assert _cell(x, "n_buyers") == "3 (4 now)"
        assert _cell(x, "shares") == "3,700"
        assert _cell(x, "trigger_at") == "2024-03-13 09:15 ET"
        assert _cell(x, "last_trade_date") == "2024-03-12"
        assert [b.get_text() for b in x.select("[data-field=roles] .badge")] == [
            "CEO",
            "CFO",
            "Officer",
            "Dir",
        ]
        assert _cell(x, "return") == "+5.0% vs SPY +1.0% (1w)"
        assert _cell(y, "return") == "no price data yet"
        assert soup.select_one("[data-testid=n-clusters]").get_text() == "2"

    def test_prev_next_links_and_atom_alternate(self, site: Site) -> None:
        soup = _soup(site.client.get("/weekly/2024-W11"))
        assert soup.select_one("a[rel=prev]")["href"] == "/weekly/2024-W10"
        assert soup.select_one("a[rel=next]")["href"] == "/weekly/2024-W12"
        atom = soup.select_one('link[rel=alternate][type="application/atom+xml"]')
        assert atom["href"] == "/feeds/clusters.atom"

    def test_year_boundary_links(self, site: Site) -> None:
        soup = _soup(site.client.get("/weekly/2021-W01"))
        assert soup.select_one("a[rel=prev]")["href"] == "/weekly/2020-W53"

    def test_empty_week_shows_empty_state(self, site: Site) -> None:
        soup = _soup(site.client.get("/weekly/2024-W02"))
        assert soup.select("table#weekly tbody tr[data-cluster]") == []
        assert (
            "No cluster buys were triggered in 2024-W02"
            in soup.select_one("table#weekly td.empty").get_text()
        )
        assert soup.select_one("[data-testid=latest-with-data] a")["href"] == "/weekly/2024-W12"

    def test_latest_shows_last_complete_week_and_week_in_progress(self, site: Site) -> None:
        soup = _soup(site.client.get("/weekly"))
        this_week = iso_week_of(datetime.now(UTC))
        assert soup.select_one("[data-testid=week]").get_text() == shift_week(this_week, -1)
        assert soup.select_one("[data-testid=current-week]").get_text() == this_week
        assert soup.select_one("table#weekly-current") is not None

    @pytest.mark.parametrize(
        ("week", "needle"),
        [
            pytest.param("2024-W60", "2024 has ISO weeks W01 to W52", id="week-too-big"),
            pytest.param("2023-W53", "2023 has ISO weeks W01 to W52", id="no-w53"),
            pytest.param("2024-W00", "W01 to W52", id="week-zero"),
            pytest.param("2024-11", "YYYY-Www", id="no-w"),
            pytest.param("latest", "YYYY-Www", id="word"),
            pytest.param("1800-W01", "allowed 1993 to 2100", id="old-year"),
        ],
    )
    def test_bad_week_is_422_naming_the_format(self, site: Site, week: str, needle: str) -> None:
        resp = site.client.get(f"/weekly/{week}")
        assert resp.status_code == 422
        detail = BeautifulSoup(resp.text, "html.parser").select_one(".error-detail").get_text()
        assert detail.startswith("week:")
        assert needle in detail
        api = site.client.get(f"/api/weekly/{week}")
        assert api.status_code == 422
        assert api.json()["param"] == "week"

    def test_week_53_exists_in_long_years(self, site: Site) -> None:
        assert site.client.get("/weekly/2020-W53").status_code == 200

    def test_json_twin_matches_the_table(self, site: Site) -> None:
        soup = _soup(site.client.get("/weekly/2024-W11"))
        data = site.client.get("/api/weekly/2024-W11").json()
        assert data["week"]["week"] == "2024-W11"
        assert data["current"] is None
        assert data["prev_week"] == "2024-W10"
        assert data["next_week"] == "2024-W12"
        rows = soup.select("table#weekly tbody tr[data-cluster]")
        assert [r["data-cluster"] for r in rows] == [j["cluster_id"] for j in data["week"]["rows"]]
        for row, j in zip(rows, data["week"]["rows"], strict=True):
            assert _first_text(row.find(attrs={"data-field": "week_value"})) == money(
                Decimal(j["week_value"])
            )
            assert _cell(row, "shares") == shares(Decimal(j["shares"]))
            assert _cell(row, "avg_price") == price(Decimal(j["avg_price"]))
            assert _cell(row, "trigger_at") == et(datetime.fromisoformat(j["trigger_at"]))
            assert _cell(row, "rank") == str(j["rank"])
            assert _cell(row, "company") == j["company"]
        x = data["week"]["rows"][1]
        assert Decimal(x["week_value"]) == Decimal("38600")
        assert Decimal(x["total_value"]) == Decimal("49600")
        assert x["latest_return"]["horizon"] == "1w"
        assert x["return_rows"] == 2

    def test_api_latest_has_this_week(self, site: Site) -> None:
        data = site.client.get("/api/weekly").json()
        assert data["current"]["complete"] is False
        assert data["week"]["complete"] is True

    def test_csv_equals_the_table(self, site: Site) -> None:
        soup = _soup(site.client.get("/weekly/2024-W11"))
        resp = site.client.get("/weekly/2024-W11.csv")
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/csv")
        header, *rows = list(csv.reader(io.StringIO(resp.text)))
        col = {name: i for i, name in enumerate(header)}
        html_rows = soup.select("table#weekly tbody tr[data-cluster]")
        assert [r[col["cluster_id"]] for r in rows] == [r["data-cluster"] for r in html_rows]
        for r, h in zip(rows, html_rows, strict=True):
            assert money(Decimal(r[col["week_value"]])) == _first_text(
                h.find(attrs={"data-field": "week_value"})
            )
            assert shares(Decimal(r[col["shares"]])) == _cell(h, "shares")
            assert r[col["trigger_et"]] + " ET" == _cell(h, "trigger_at")
            assert r[col["ticker"]] == _cell(h, "ticker")
        assert site.client.get("/weekly/2024-W99.csv").status_code == 422

    def test_hostile_names_render_as_text(self, site: Site) -> None:
        soup = _soup(site.client.get("/weekly/2024-W11"))
        _no_script(soup)
        y = soup.select_one(f"tr[data-cluster='{Y_ID}'] [data-field=n_buyers]")
        assert HOSTILE in y["title"]


class TestWeeklyArchive:
    def test_every_week_with_counts_and_totals(self, site: Site) -> None:
        soup = _soup(site.client.get("/weekly/archive"))
        rows = soup.select("table#weekly-archive tbody tr[data-week]")
        assert [r["data-week"] for r in rows] == ["2024-W12", "2024-W11"]
        assert [_cell(r, "n_clusters") for r in rows] == ["1", "2"]
        assert [_cell(r, "total_value") for r in rows] == ["$30,000", "$178,600"]
        assert rows[1].select_one("a")["href"] == "/weekly/2024-W11"

    def test_json_twin(self, site: Site) -> None:
        data = site.client.get("/api/weekly/archive").json()
        assert [(w["week"], w["n_clusters"], Decimal(w["total_value"])) for w in data["weeks"]] == [
            ("2024-W12", 1, Decimal("30000")),
            ("2024-W11", 2, Decimal("178600")),
        ]


# --- cluster permalink ------------------------------------------------------------------------------------


class TestClusterPage:
    def test_members_totals_and_trigger(self, site: Site) -> None:
        soup = _soup(site.client.get(f"/cluster/{X_ID}"))
        facts = soup.select_one("#cluster-facts")
        assert _cell(facts, "rule").startswith("≥ 3 distinct insiders, purchases ≤ 14 days apart")
        assert _cell(facts, "trigger_at") == "2024-03-13 09:15 ET"
        assert _cell(facts, "trigger_accession") == ACC["carol"]
        assert _cell(facts, "total_value") == "$49,600"
        assert _cell(facts, "week_value") == "$38,600"
        rows = soup.select("table#members tbody tr")
        assert [_cell(r, "buyer") for r in rows] == ["ALICE A", "BOB B", "CAROL C", "DAVE D"]
        # Bob's member row is the amendment's restated purchase, not the superseded original.
        assert [_cell(r, "accession") for r in rows] == [
            ACC["alice"],
            ACC["bob_amend"],
            ACC["carol"],
            ACC["dave"],
        ]
        assert [_cell(r, "value") for r in rows] == ["$10,000", "$23,100", "$5,500", "$11,000"]
        assert _cell(rows[2], "price") == "$10.80–$11.20"  # footnote range, midpoint used for value
        assert "trigger" in _cell(rows[2], "known_at")
        assert "after trigger" in _cell(rows[3], "known_at")
        assert "after-trigger" in rows[3]["class"]
        assert _cell(rows[1], "delta_own") == "+44%"  # 2,200 bought on 5,000 held before
        assert rows[0].select_one("[data-field=accession] a")["href"] == f"/filing/{ACC['alice']}"
        tfoot = soup.select_one("table#members tfoot")
        assert _cell(tfoot, "total_shares") == "4,700"
        assert _cell(tfoot, "total_value") == "$49,600"
        flags = {li["data-flag"] for li in soup.select("#cluster-flags li")}
        assert {"amended", "price_from_footnote", "late_filing"} <= flags
        assert soup.select_one("[data-testid=dashboard]")["href"] == "/ticker/EXMP"
        assert soup.select_one(
            "table#returns tr[data-horizon='1w'] [data-field=excess_return]"
        ).get_text() == ("+4.0%")

    def test_no_returns_yet(self, site: Site) -> None:
        soup = _soup(site.client.get(f"/cluster/{Y_ID}"))
        assert soup.select_one("#no-returns") is not None
        assert soup.select_one("table#returns") is None

    def test_json_twin_matches_the_table(self, site: Site) -> None:
        soup = _soup(site.client.get(f"/cluster/{X_ID}"))
        data = site.client.get(f"/api/clusters/{X_ID}").json()
        assert data["id"] == X_ID
        assert data["trigger_accession"] == ACC["carol"]
        assert Decimal(data["total_value"]) == Decimal("49600")
        assert data["n_buyers"] == 4
        rows = soup.select("table#members tbody tr")
        assert [int(r["data-transaction"]) for r in rows] == [m["transaction_id"] for m in data["members"]]
        for row, m in zip(rows, data["members"], strict=True):
            assert _cell(row, "buyer") == m["buyer"]
            assert _cell(row, "value").startswith(money(Decimal(m["value"])))
            assert _cell(row, "shares") == shares(Decimal(m["shares"]))
            assert _cell(row, "delta_own") == delta_own(m["delta_own"], m["delta_own_new"])
            assert _cell(row, "known_at").startswith(et(datetime.fromisoformat(m["known_at"])))
        assert [r["horizon"] for r in data["returns"]] == ["1w", "1m"]

    def test_alias_redirects_to_the_current_id(self, site: Site) -> None:
        resp = site.client.get(f"/cluster/{ALIAS_ID}", follow_redirects=False)
        assert resp.status_code == 301
        assert resp.headers["location"] == f"/cluster/{X_ID}"
        api = site.client.get(f"/api/clusters/{ALIAS_ID}", follow_redirects=False)
        assert api.status_code == 301
        assert api.headers["location"] == f"/api/clusters/{X_ID}"

    def test_unknown_id_is_404(self, site: Site) -> None:
        resp = site.client.get("/cluster/0000001234-1999-01-01")
        assert resp.status_code == 404
        assert "No cluster" in BeautifulSoup(resp.text, "html.parser").select_one(".error-detail").get_text()
        assert site.client.get("/api/clusters/nope").status_code == 404

    def test_hostile_owner_name_renders_as_text(self, site: Site) -> None:
        soup = _soup(site.client.get(f"/cluster/{Y_ID}"))
        _no_script(soup)
        buyers = [_cell(r, "buyer") for r in soup.select("table#members tbody tr")]
        assert f"{HOSTILE} EVIL E" in buyers


# --- filing page ------------------------------------------------------------------------------------------


class TestFilingPage:
    def test_codes_explained_with_opinion(self, site: Site) -> None:
        soup = _soup(site.client.get(f"/filing/{ACC['evil']}"))
        rows = soup.select("table#non_derivative-transactions tbody tr")
        assert [_cell(r, "code_letter") for r in rows] == ["P", "A", "F"]
        opinions = [r.select_one("[data-field=code_opinion]")["data-opinion"] for r in rows]
        assert opinions == ["true", "false", "false"]
        assert "open market" in _cell(rows[0], "code_plain")
        assert "grant or award" in _cell(rows[1], "code_plain")
        assert "withheld" in _cell(rows[2], "code_plain")
        assert "tax" in _cell(rows[2], "code_plain")
        assert [_cell(r, "acquired_disposed") for r in rows] == ["Acquired", "Acquired", "Disposed"]

    def test_footnotes_attach_to_their_fields(self, site: Site) -> None:
        soup = _soup(site.client.get(f"/filing/{ACC['evil']}"))
        buy = soup.select("table#non_derivative-transactions tbody tr")[0]
        assert [a["data-footnote"] for a in buy.select("[data-field=shares] sup.fn a")] == ["F2"]
        assert buy.select("[data-field=price] sup.fn") == []
        note = soup.select_one("#footnotes li#fn-F2")
        assert note.select_one(".fn-text").get_text() == f"{HOSTILE} Bought in the open market."
        carol = _soup(site.client.get(f"/filing/{ACC['carol']}"))
        row = carol.select_one("table#non_derivative-transactions tbody tr")
        assert [a["data-footnote"] for a in row.select("[data-field=price] sup.fn a")] == ["F1"]
        assert "$10.80–$11.20" in _cell(row, "price")
        assert row.select("[data-field=shares] sup.fn") == []

    def test_owners_holdings_remarks_and_known_at(self, site: Site) -> None:
        soup = _soup(site.client.get(f"/filing/{ACC['alice']}"))
        owner = soup.select_one("table#owners tbody tr")
        assert _cell(owner, "relationship") == "Officer (Chief Executive Officer)"
        assert [b.get_text() for b in owner.select(".badge")] == ["CEO", "Officer"]
        assert _cell(soup.select_one("#filing-facts"), "known_at").startswith("2024-03-05 16:30 ET")
        assert soup.select_one("[data-field=estimate]") is None
        link = soup.select_one("#edgar-link")
        assert link["href"] == EdgarUrls().filing_index(EXMP, ACC["alice"])
        evil = _soup(site.client.get(f"/filing/{ACC['evil']}"))
        assert _cell(evil.select_one("table#holdings tbody tr"), "shares_owned") == "2,500"
        assert evil.select_one("#remarks").get_text() == f"{HOSTILE} remarks"

    def test_hostile_text_renders_as_text(self, site: Site) -> None:
        soup = _soup(site.client.get(f"/filing/{ACC['evil']}"))
        _no_script(soup)
        assert _cell(soup.select_one("table#owners tbody tr"), "name") == f"{HOSTILE} EVIL E"

    def test_amendment_history_marks_superseded_rows(self, site: Site) -> None:
        soup = _soup(site.client.get(f"/filing/{ACC['bob']}"))
        row = soup.select_one("table#non_derivative-transactions tbody tr")
        assert "superseded" in row["class"]
        assert row.select_one("[data-field=superseded_by] a")["href"] == f"/filing/{ACC['bob_amend']}"
        history = soup.select("table#amendments tbody tr")
        assert [h["data-accession"] for h in history] == [ACC["bob"], ACC["bob_amend"]]
        original, amendment = history
        assert (
            original.select_one("[data-section=non_derivative_transactions]")["data-superseded-by"]
            == (ACC["bob_amend"])
        )
        assert amendment.select_one("[data-section=non_derivative_transactions]")["data-superseded-by"] == ""
        assert "this-filing" in original["class"]
        amended = _soup(site.client.get(f"/filing/{ACC['bob_amend']}"))
        assert _cell(amended.select_one("#filing-facts"), "amends").startswith(ACC["bob"])
        assert "this-filing" in amended.select("table#amendments tbody tr")[1]["class"]
        live = amended.select_one("table#non_derivative-transactions tbody tr")
        assert "superseded" not in (live.get("class") or [])
        assert live.select_one(".badge.cluster")

    def test_local_file_has_no_edgar_link_and_an_estimated_time(self, site: Site) -> None:
        soup = _soup(site.client.get(f"/filing/{site.local_accession}"))
        assert soup.select_one("#edgar-link") is None
        assert soup.select_one("#no-edgar") is not None
        assert soup.select_one("[data-field=estimate]") is not None
        assert "ift" in _cell(soup.select_one("table#non_derivative-transactions tbody tr"), "code_plain")

    def test_json_twin_matches_the_page(self, site: Site) -> None:
        soup = _soup(site.client.get(f"/filing/{ACC['evil']}"))
        data = site.client.get(f"/api/filings/{ACC['evil']}").json()
        assert data["remarks"] == f"{HOSTILE} remarks"
        assert data["edgar_url"].endswith("-index.htm")
        rows = soup.select("table#non_derivative-transactions tbody tr")
        assert [int(r["data-transaction"]) for r in rows] == [t["id"] for t in data["transactions"]]
        for row, t in zip(rows, data["transactions"], strict=True):
            assert _cell(row, "code_letter") == t["code"]["code"]
            assert _cell(row, "code_plain") == t["code"]["plain"]
            assert _cell(row, "shares").startswith(shares(Decimal(t["shares"])))
            assert _cell(row, "shares_owned_after") == shares(Decimal(t["shares_owned_after"]))
        assert data["transactions"][0]["footnotes"] == {"shares": ["F2"]}
        assert [f["id"] for f in data["footnotes"]] == ["F2"]
        assert [o["name"] for o in data["owners"]] == [f"{HOSTILE} EVIL E"]

    def test_undashed_accession_redirects(self, site: Site) -> None:
        resp = site.client.get(f"/filing/{ACC['alice'].replace('-', '')}", follow_redirects=False)
        assert resp.status_code == 301
        assert resp.headers["location"] == f"/filing/{ACC['alice']}"

    def test_unknown_accession_is_404(self, site: Site) -> None:
        resp = site.client.get("/filing/0000000999-24-000009")
        assert resp.status_code == 404
        assert "No filing 0000000999-24-000009" in resp.text
        assert site.client.get("/api/filings/0000000999-24-000009").status_code == 404

    @pytest.mark.parametrize("bad", ["not-an-accession", "0000000101-24", "local-XYZ", "%3Cscript%3E"])
    def test_malformed_accession_is_422(self, site: Site, bad: str) -> None:
        resp = site.client.get(f"/filing/{bad}")
        assert resp.status_code == 422
        soup = BeautifulSoup(resp.text, "html.parser")
        _no_script(soup)
        assert "is not an accession number" in soup.select_one(".error-detail").get_text()
        assert site.client.get(f"/api/filings/{bad}").json()["param"] == "accession"


# --- Atom feed --------------------------------------------------------------------------------------------


class TestClustersFeed:
    NS = {"a": "http://www.w3.org/2005/Atom"}

    def test_valid_atom_newest_first(self, site: Site) -> None:
        resp = site.client.get("/feeds/clusters.atom")
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("application/atom+xml")
        root = etree.fromstring(resp.content)
        assert root.tag == "{http://www.w3.org/2005/Atom}feed"
        for required in ("a:id", "a:title", "a:updated", "a:author/a:name"):
            assert root.find(required, self.NS) is not None, required
        entries = root.findall("a:entry", self.NS)
        assert [e.findtext("a:id", namespaces=self.NS) for e in entries] == [
            f"http://testserver/cluster/{cid}" for cid in (Z_ID, Y_ID, X_ID)
        ]
        titles = [e.findtext("a:title", namespaces=self.NS) for e in entries]
        assert titles == [
            "OTHR: 3 insiders bought $30,000",
            "HSTL: 3 insiders bought $140,000",
            "EXMP: 4 insiders bought $49,600",
        ]
        x = entries[2]
        assert x.findtext("a:updated", namespaces=self.NS) == "2024-03-13T13:15:00Z"
        assert x.find("a:link", self.NS).get("href") == f"http://testserver/cluster/{X_ID}"
        assert root.findtext("a:updated", namespaces=self.NS) == "2024-03-21T14:00:00Z"

    def test_hostile_text_is_escaped(self, site: Site) -> None:
        resp = site.client.get("/feeds/clusters.atom")
        assert b"<script>" not in resp.content
        root = etree.fromstring(resp.content)
        summaries = [e.text for e in root.iterfind("a:entry/a:summary", self.NS)]
        assert any(f"{HOSTILE} EVIL E (director)" in s for s in summaries)


class TestCodeExplanations:
    def test_every_known_code_has_a_plain_explanation(self) -> None:
        assert set(codes.PLAIN) == set(codes.CODES)
        assert codes.explain("p") == codes.PLAIN["P"]
        assert "not in the SEC's list" in codes.explain("Q")
        assert codes.explain(None) == "The filer reported no transaction code."
