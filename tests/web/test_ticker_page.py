"""The ticker dashboard, its JSON twin, CSV and search, on real AAPL prices (imported from the shared CSV)
and filings written for the tests on those dates, ingested through the real path (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup, Tag
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from app.config import Settings
from app.db import session_scope
from app.ingest.files import ingest_files
from app.main import create_app
from app.models import ClusterReturn, Issuer, NewsEvent
from app.prices.csv_import import read_price_csv
from app.schemas.ticker import Period
from app.services import ticker_page as ticker_page_service
from app.services.prices import import_csv, parse_splits
from tests.conftest import require_samples, truncate_all
from tests.factories import Doc, Hold, Owner, Tx, form4_xml, submission_txt

HOSTILE = "<script>alert(1)</script>"
AAPL_CIK, NOPX_CIK = "0000320193", "0000777777"
AAPL_CSV = "InsidersTradeMonitor__AAPL.daily.2018-2023.with-derived-cols.csv"
AAPL_SPLITS = parse_splits("2020-08-31:4,2014-06-09:7,2005-02-28:2,2000-06-21:2")
CLUSTER_ID = f"{AAPL_CIK}-2018-12-24"

ALICE = Owner("0000000101", "ALICE A", officer=True, title="Chief Executive Officer")
BOB = Owner("0000000102", "BOB B", director=True)
CAROL = Owner("0000000103", "CAROL C", officer=True, title="Chief Financial Officer")
DAVE = Owner("0000000104", "DAVE D", director=True)
EVE = Owner("0000000105", "EVE E", officer=True, title="General Counsel")
FRANK = Owner("0000000106", "FRANK F", director=True)
GRACE = Owner("0000000107", "GRACE G", officer=True, title="President")
HEIDI = Owner("0000000108", "HEIDI H", officer=True, title="COO")
EVIL = Owner("0000000109", f"{HOSTILE} EVIL E", director=True)


def _filing(
    n: int,
    owner: Owner,
    accepted: str,
    txs: list[Tx],
    *,
    issuer: str = AAPL_CIK,
    ticker: str = "AAPL",
    name: str = "APPLE INC",
    form: str = "4",
    **kw: object,
) -> tuple[str, bytes]:
    accession = f"{owner.cik}-{accepted[2:4]}-{n:06d}"
    doc = Doc(
        issuer_cik=issuer,
        issuer_name=name,
        ticker=ticker,
        owners=[owner],
        period=txs[0].trade_date,
        document_type=form,
        transactions=txs,
        **kw,  # type: ignore[arg-type]
    )
    return f"{accession}.txt", submission_txt(
        form4_xml(doc), accession=accession, accepted_at_et=accepted, form_type=form
    )


def _buy(day: str, shares: str, price: str, after: str) -> Tx:
    return Tx(shares=shares, price=price, trade_date=day, after=after)


def _sale(day: str, shares: str, price: str, after: str, code: str = "S") -> Tx:
    return Tx(code=code, acquired_disposed="D", shares=shares, price=price, trade_date=day, after=after)


def dashboard_files() -> dict[str, bytes]:
    """AAPL trades on real dates: a pre-split buy, a cluster into the late-2018 fall, a COVID buy after a
    discretionary sale, a May 2021 sell cluster (plus a 10b5-1 sale), an exercise-and-sell, a plan sale
    and a tax withholding; NOPX (no prices) with hostile text."""
    files = dict(
        [
            # Pre-split: filed at $173.30 as traded, which is $43.325 on today's basis (4:1 in 2020).
            _filing(1, ALICE, "2019-06-04T16:30:00", [_buy("2019-06-03", "1000", "173.30", "5000")]),
            # Late 2018: AAPL fell ~33% in three months; three insiders bought (a default-rule cluster).
            _filing(
                1,
                BOB,
                "2018-12-26T10:00:00",
                [_buy("2018-12-24", "2000", "146.83", "12000")],
                holdings=[Hold(shares="2500", direct="I", nature="By trust")],
            ),
            # Carol's filing is late (due 2018-12-28).
            _filing(1, CAROL, "2019-01-04T09:30:00", [_buy("2018-12-26", "500", "157.17", "3500")]),
            _filing(1, DAVE, "2018-12-31T10:00:00", [_buy("2018-12-28", "1000", "156.23", "4000")]),
            # Dave's amendment: 1,000 -> 1,200 shares.
            _filing(
                2,
                DAVE,
                "2019-01-07T10:00:00",
                [_buy("2018-12-28", "1200", "156.23", "4200")],
                form="4/A",
                original_date="2018-12-31",
            ),
            # COVID: fell ~21% in three months, but Eve sold in that span: not buying into weakness.
            _filing(1, EVE, "2020-02-04T10:00:00", [_sale("2020-02-03", "300", "308.66", "9800")]),
            _filing(2, ALICE, "2020-03-24T10:00:00", [_buy("2020-03-23", "800", "224.37", "5800")]),
            # May 2021 sell cluster: Eve, Frank (a large sale, -40%), Grace (two tranches); Heidi's 10b5-1
            # sale in between does not count.
            _filing(2, EVE, "2021-05-04T10:00:00", [_sale("2021-05-03", "500", "132.54", "9500")]),
            _filing(1, FRANK, "2021-05-10T10:00:00", [_sale("2021-05-07", "4000", "130.21", "6000")]),
            _filing(
                1,
                HEIDI,
                "2021-05-11T10:00:00",
                [_sale("2021-05-10", "700", "126.85", "2300")],
                aff10b5one="1",
            ),
            _filing(
                1,
                GRACE,
                "2021-05-13T10:00:00",
                [_sale("2021-05-12", "60", "122.50", "4940"), _sale("2021-05-12", "40", "122.90", "4900")],
            ),
            # Carol exercises options and sells the shares the same day: not a discretionary sale.
            _filing(
                2,
                CAROL,
                "2021-11-02T10:00:00",
                [
                    Tx(code="M", shares="1000", price="50.00", trade_date="2021-11-01", after="4500"),
                    _sale("2021-11-01", "1000", "148.96", "3500"),
                ],
            ),
            # Alice: a 10b5-1 plan sale of 30% of her stake, then shares withheld for tax.
            _filing(
                3,
                ALICE,
                "2022-02-02T10:00:00",
                [_sale("2022-02-01", "1740", "174.61", "4060")],
                aff10b5one="1",
            ),
            _filing(
                4, ALICE, "2022-03-02T10:00:00", [_sale("2022-03-01", "200", "163.20", "3860", code="F")]
            ),
            # NOPX: no prices at all, hostile names.
            _filing(
                1,
                EVIL,
                "2024-03-05T10:00:00",
                [_buy("2024-03-04", "100", "10.00", "1100"), _sale("2024-03-04", "50", "10.50", "1050")],
                issuer=NOPX_CIK,
                ticker="NOPX",
                name=f"{HOSTILE} NO PRICE CO",
            ),
        ]
    )
    return files


def load_dashboard(engine: Engine, folder: Path) -> None:
    """Ingest the test filings, import the real AAPL prices, and add metadata, news and a return."""
    samples = require_samples()
    truncate_all(engine)
    for name, data in dashboard_files().items():
        (folder / name).write_bytes(data)
    report = ingest_files([folder], engine=engine, max_bytes=5_000_000)
    assert report.rejected == 0, report.rejections
    with session_scope(engine) as s:
        import_csv(s, samples / "prices" / AAPL_CSV, "AAPL", AAPL_SPLITS)
        s.execute(
            update(Issuer)
            .where(Issuer.cik == AAPL_CIK)
            .values(sector="Technology", exchange="Nasdaq", sic_description="Electronic Computers")
        )
        s.add_all(
            [
                NewsEvent(
                    issuer_cik=AAPL_CIK,
                    source="8-K",
                    external_id="0000320193-19-000001",
                    event_date=date(2019, 1, 2),
                    form_type="8-K",
                    items="2.02,9.01",
                    title="Letter from Tim Cook to Apple investors",
                    url="https://www.sec.gov/Archives/edgar/data/320193/000032019319000001/0000320193-19-000001-index.htm",
                ),
                NewsEvent(
                    issuer_cik=AAPL_CIK,
                    source="8-K",
                    external_id="0000320193-21-000050",
                    event_date=date(2021, 5, 10),
                    form_type="8-K",
                    items="5.02",
                    title=None,
                    url=None,
                ),
                NewsEvent(
                    issuer_cik=NOPX_CIK,
                    source="8-K",
                    external_id="0000777777-24-000001",
                    event_date=date(2024, 3, 1),
                    form_type="8-K",
                    items="1.01",
                    title=f"{HOSTILE} agreement",
                    url="javascript:alert(1)",
                ),
                ClusterReturn(
                    cluster_id=CLUSTER_ID,
                    horizon="1m",
                    status="done",
                    entry_date=date(2019, 1, 7),
                    stock_return=0.05,
                    spy_return=0.01,
                    excess_return=0.04,
                    computed_at=datetime(2024, 4, 1, tzinfo=UTC),
                ),
            ]
        )


@pytest.fixture(scope="module")
def client(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    load_dashboard(engine, tmp_path_factory.mktemp("filings"))
    url = engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(Settings(database_url=url))) as test_client:
        yield test_client
    truncate_all(engine)


@pytest.fixture(scope="module")
def aapl(client: TestClient) -> dict:
    resp = client.get("/api/ticker/AAPL?period=all")
    assert resp.status_code == 200, resp.text[:500]
    return resp.json()


@pytest.fixture(scope="module")
def aapl_html(client: TestClient) -> BeautifulSoup:
    return _soup(client.get("/ticker/AAPL?period=all"))


def _soup(resp) -> BeautifulSoup:  # type: ignore[no-untyped-def]
    assert resp.status_code == 200, resp.text[:500]
    return BeautifulSoup(resp.text, "html.parser")


def _text(node: Tag | None) -> str:
    assert node is not None
    return " ".join(node.get_text(" ", strip=True).split())


def _markers(data: dict, kind: str) -> list[dict]:
    return [m for m in data["markers"]["trades"] if m["kind"] == kind]


# --- the chart's data -------------------------------------------------------------------------------------


class TestSeries:
    def test_series_holds_every_stored_bar(self, aapl: dict) -> None:
        frame = read_price_csv(require_samples() / "prices" / AAPL_CSV)
        s = aapl["series"]
        assert s["ticker"] == "AAPL"
        assert s["basis"] == "split_adjusted"
        assert len(s["dates"]) == len(s["close"]) == len(s["volume"]) == len(frame)
        assert s["dates"][0] == frame.index[0].date().isoformat() == "2018-04-16"
        # The CSV is split-adjusted already: the chart shows its closes as they are.
        i = s["dates"].index("2019-06-03")
        assert s["close"][i] == pytest.approx(43.325001, abs=1e-4)
        assert s["volume"][i] == 161584400
        assert [(x["ex_date"], Decimal(x["ratio"])) for x in s["splits"]][-1] == ("2020-08-31", Decimal(4))

    def test_pre_split_trade_sits_on_the_price_line(self, aapl: dict) -> None:
        (buy,) = [m for m in _markers(aapl, "buy") if m["date"] == "2019-06-03"]
        i = aapl["series"]["dates"].index("2019-06-03")
        # Filed at $173.30 before the 2020 4:1 split: the marker sits at $43.325, on that day's close.
        assert buy["y"] == pytest.approx(43.325)
        assert buy["y"] == pytest.approx(aapl["series"]["close"][i], abs=1e-3)
        assert Decimal(buy["price"]) == Decimal("173.30")
        assert buy["insider"] == "ALICE A"
        assert buy["role_text"] == "CEO, Officer"
        # Tables keep the price as filed.
        row = next(r for r in aapl["purchases"] if r["trade_date"] == "2019-06-03")
        assert Decimal(row["price"]) == Decimal("173.30")

    def test_post_split_trade_is_not_rescaled(self, aapl: dict) -> None:
        (eve,) = [m for m in _markers(aapl, "sell") if m["date"] == "2021-05-03"]
        assert eve["y"] == pytest.approx(132.54)

    def test_markers_by_kind_and_date(self, aapl: dict) -> None:
        assert [m["date"] for m in _markers(aapl, "buy")] == [
            "2018-12-24",
            "2018-12-26",
            "2018-12-28",
            "2019-06-03",
            "2020-03-23",
        ]
        assert [(m["date"], m["insider"]) for m in _markers(aapl, "sell")] == [
            ("2020-02-03", "EVE E"),
            ("2021-05-03", "EVE E"),
            ("2021-05-07", "FRANK F"),
            ("2021-05-12", "GRACE G"),
        ]
        assert [(m["date"], m["insider"]) for m in _markers(aapl, "sell_plan")] == [
            ("2021-05-10", "HEIDI H"),
            ("2022-02-01", "ALICE A"),
        ]
        other = _markers(aapl, "tax_exercise")
        assert [(m["date"], m["code"], m["y_from"]) for m in other] == [
            ("2021-11-01", "M", "close"),  # an exercise is filed at the strike: plotted at the close
            ("2021-11-01", "S", "filed_price"),  # sold with the exercise: not discretionary
            ("2022-03-01", "F", "filed_price"),
        ]
        assert other[0]["y"] == pytest.approx(148.96, abs=1e-3)

    def test_tranches_of_one_filing_are_one_marker(self, aapl: dict) -> None:
        (grace,) = [m for m in _markers(aapl, "sell") if m["insider"] == "GRACE G"]
        assert grace["n_rows"] == 2
        assert Decimal(grace["shares"]) == 100
        assert Decimal(grace["value"]) == Decimal("12266")  # 60 × 122.50 + 40 × 122.90
        assert Decimal(grace["price"]) == Decimal("122.6600")
        assert (Decimal(grace["price_low"]), Decimal(grace["price_high"])) == (
            Decimal("122.5"),
            Decimal("122.9"),
        )

    def test_buy_markers_carry_the_amended_amount(self, aapl: dict) -> None:
        (dave,) = [m for m in _markers(aapl, "buy") if m["date"] == "2018-12-28"]
        assert Decimal(dave["shares"]) == 1200
        assert dave["accession"] == "0000000104-19-000002"

    def test_news_markers_explain_8k_items(self, aapl: dict) -> None:
        news = aapl["markers"]["news"]
        assert [n["date"] for n in news] == ["2019-01-02", "2021-05-10"]
        assert news[0]["items"] == [
            {"code": "2.02", "text": "Results of Operations and Financial Condition"},
            {"code": "9.01", "text": "Financial Statements and Exhibits"},
        ]
        assert news[1]["items"][0]["text"].startswith("Departure or Appointment of Directors")

    def test_html_carries_the_chart_data_and_the_local_plotly(self, client: TestClient) -> None:
        soup = _soup(client.get("/ticker/AAPL?period=all"))
        island = json.loads(soup.select_one("script#ticker-data").string)
        api = client.get("/api/ticker/AAPL?period=all").json()
        assert island["series"] == api["series"]
        assert island["markers"] == api["markers"]
        assert island["period"] == "all"
        sources = [urlsplit(s.get("src")).path for s in soup.find_all("script") if s.get("src")]
        assert sources == ["/assets/plotly.min.js", "/static/js/ticker_chart.js"]
        assert soup.select_one("#chart") is not None

    def test_trade_records_match_their_columns(self) -> None:
        from app.repositories.ticker_pages import TRADE_COLUMNS, TradeRecord

        assert [c.key for c in TRADE_COLUMNS] == list(TradeRecord._fields)

    def test_plotly_is_served_from_the_installed_package(self, client: TestClient) -> None:
        from importlib import resources

        resp = client.get("/assets/plotly.min.js")
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/javascript")
        bundled = resources.files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()
        assert resp.content == bundled


# --- header -------------------------------------------------------------------------------------------------


class TestHeader:
    def test_header_facts(self, aapl: dict, aapl_html: BeautifulSoup) -> None:
        h = aapl["header"]
        assert (h["ticker"], h["company"], h["sector"], h["exchange"]) == (
            "AAPL",
            "APPLE INC",
            "Technology",
            "Nasdaq",
        )
        assert h["last_close_date"] == "2023-04-14"
        assert Decimal(h["last_close"]) == Decimal("165.2100")
        assert Decimal(h["change"]) == Decimal("-0.3500")
        assert h["prices"]["status"] == "stale"
        assert h["clusters_30d"] == 0
        assert _text(aapl_html.select_one("[data-field=last_close]")) == "$165.21"
        assert _text(aapl_html.select_one("[data-field=change]")) == "-$0.35 (-0.21%)"
        note = aapl_html.select_one("[data-testid=price-note]")
        assert note["data-status"] == "stale"
        assert "2023-04-14" in _text(note)
        assert _text(aapl_html.select_one("[data-field=sector]")) == "Technology"
        assert _text(aapl_html.select_one("[data-field=clusters_30d]")) == "0"


# --- tables -------------------------------------------------------------------------------------------------


class TestTables:
    def test_purchases_and_sales_side_by_side(self, aapl_html: BeautifulSoup) -> None:
        buys = aapl_html.select("table#purchases tbody tr[data-transaction]")
        sales = aapl_html.select("table#sales tbody tr[data-transaction]")
        assert [_text(r.select_one("[data-field=trade_date]")) for r in buys] == [
            "2020-03-23",
            "2019-06-03",
            "2018-12-28",
            "2018-12-26",
            "2018-12-24",
        ]
        assert [_text(r.select_one("[data-field=insider]")) for r in sales] == [
            "ALICE A",  # 10b5-1 plan sale 2022-02-01
            "CAROL C",  # exercise-and-sell 2021-11-01
            "GRACE G",
            "GRACE G",
            "HEIDI H",
            "FRANK F",
            "EVE E",
            "EVE E",
        ]
        alice = buys[1]
        assert alice.select_one("[data-field=insider] a")["href"] == "/insider/0000000101"
        assert [b.get_text() for b in alice.select("[data-field=roles] .badge")] == ["CEO", "Officer"]
        assert _text(alice.select_one("[data-field=price]")) == "$173.30"
        assert _text(alice.select_one("[data-field=value]")) == "$173,300"
        assert _text(alice.select_one("[data-field=delta_own]")) == "+25%"
        assert _text(sales[5].select_one("[data-field=delta_own]")) == "-40.0%"

    def test_flags(self, aapl: dict) -> None:
        flags = {(r["insider"], r["trade_date"]): r["flags"] for r in aapl["purchases"] + aapl["sales"]}
        assert flags[("CAROL C", "2018-12-26")] == ["late_filing"]
        assert flags[("DAVE D", "2018-12-28")] == ["amended"]
        assert flags[("HEIDI H", "2021-05-10")] == ["10b5-1"]
        assert flags[("CAROL C", "2021-11-01")] == ["exercise_sale"]
        assert flags[("FRANK F", "2021-05-07")] == []

    def test_totals_and_net_line(self, aapl: dict, aapl_html: BeautifulSoup) -> None:
        t = aapl["totals"]
        bought = (
            Decimal("293660") + Decimal("173300") + Decimal("187476") + Decimal("78585") + Decimal("179496")
        )
        sold_disc = Decimal("92598") + Decimal("66270") + Decimal("520840") + Decimal("12266")
        plan = Decimal("88795") + Decimal("303821.4")
        exercise = Decimal("148960")
        assert (t["n_purchases"], t["n_sales"]) == (5, 8)
        assert Decimal(t["purchase_value"]) == bought
        assert Decimal(t["plan_sale_value"]) == plan
        assert Decimal(t["exercise_sale_value"]) == exercise
        assert Decimal(t["discretionary_sale_value"]) == sold_disc
        assert Decimal(t["sale_value"]) == sold_disc + plan + exercise
        assert Decimal(t["net_value"]) == bought - sold_disc - plan - exercise
        assert Decimal(t["discretionary_net_value"]) == bought - sold_disc
        foot = aapl_html.select_one("table#purchases tfoot")
        assert _text(foot.select_one("[data-field=total_value]")) == "$912,517"
        assert _text(aapl_html.select_one("#net-line [data-field=net_value]")) == "-$321,033"
        assert _text(aapl_html.select_one("#net-line [data-field=discretionary_net_value]")) == "$220,543"

    def test_period_limits_the_tables(self, engine: Engine, client: TestClient) -> None:
        with session_scope(engine) as s:
            view = ticker_page_service.build_ticker_page(s, "AAPL", Period.y1, today=date(2021, 6, 1))
        page = view.page
        assert page.period_start == date(2020, 6, 1)
        assert [r.trade_date for r in page.purchases] == []
        assert {r.trade_date for r in page.sales} == {
            date(2021, 5, 3),
            date(2021, 5, 7),
            date(2021, 5, 10),
            date(2021, 5, 12),
        }
        # The chart keeps everything.
        assert len(view.chart_data()["markers"]["trades"]) == 14

    def test_default_period_today_is_one_year(self, client: TestClient) -> None:
        soup = _soup(client.get("/ticker/AAPL"))
        assert soup.select_one("#periods a.active")["data-period"] == "1y"
        assert soup.select("table#purchases tbody tr[data-transaction]") == []
        assert "latest insider trade 2022-02-01" in _text(soup.select_one("#periods"))

    def test_bad_period_is_422(self, client: TestClient) -> None:
        assert client.get("/ticker/AAPL?period=2w").status_code == 422
        assert client.get("/api/ticker/AAPL?period=2w").status_code == 422


# --- roster -------------------------------------------------------------------------------------------------


class TestRoster:
    def test_roster_rows(self, aapl: dict, aapl_html: BeautifulSoup) -> None:
        roster = {r["name"]: r for r in aapl["roster"]}
        assert len(roster) == 8
        bob = roster["BOB B"]
        assert bob["roles"] == ["director"]
        assert (bob["last_trade_date"], bob["last_trade_code"]) == ("2018-12-24", "P")
        assert (Decimal(bob["direct_shares"]), Decimal(bob["indirect_shares"])) == (12000, 2500)
        alice = roster["ALICE A"]
        assert (alice["last_trade_date"], alice["last_trade_code"]) == ("2022-03-01", "F")
        assert Decimal(alice["direct_shares"]) == 3860  # after the tax withholding
        assert alice["indirect_shares"] is None
        assert (alice["n_purchases"], alice["n_sales"]) == (2, 1)
        assert Decimal(roster["DAVE D"]["direct_shares"]) == 4200  # from the amendment
        # Most senior first: the CEO and CFO lead.
        assert [r["name"] for r in aapl["roster"]][:2] == ["ALICE A", "CAROL C"]
        row = aapl_html.select_one("#roster-table tr[data-owner='0000000102']")
        assert row.select_one("[data-field=name] a")["href"] == "/insider/0000000102"
        assert _text(row.select_one("[data-field=direct_shares]")) == "12,000"
        assert _text(row.select_one("[data-field=indirect_shares]")) == "2,500"
        assert _text(row.select_one("[data-field=last_trade_shares]")) == "+2,000"


# --- signals ------------------------------------------------------------------------------------------------


class TestSignals:
    def test_cluster_history_with_return(self, aapl: dict, aapl_html: BeautifulSoup) -> None:
        (c,) = aapl["signals"]["clusters"]
        assert c["cluster_id"] == CLUSTER_ID
        assert c["n_buyers"] == 3
        assert c["latest_return"]["horizon"] == "1m"
        row = aapl_html.select_one(f"#cluster-history tr[data-cluster='{CLUSTER_ID}']")
        assert _text(row.select_one("[data-field=return]")) == "+5.0% vs SPY +1.0% (1m)"

    def test_sell_cluster_counts_discretionary_sellers_only(self, aapl: dict) -> None:
        (c,) = aapl["signals"]["sell_clusters"]
        assert (c["first_trade_date"], c["last_trade_date"]) == ("2021-05-03", "2021-05-12")
        assert c["n_sellers"] == 3
        assert sorted(c["sellers"]) == ["EVE E", "FRANK F", "GRACE G"]  # not Heidi's 10b5-1 sale
        assert c["trigger_at"] == "2021-05-13T14:00:00Z"
        assert Decimal(c["total_value"]) == Decimal("66270") + Decimal("520840") + Decimal("12266")

    def test_large_sales(self, aapl: dict, aapl_html: BeautifulSoup) -> None:
        large = aapl["signals"]["large_sales"]
        assert [(s["insider"], s["trade_date"], s["delta_own"], s["is_10b5_1"]) for s in large] == [
            ("ALICE A", "2022-02-01", -0.3, True),
            ("FRANK F", "2021-05-07", -0.4, False),
        ]
        assert Decimal(large[1]["shares_before"]) == 10000
        assert aapl_html.select_one("[data-signal=large_sales]").get_text() == "2 large sales"

    def test_buying_into_weakness(self, aapl: dict) -> None:
        w = aapl["signals"]["weakness"]
        # As of today the last hit is years old; the 2020-03-23 buy fell ~21% but followed Eve's sale.
        assert w["status"] == "past"
        assert [(h["trade_date"], h["reference_date"]) for h in w["hits"]] == [
            ("2018-12-28", "2018-09-28"),
            ("2018-12-26", "2018-09-26"),
            ("2018-12-24", "2018-09-24"),
        ]
        assert w["hits"][-1]["drop"] == pytest.approx(35.375179 / 53.009106 - 1, abs=1e-6)

    def test_weakness_badge_is_active_within_three_months(self, engine: Engine, client: TestClient) -> None:
        with session_scope(engine) as s:
            page = ticker_page_service.build_ticker_page(s, "AAPL", today=date(2019, 2, 15)).page
        assert page.signals.weakness.status == "active"

    def test_net_buying(self, engine: Engine, client: TestClient, aapl: dict) -> None:
        latest = aapl["signals"]["net_buying_latest"]
        assert (latest["start"], latest["end"]) == ("2021-02-11", "2021-05-12")
        assert Decimal(latest["bought"]) == 0
        assert Decimal(latest["sold"]) == Decimal("599376")  # Eve, Frank, Grace; not Heidi's plan sale
        assert (latest["n_purchases"], latest["n_sales"]) == (0, 4)
        with session_scope(engine) as s:
            page = ticker_page_service.build_ticker_page(s, "AAPL", today=date(2020, 3, 31)).page
        net = page.signals.net_buying
        assert (net.bought, net.sold, net.net) == (Decimal("179496"), Decimal("92598"), Decimal("86898"))
        assert page.signals.net_buying_latest is None


# --- not found, no prices, routing, search ------------------------------------------------------------------


class TestResolution:
    @pytest.mark.parametrize("path", ["/ticker/320193", "/ticker/0000320193", "/ticker/aapl", "/ticker/AAPL"])
    def test_ticker_or_cik(self, client: TestClient, path: str) -> None:
        soup = _soup(client.get(path))
        assert _text(soup.select_one("[data-testid=ticker]")) == "AAPL"

    def test_unknown_ticker_is_404_with_close_matches(self, client: TestClient) -> None:
        resp = client.get("/ticker/APPL")
        assert resp.status_code == 404
        soup = BeautifulSoup(resp.text, "html.parser")
        assert [a["href"] for a in soup.select("main a[href^='/ticker/']")] == ["/ticker/AAPL"]
        api = client.get("/api/ticker/APPL")
        assert api.status_code == 404
        assert api.json()["suggestions"] == ["AAPL"]

    def test_company_name_suggests_its_ticker(self, client: TestClient) -> None:
        assert client.get("/api/ticker/APPLE").json()["suggestions"] == ["AAPL"]

    def test_hostile_symbol_is_escaped_in_the_404(self, client: TestClient) -> None:
        resp = client.get("/ticker/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        assert resp.status_code == 404
        assert "<script>alert" not in resp.text
        assert BeautifulSoup(resp.text, "html.parser").find_all("script") == []

    def test_search_redirects_on_exact_ticker_or_cik(self, client: TestClient) -> None:
        for q, target in [
            ("aapl", "/ticker/AAPL"),
            ("320193", "/ticker/AAPL"),
            ("0000000101", "/insider/0000000101"),
        ]:
            resp = client.get(f"/search?q={q}", follow_redirects=False)
            assert resp.status_code == 303, q
            assert resp.headers["location"] == target
        assert client.get("/api/search?q=AAPL").json()["redirect_to"] == "/ticker/AAPL"

    def test_search_lists_name_matches(self, client: TestClient) -> None:
        soup = _soup(client.get("/search?q=apple"))
        rows = soup.select("#issuer-results tr[data-issuer]")
        assert [r["data-issuer"] for r in rows] == [AAPL_CIK]
        assert rows[0].select_one("a")["href"] == "/ticker/AAPL"
        soup = _soup(client.get("/search?q=frank"))
        assert soup.select_one("#insider-results a")["href"] == "/insider/0000000106"
        soup = _soup(client.get("/search?q=zzzz"))
        assert soup.select_one("#no-issuers") is not None

    def test_header_has_a_search_box(self, aapl_html: BeautifulSoup) -> None:
        form = aapl_html.select_one("header form[role=search]")
        assert form["action"] == "/search"
        assert form.select_one("input[name=q]") is not None


class TestNoPrices:
    def test_trades_and_news_show_with_a_note(self, client: TestClient) -> None:
        soup = _soup(client.get("/ticker/NOPX?period=all"))
        assert len(soup.select("table#purchases tbody tr[data-transaction]")) == 1
        assert len(soup.select("table#sales tbody tr[data-transaction]")) == 1
        notes = [_text(n) for n in soup.select("[data-testid=note]")]
        assert any(n.startswith("No price data for NOPX") for n in notes)
        assert soup.select_one("#chart") is None
        assert [s.get("src") for s in soup.find_all("script") if s.get("src")] == []
        assert len(soup.select("#news-table tbody tr")) == 1
        data = client.get("/api/ticker/NOPX?period=all").json()
        assert data["series"] is None
        assert data["header"]["prices"]["status"] == "missing"
        assert data["signals"]["weakness"]["status"] == "no_prices"
        assert [m["kind"] for m in data["markers"]["trades"]] == ["buy", "sell"]
        # A non-http news URL is dropped, never linked.
        assert data["markers"]["news"][0]["url"] is None


class TestEscaping:
    def test_hostile_names_are_text(self, client: TestClient) -> None:
        resp = client.get("/ticker/NOPX?period=all")
        soup = _soup(resp)
        scripts = soup.find_all("script")
        assert [s.get("id") for s in scripts] == ["ticker-data"]
        assert HOSTILE not in scripts[0].string  # tojson escapes <, > and &
        assert json.loads(scripts[0].string)["markers"]["trades"][0]["insider"] == f"{HOSTILE} EVIL E"
        assert _text(soup.select_one("[data-testid=company]")) == f"{HOSTILE} NO PRICE CO"
        assert HOSTILE in _text(soup.select_one("table#purchases [data-field=insider]"))
        assert HOSTILE in _text(soup.select_one("#news-table"))
        assert "javascript:" not in resp.text


class TestCsv:
    def test_csv_equals_the_tables(self, client: TestClient, aapl: dict) -> None:
        resp = client.get("/ticker/AAPL/trades.csv?period=all")
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(resp.text)))
        table = aapl["purchases"] + aapl["sales"]
        assert [r["accession"] for r in rows] == [t["accession"] for t in table]
        assert [r["side"] for r in rows] == ["purchase"] * 5 + ["sale"] * 8
        for r, t in zip(rows, table, strict=True):
            assert r["trade_date"] == t["trade_date"]
            assert r["insider"] == t["insider"]
            assert Decimal(r["shares"]) == Decimal(t["shares"])
            assert Decimal(r["value"]) == Decimal(t["value"]).quantize(Decimal("0.01"))
            assert r["flags"] == " ".join(t["flags"])
        frank = next(r for r in rows if r["insider"] == "FRANK F")
        assert frank["delta_own"] == "-0.4"

    def test_csv_neutralizes_formulas(self, client: TestClient) -> None:
        text = client.get("/ticker/NOPX/trades.csv?period=all").text
        assert f"{HOSTILE} EVIL E" in text
        assert "\n=" not in text
