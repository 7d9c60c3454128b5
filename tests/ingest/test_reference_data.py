"""Ticker map, submissions JSON (issuer metadata + 8-K events), SIC → sector and 8-K items, on real files."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app.config import Settings
from app.ingest.reference_data import (
    EIGHT_K_ITEMS,
    SECTORS,
    SIC_SECTORS,
    EightKFiling,
    ReferenceDataError,
    fetch_company_tickers_exchange,
    fetch_submissions,
    parse_company_tickers_exchange,
    parse_submissions,
    parse_submissions_page,
    sic_to_sector,
)
from app.ingest.sec_client import EdgarClient
from app.ingest.urls import EdgarUrls
from tests.edgar_server import EdgarServer, layout_samples

MIRROR = EdgarUrls("http://mirror.test", "http://data.mirror.test")


def submissions_file(samples_dir: Path, name: str) -> bytes:
    return (samples_dir / "index" / "submissions" / name).read_bytes()


def all_submissions(samples_dir: Path) -> list[Path]:
    return sorted(
        p for p in (samples_dir / "index" / "submissions").glob("CIK0*.json") if "-submissions-" not in p.name
    )


class TestTickers:
    def test_real_company_tickers_exchange(self, samples_dir: Path) -> None:
        rows = parse_company_tickers_exchange(
            (samples_dir / "index" / "company_tickers_exchange.json").read_bytes()
        )
        assert len(rows) == 10069
        assert (rows[0].cik, rows[0].ticker, rows[0].exchange) == ("0001045810", "NVDA", "Nasdaq")
        assert Counter(r.exchange for r in rows) == {
            "Nasdaq": 4093,
            "NYSE": 3267,
            "OTC": 2517,
            None: 166,
            "CBOE": 26,
        }
        brk = [r for r in rows if r.cik == "0001067983"]
        assert {r.ticker for r in brk} >= {"BRK-B", "BRK-A"}  # share classes keep SEC's dash

    def test_columns_are_read_by_name(self) -> None:
        doc = {
            "fields": ["ticker", "exchange", "cik", "name"],
            "data": [["aapl", None, 320193, "Apple Inc."]],
        }
        (row,) = parse_company_tickers_exchange(json.dumps(doc).encode())
        assert (row.cik, row.name, row.ticker, row.exchange) == ("0000320193", "Apple Inc.", "AAPL", None)

    @pytest.mark.parametrize("body", [b"[]", b"{}", b"not json", b'{"fields": ["cik"], "data": []}'])
    def test_wrong_shapes_are_rejected(self, body: bytes) -> None:
        with pytest.raises(ReferenceDataError):
            parse_company_tickers_exchange(body)


class TestSubmissions:
    def test_issuer_metadata(self, samples_dir: Path) -> None:
        apple = parse_submissions(submissions_file(samples_dir, "CIK0000320193.json"), MIRROR)
        assert (apple.cik, apple.name, apple.sic, apple.sic_description) == (
            "0000320193",
            "Apple Inc.",
            3571,
            "Electronic Computers",
        )
        assert (apple.tickers, apple.exchanges, apple.state, apple.sector) == (
            ["AAPL"],
            ["Nasdaq"],
            "CA",
            "Technology",
        )
        assert apple.more_pages == ["CIK0000320193-submissions-001.json"]

    def test_eight_k_filings(self, samples_dir: Path) -> None:
        apple = parse_submissions(submissions_file(samples_dir, "CIK0000320193.json"), MIRROR)
        assert apple.eight_k[0] == EightKFiling(
            accession="0001140361-26-006577",
            form="8-K",
            filed_date=date(2026, 2, 24),
            accepted_at=datetime(2026, 2, 24, 16, 55, 58, tzinfo=UTC),
            items=["5.07", "9.01"],
            primary_document="ef20060722_8k.htm",
            url="http://mirror.test/Archives/edgar/data/320193/000114036126006577/ef20060722_8k.htm",
        )
        assert Counter(f.form for f in apple.eight_k) == {"8-K": 106, "8-K/A": 1}

    def test_every_sample_matches_a_direct_count(self, samples_dir: Path) -> None:
        seen_items: set[str] = set()
        for path in all_submissions(samples_dir):
            raw = json.loads(path.read_bytes())
            recent = raw["filings"]["recent"]
            expected = [
                a
                for a, f in zip(recent["accessionNumber"], recent["form"], strict=True)
                if f in ("8-K", "8-K/A")
            ]
            meta = parse_submissions(path.read_bytes())
            assert [f.accession for f in meta.eight_k] == expected, path.name
            assert meta.cik == f"{int(raw['cik']):010d}"
            seen_items.update(item for f in meta.eight_k for item in f.items)
        assert seen_items <= EIGHT_K_ITEMS.keys()  # every item code filed in the samples has a description

    def test_unpadded_cik_in_older_copies(self, samples_dir: Path) -> None:
        meta = parse_submissions(
            submissions_file(samples_dir, "CIK0000320193.follow-insider_apple-submission.json")
        )
        assert meta.cik == "0000320193"
        assert meta.eight_k[0].url.startswith("https://www.sec.gov/Archives/edgar/data/320193/")

    def test_individual_owner_has_no_sic(self, samples_dir: Path) -> None:
        buffett = parse_submissions(submissions_file(samples_dir, "CIK0000315090.json"))
        assert (buffett.sic, buffett.sector, buffett.state, buffett.tickers, buffett.eight_k) == (
            None,
            "Unknown",
            None,
            [],
            [],
        )

    def test_overflow_page(self, samples_dir: Path) -> None:
        rows = parse_submissions_page(
            submissions_file(samples_dir, "CIK0001318605-submissions-001.json"), 1318605
        )
        assert len(rows) == 116
        assert all(r.url and "/Archives/edgar/data/1318605/" in r.url for r in rows)

    def test_error_body_is_rejected(self, samples_dir: Path) -> None:
        with pytest.raises(ReferenceDataError):
            parse_submissions(submissions_file(samples_dir, "CIK-000000001.error.json"))


class TestFetch:
    def test_fetch_from_the_mirror(
        self, edgar_server: EdgarServer, edgar_settings: Settings, samples_dir: Path
    ) -> None:
        layout_samples(edgar_server.root, samples_dir, only=["tickers", "submissions"])
        with EdgarClient(edgar_settings) as client:
            assert len(fetch_company_tickers_exchange(client)) == 10069
            meta = fetch_submissions(client, "320193")
            assert meta is not None
            assert meta.name == "Apple Inc."
            assert meta.eight_k[0].url.startswith(edgar_server.base_url + "/Archives/edgar/data/320193/")
            assert fetch_submissions(client, 999999999) is None
        assert edgar_server.paths() == [
            "/files/company_tickers_exchange.json",
            "/submissions/CIK0000320193.json",
            "/submissions/CIK0999999999.json",
        ]


class TestSectors:
    @pytest.mark.parametrize(
        ("sic", "sector"),
        [
            (2834, "Health Care"),  # pharmaceutical preparations (Pfizer)
            (2836, "Health Care"),  # biological products (Recursion)
            (3841, "Health Care"),
            (3571, "Technology"),  # electronic computers (Apple)
            (3674, "Technology"),  # semiconductors (NVIDIA)
            (7372, "Technology"),  # prepackaged software (Microsoft)
            (3711, "Consumer Discretionary"),  # motor vehicles (Tesla)
            (6022, "Financials"),  # state commercial banks
            (6770, "Financials"),  # blank checks
            (6798, "Real Estate"),  # REITs
            (4911, "Utilities"),
            (1311, "Energy"),
            (2911, "Energy"),
            (1381, "Energy"),
            (4922, "Energy"),
            (2844, "Consumer Staples"),
            (5331, "Consumer Staples"),
            (4813, "Communication Services"),
            (3720, "Industrials"),
            (1000, "Materials"),
            ("2834", "Health Care"),
            (9995, "Other"),
            (None, "Unknown"),
            ("", "Unknown"),
        ],
    )
    def test_sic_to_sector(self, sic: int | str | None, sector: str) -> None:
        assert sic_to_sector(sic) == sector

    def test_table_is_well_formed(self) -> None:
        assert all(0 < lo <= hi <= 9999 for lo, hi, _ in SIC_SECTORS)
        assert set(SECTORS) == {s for _, _, s in SIC_SECTORS} | {"Other", "Unknown"}

    def test_eight_k_items_cover_the_common_codes(self) -> None:
        for code in ("1.01", "1.02", "2.01", "2.02", "2.03", "3.01", "5.02", "5.07", "7.01", "8.01", "9.01"):
            assert EIGHT_K_ITEMS[code]
