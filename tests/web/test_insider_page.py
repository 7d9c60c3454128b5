"""The insider page, its JSON twin and CSV: trades across companies, roles, routine vs opportunistic, and
the purchase track record vs SPY on real NVDA and SPY prices (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.config import Settings
from app.db import session_scope
from app.ingest.files import ingest_files
from app.main import create_app
from app.services.prices import import_csv
from tests.conftest import require_samples, truncate_all
from tests.factories import Doc, Owner, Tx, form4_xml, submission_txt

HOSTILE = "<script>alert(1)</script>"
NVDA_CIK, OTHR_CIK = "0001045810", "0000888888"
NVDA_CSV = "ml4t-Drookoo__NVDA.daily.1999-01-22-2017-10-31.csv"
SPY_CSV = "ml4t-Drookoo__SPY.daily.1993-01-29-2017-10-27.csv"
JEN = "0000000301"
MARCH_BUYS = {  # the same calendar month six years running: routine from the fourth year on
    "2010-03-05": "17.17",
    "2011-03-07": "20.47",
    "2012-03-05": "14.86",
    "2013-03-05": "12.80",
    "2014-03-05": "18.64",
    "2015-03-05": "22.86",
}


def _doc_file(n: int, owner: Owner, accepted: str, txs: list[Tx], *, issuer: str = NVDA_CIK, **kw: object):  # type: ignore[no-untyped-def]
    accession = f"{owner.cik}-{accepted[2:4]}-{n:06d}"
    ticker, name = ("NVDA", "NVIDIA CORP") if issuer == NVDA_CIK else ("OTHR", "OTHER HOLDINGS")
    doc = Doc(
        issuer_cik=issuer,
        issuer_name=name,
        ticker=ticker,
        owners=[owner],
        period=txs[0].trade_date,
        transactions=txs,
        **kw,  # type: ignore[arg-type]
    )
    return f"{accession}.txt", submission_txt(form4_xml(doc), accession=accession, accepted_at_et=accepted)


def insider_files() -> dict[str, bytes]:
    officer = Owner(JEN, "JEN H", officer=True, title="VP Finance")
    director = Owner(JEN, "JEN H", director=True)
    owner_10 = Owner(JEN, "JEN H", ten_percent=True)
    files = []
    held = 10_000
    for i, (day, price) in enumerate(MARCH_BUYS.items(), start=1):
        held += 1000
        who = officer if i == 1 else director
        accepted = f"{day[:8]}{int(day[8:]) + 1:02d}T10:00:00"
        files.append(
            _doc_file(i, who, accepted, [Tx(shares="1000", price=price, trade_date=day, after=str(held))])
        )
    # Filed after the close: the public enters at the next day's open (2015-06-02).
    files.append(
        _doc_file(
            7,
            director,
            "2015-06-01T17:30:00",
            [Tx(shares="2000", price="22.38", trade_date="2015-06-01", after="18000")],
        )
    )
    files.append(
        _doc_file(
            8,
            director,
            "2016-03-02T10:00:00",
            [Tx(code="A", shares="500", price="0", trade_date="2016-03-01", after="18500")],
        )
    )
    files.append(
        _doc_file(
            9,
            director,
            "2016-08-02T10:00:00",
            [
                Tx(
                    code="S",
                    acquired_disposed="D",
                    shares="3700",
                    price="56.73",
                    trade_date="2016-08-01",
                    after="14800",
                )
            ],
        )
    )
    files.append(
        _doc_file(
            10,
            director,
            "2016-12-02T10:00:00",
            [
                Tx(
                    code="G",
                    acquired_disposed="D",
                    shares="100",
                    price=None,
                    trade_date="2016-12-01",
                    after="14700",
                )
            ],
        )
    )
    files.append(
        _doc_file(
            11,
            owner_10,
            "2016-09-02T10:00:00",
            [Tx(shares="5000", price="4.00", trade_date="2016-09-01", after="500000")],
            issuer=OTHR_CIK,
        )
    )
    files.append(
        _doc_file(
            1,
            Owner("0000000302", f"{HOSTILE} MALLORY", director=True),
            "2016-09-06T10:00:00",
            [Tx(shares="10", price="4.00", trade_date="2016-09-02", after="20")],
            issuer=OTHR_CIK,
        )
    )
    return dict(files)


@pytest.fixture(scope="module")
def client(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    samples = require_samples()
    truncate_all(engine)
    folder: Path = tmp_path_factory.mktemp("insider")
    for name, data in insider_files().items():
        (folder / name).write_bytes(data)
    report = ingest_files([folder], engine=engine, max_bytes=5_000_000)
    assert report.rejected == 0, report.rejections
    with session_scope(engine) as s:
        import_csv(s, samples / "prices" / NVDA_CSV, "NVDA")
        import_csv(s, samples / "prices" / SPY_CSV, "SPY")
    url = engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(Settings(database_url=url))) as test_client:
        yield test_client
    truncate_all(engine)


@pytest.fixture(scope="module")
def jen(client: TestClient) -> dict:
    resp = client.get(f"/api/insider/{JEN}")
    assert resp.status_code == 200, resp.text[:500]
    return resp.json()


def _bars(name: str) -> tuple[list[str], list[dict[str, float]]]:
    with (require_samples() / "prices" / name).open() as f:
        rows = list(csv.DictReader(f))
    return [r["Date"] for r in rows], [{k: float(v) for k, v in r.items() if k != "Date"} for r in rows]


def _expected(entry_day: str, trade_day: str, days: int) -> tuple[float, float, float, float]:
    """Independent reading of the CSVs: (stock, excess) from the entry open and from the trade-date close."""
    nd, nb = _bars(NVDA_CSV)
    sd, sb = _bars(SPY_CSV)

    def adj_open(b: dict[str, float]) -> float:
        return b["Open"] * b["Adj Close"] / b["Close"]

    i = nd.index(entry_day)
    exit_day = nd[i + days]
    stock = nb[i + days]["Adj Close"] / adj_open(nb[i]) - 1
    spy = sb[sd.index(exit_day)]["Adj Close"] / adj_open(sb[sd.index(entry_day)]) - 1
    t = nd.index(trade_day)
    insider = nb[t + days]["Adj Close"] / nb[t]["Adj Close"] - 1
    insider_spy = sb[sd.index(nd[t + days])]["Adj Close"] / sb[sd.index(trade_day)]["Adj Close"] - 1
    return stock, stock - spy, insider, insider - insider_spy


class TestInsiderPage:
    def test_companies_and_roles(self, jen: dict) -> None:
        assert jen["name"] == "JEN H"
        companies = {c["ticker"]: c for c in jen["companies"]}
        assert companies["NVDA"]["roles"] == ["officer", "director"]
        assert companies["NVDA"]["latest_roles"] == ["director"]
        assert companies["NVDA"]["n_filings"] == 10
        assert companies["OTHR"]["roles"] == ["ten_percent_owner"]

    def test_trades_across_companies_newest_first_and_paginated(self, client: TestClient, jen: dict) -> None:
        assert jen["total_trades"] == 11
        assert [t["trade_date"] for t in jen["trades"][:4]] == [
            "2016-12-01",
            "2016-09-01",
            "2016-08-01",
            "2016-03-01",
        ]
        assert jen["trades"][1]["ticker"] == "OTHR"
        page2 = client.get(f"/api/insider/{JEN}?page=2&page_size=10").json()
        assert (page2["page"], page2["pages"]) == (2, 2)
        assert [t["trade_date"] for t in page2["trades"]] == ["2010-03-05"]
        soup = BeautifulSoup(client.get(f"/insider/{JEN}?page_size=10").text, "html.parser")
        assert len(soup.select("#insider-trades tbody tr[data-transaction]")) == 10
        assert soup.select_one("a[rel=next]")["href"] == f"/insider/{JEN}?page=2&page_size=10#trades"

    def test_routine_vs_opportunistic(self, jen: dict) -> None:
        pattern = {t["trade_date"]: t["pattern"] for t in jen["trades"]}
        assert [pattern[d] for d in MARCH_BUYS] == ["opportunistic"] * 3 + ["routine"] * 3
        assert pattern["2015-06-01"] == "opportunistic"
        assert pattern["2016-08-01"] == "opportunistic"  # a sale is classified too
        assert pattern["2016-03-01"] is None  # a grant is not an open-market trade
        assert pattern["2016-12-01"] is None
        assert (jen["n_routine"], jen["n_opportunistic"]) == (3, 6)

    def test_track_record_from_the_first_open_after_filing(self, jen: dict) -> None:
        row = next(t for t in jen["track_record"] if t["trade_date"] == "2015-06-01")
        one_month = next(h for h in row["horizons"] if h["horizon"] == "1m")
        assert one_month["status"] == "done"
        assert one_month["entry_date"] == "2015-06-02"  # accepted 17:30 ET: next day's open
        stock, excess, insider, insider_excess = _expected("2015-06-02", "2015-06-01", 21)
        assert one_month["stock_return"] == pytest.approx(stock, abs=2e-6)
        assert one_month["excess"] == pytest.approx(excess, abs=2e-6)
        assert one_month["insider_return"] == pytest.approx(insider, abs=2e-6)
        assert one_month["insider_excess"] == pytest.approx(insider_excess, abs=2e-6)
        assert [h["horizon"] for h in row["horizons"]] == ["1m", "3m", "6m"]

    def test_summary_and_no_price_rows(self, jen: dict) -> None:
        assert len(jen["track_record"]) == 8
        othr = next(t for t in jen["track_record"] if t["ticker"] == "OTHR")
        assert {h["status"] for h in othr["horizons"]} == {"no_prices"}
        summary = {s["horizon"]: s for s in jen["track_summary"]}
        measured = [
            next(h for h in t["horizons"] if h["horizon"] == "1m")["excess"]
            for t in jen["track_record"]
            if t["ticker"] == "NVDA"
        ]
        assert summary["1m"]["n"] == 7
        assert summary["1m"]["mean_excess"] == pytest.approx(sum(measured) / 7, abs=1e-6)
        assert summary["1m"]["hit_rate"] == pytest.approx(sum(1 for x in measured if x > 0) / 7, abs=1e-6)

    def test_html_matches_the_json(self, client: TestClient, jen: dict) -> None:
        soup = BeautifulSoup(client.get(f"/insider/{JEN}").text, "html.parser")
        assert soup.select_one("[data-testid=name]").get_text() == "JEN H"
        rows = soup.select("#insider-trades tbody tr[data-transaction]")
        assert [int(r["data-transaction"]) for r in rows] == [t["transaction_id"] for t in jen["trades"]]
        assert rows[0].select_one("[data-field=ticker] a")["href"] == "/ticker/NVDA"
        assert len(soup.select("#track tbody tr[data-accession]")) == 8
        patterns = [
            r.select_one("[data-field=pattern]").get_text(strip=True) for r in soup.select("#track tbody tr")
        ]
        assert patterns.count("routine") == 3
        assert soup.select_one("#track-summary tr[data-horizon='1m']") is not None

    def test_csv_equals_the_table(self, client: TestClient, jen: dict) -> None:
        resp = client.get(f"/insider/{JEN}/trades.csv")
        assert resp.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(resp.text)))
        assert [r["accession"] for r in rows] == [t["accession"] for t in jen["trades"]]
        assert [r["pattern"] for r in rows] == [t["pattern"] or "" for t in jen["trades"]]
        assert [r["code"] for r in rows][:4] == ["G", "P", "S", "A"]

    @pytest.mark.parametrize(
        ("path", "status"),
        [
            pytest.param("/insider/301", 200, id="short-cik"),
            pytest.param("/insider/0000999999", 404, id="unknown"),
            pytest.param("/insider/jen", 404, id="not-a-cik"),
            pytest.param("/api/insider/0000999999", 404, id="api-unknown"),
            pytest.param(f"/insider/{JEN}?page=0", 422, id="bad-page"),
        ],
    )
    def test_routing_and_errors(self, client: TestClient, path: str, status: int) -> None:
        assert client.get(path).status_code == status

    def test_hostile_name_is_escaped(self, client: TestClient) -> None:
        resp = client.get("/insider/0000000302")
        assert resp.status_code == 200
        soup = BeautifulSoup(resp.text, "html.parser")
        assert soup.find_all("script") == []
        assert soup.select_one("[data-testid=name]").get_text() == f"{HOSTILE} MALLORY"


def test_as_of_cuts_the_track_record(engine: Engine, client: TestClient) -> None:
    from app.services import insider_page as insider_page_service

    with session_scope(engine) as s:
        page = insider_page_service.build_insider_page(s, JEN, today=date(2015, 6, 20))
    row = next(t for t in page.track_record if t.trade_date == date(2015, 6, 1))
    assert {h.status for h in row.horizons} == {"open"}  # nothing after as_of is read
