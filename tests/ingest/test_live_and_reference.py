"""Live feed polling and reference data refreshes against the local EDGAR server (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, select

from app.config import Settings
from app.db import session_scope
from app.ingest import form4_parser
from app.ingest.files import store_with_retry
from app.ingest.live import FEED_CHECKPOINT, poll_current
from app.ingest.reference_sync import refresh_issuers, refresh_tickers
from app.ingest.sec_client import EdgarClient
from app.models import Filing, Issuer, IssuerTicker, NewsEvent
from app.repositories import ops as ops_repo
from tests.edgar_server import EdgarServer, layout_samples
from tests.factories import Owner, purchase_filing
from tests.ingest.mirror import MirrorFiling, document, feed_xml

DAY = date(2024, 3, 6)


def _filing(i: int) -> MirrorFiling:
    return MirrorFiling(
        f"0000{700000 + i}-24-{i:06d}", "0000004444", f"{6000 + i:010d}", DAY, f"2024-03-06T10:0{i}:00"
    )


def _entry(f: MirrorFiling, form: str = "4", minute: int = 0) -> tuple[str, str, str, str, str]:
    return (f.accession, form, f.issuer_cik, "Issuer", f"2024-03-06T10:{minute:02d}:00-05:00")


class TestPollCurrent:
    def test_new_feed_filings_are_stored_once_and_remembered(
        self, clean_engine: Engine, edgar_server: EdgarServer, edgar_settings: Settings
    ) -> None:
        a, b, c = (_filing(i) for i in range(3))
        for f in (a, b, c):
            edgar_server.put(f.path, document(f))
        # Newest first; a 424B2 entry shows that the `type=4` prefix filter is re-applied exactly.
        prefix_noise = ("0000999999-24-000001", "424B2", "0000004444", "Filer", "2024-03-06T10:05:00-05:00")
        edgar_server.put_feed_page(0, feed_xml([prefix_noise, _entry(b, minute=4), _entry(a, "4/A", 3)]))
        with EdgarClient(edgar_settings) as client:
            first = poll_current(client, clean_engine)
            archive_after_first = [p for p in edgar_server.paths() if p.startswith("/Archives/")]
            # Next poll: one more filing on top of the feed; only it is fetched.
            edgar_server.put_feed_page(
                0, feed_xml([_entry(c, minute=6), _entry(b, minute=4), _entry(a, "4/A", 3)])
            )
            second = poll_current(client, clean_engine)
        assert (first.new, first.filings.stored) == (2, 2)
        assert sorted(archive_after_first) == sorted([a.path, b.path])
        assert (second.new, second.filings.stored) == (1, 1)
        assert [p for p in edgar_server.paths() if p.startswith("/Archives/")][2:] == [c.path]
        with session_scope(clean_engine) as s:
            assert set(s.scalars(select(Filing.accession))) == {a.accession, b.accession, c.accession}
            known = ops_repo.get_checkpoint(s, FEED_CHECKPOINT)
        assert known is not None
        assert known["known"][:3] == [c.accession, b.accession, a.accession]


class TestReferenceData:
    def test_tickers_set_current_listing_and_keep_history(
        self, clean_engine: Engine, edgar_server: EdgarServer, edgar_settings: Settings, samples_dir: Path
    ) -> None:
        layout_samples(edgar_server.root, samples_dir, only=["tickers"])
        with EdgarClient(edgar_settings) as client:
            first = refresh_tickers(client, clean_engine, today=date(2026, 1, 5))
            # A day later Apple trades under a new symbol and leaves the NYSE for CBOE (made up).
            edgar_server.put(
                "/files/company_tickers_exchange.json",
                json.dumps(
                    {
                        "fields": ["cik", "name", "ticker", "exchange"],
                        "data": [[320193, "Apple Inc.", "APLE2", "CBOE"]],
                    }
                ),
            )
            refresh_tickers(client, clean_engine, today=date(2026, 1, 6))
        assert first.rows > 10_000 - 100
        with session_scope(clean_engine) as s:
            apple = s.get(Issuer, "0000320193")
            nvda = s.get(Issuer, "0001045810")
            history = {
                t.ticker: (t.first_seen_date, t.last_seen_date)
                for t in s.scalars(select(IssuerTicker).where(IssuerTicker.issuer_cik == "0000320193"))
            }
        assert apple is not None
        assert (apple.ticker, apple.exchange) == ("APLE2", "CBOE")
        assert nvda is not None
        assert (nvda.ticker, nvda.exchange) == ("NVDA", "Nasdaq")
        assert history == {
            "AAPL": (date(2026, 1, 5), date(2026, 1, 5)),
            "APLE2": (date(2026, 1, 6), date(2026, 1, 6)),
        }

    def test_issuers_with_purchases_get_sector_and_8k_events(
        self, clean_engine: Engine, edgar_server: EdgarServer, edgar_settings: Settings, samples_dir: Path
    ) -> None:
        layout_samples(edgar_server.root, samples_dir, only=["submissions"])
        body = purchase_filing(
            "0000700001-24-000001",
            "2024-03-06T10:00:00",
            owners=[Owner("0000006001", officer=True, title="CEO")],
            trade_date="2024-03-05",
            issuer_cik="0000320193",
            ticker="AAPL",
        )
        store_with_retry(clean_engine, form4_parser.parse(body), source="submission", source_ref="test")
        with EdgarClient(edgar_settings) as client:
            report = refresh_issuers(client, clean_engine, since_days=100_000)
            again = refresh_issuers(client, clean_engine, since_days=100_000)
        assert (report.refreshed, report.failed) == (1, 0)
        assert again.candidates == 0  # refreshed within the day: not requested again
        with session_scope(clean_engine) as s:
            apple = s.get(Issuer, "0000320193")
            events = list(s.scalars(select(NewsEvent).where(NewsEvent.issuer_cik == "0000320193")))
        assert apple is not None
        assert (apple.sic, apple.sector, apple.exchange) == (3571, "Technology", "Nasdaq")
        assert len(events) == report.events == 107
        earnings = [e for e in events if e.items and "2.02" in e.items.split(",")]
        assert earnings
        assert all(e.source == "8-K" and e.url and e.title and e.title.startswith("8-K") for e in earnings)
