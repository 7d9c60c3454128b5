"""getcurrent Atom feed: parsing the real pages, exact form filtering, hostile XML, paging via the server."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app.config import Settings
from app.errors import EdgarFetchError
from app.ingest.current_feed import (
    FeedEntry,
    FeedFormatError,
    dedupe_by_accession,
    fetch_current_form4,
    parse_current_feed,
)
from app.ingest.sec_client import EdgarClient
from tests.edgar_server import UNAVAILABLE_PAGE, EdgarServer, layout_samples, status

EMPTY_FEED = b"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Latest Filings</title>
<updated>2025-12-12T18:03:57-05:00</updated></feed>
"""


def feed_page(samples_dir: Path, start: int) -> bytes:
    return (samples_dir / "index" / f"getcurrent_type4_start{start}.atom.xml").read_bytes()


def entry(accession: str, role: str, cik: str = "0000000001") -> FeedEntry:
    return FeedEntry(accession, "4", datetime(2025, 1, 1, tzinfo=UTC), cik, "X", role, None, None)


class TestParse:
    def test_first_entry_fields(self, samples_dir: Path) -> None:
        first = parse_current_feed(feed_page(samples_dir, 0))[0]
        assert first == FeedEntry(
            accession="0002063236-25-000004",
            form_type="4",
            # "2025-12-12T18:02:43-05:00" is the acceptance time; stored in UTC.
            updated_at=datetime(2025, 12, 12, 23, 2, 43, tzinfo=UTC),
            cik="0002063236",
            name="Perez Daniel Antonio",
            role="Reporting",
            index_url="https://www.sec.gov/Archives/edgar/data/2063236/000206323625000004/0002063236-25-000004-index.htm",
            filed_date=date(2025, 12, 12),
        )

    def test_every_party_row_is_returned(self, samples_dir: Path) -> None:
        entries = parse_current_feed(feed_page(samples_dir, 0))
        assert len(entries) == 100
        assert Counter(e.role for e in entries) == {"Reporting": 54, "Issuer": 46}
        assert all(e.updated_at.tzinfo is UTC for e in entries)

    def test_type_4_prefix_matches_are_filtered_out(self, samples_dir: Path) -> None:
        page = feed_page(samples_dir, 100)
        everything = parse_current_feed(page, forms=None)
        kept = parse_current_feed(page)
        assert len(everything) == 100
        assert {"424B2", "425", "497K", "485BPOS"} <= {e.form_type for e in everything}
        assert Counter(e.form_type for e in kept) == {"4": 69, "4/A": 2}

    def test_dedupe_keeps_one_row_per_accession_preferring_the_issuer(self, samples_dir: Path) -> None:
        entries = parse_current_feed(feed_page(samples_dir, 0))
        unique = dedupe_by_accession(entries)
        assert len(unique) == len({e.accession for e in entries}) == 46
        assert {e.role for e in unique} == {"Issuer"}
        assert unique[0].accession == entries[0].accession  # first-seen order kept

    def test_dedupe_order_and_preference(self) -> None:
        rows = [
            entry("A", "Reporting"),
            entry("B", "Issuer"),
            entry("A", "Issuer", "0000000002"),
            entry("B", "Reporting"),
        ]
        assert [(e.accession, e.role, e.cik) for e in dedupe_by_accession(rows)] == [
            ("A", "Issuer", "0000000002"),
            ("B", "Issuer", "0000000001"),
        ]

    def test_all_types_feed_and_names_with_parentheses(self, samples_dir: Path) -> None:
        entries = parse_current_feed(
            (samples_dir / "index" / "joeychilson_getcurrent_feed.atom.xml").read_bytes(), None
        )
        assert len(entries) == 40
        assert entries[0].name == "BANK OF MONTREAL /CAN/"
        assert {e.role for e in entries} <= {"Filer", "Reporting", "Issuer", "Subject"}

    def test_html_page_past_the_end_is_not_a_feed(self, samples_dir: Path) -> None:
        html = (samples_dir / "index" / "getcurrent_type4_start5100_last.atom.xml").read_bytes()
        with pytest.raises(FeedFormatError):
            parse_current_feed(html)

    def test_external_entities_are_not_resolved(self, tmp_path: Path) -> None:
        secret = tmp_path / "secret.txt"
        secret.write_text("TOP-SECRET")
        xml = f"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY xxe SYSTEM "file://{secret}">]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry>
<title>4 - &xxe; (0000000001) (Issuer)</title>
<updated>2025-12-12T18:02:43-05:00</updated>
<category term="4"/><id>urn:tag:x,2008:accession-number=0000000001-25-000001</id>
</entry></feed>""".encode()
        entries = parse_current_feed(xml)
        assert "TOP-SECRET" not in repr(entries)

    def test_entry_without_accession_is_skipped(self) -> None:
        xml = b"""<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>4 - X (0000000001) (Issuer)</title>
<updated>2025-12-12T18:02:43-05:00</updated><category term="4"/></entry></feed>"""
        assert parse_current_feed(xml) == []

    def test_wrong_root_is_rejected(self) -> None:
        with pytest.raises(FeedFormatError):
            parse_current_feed(b"<rss><channel/></rss>")


class TestFetch:
    @pytest.fixture
    def client(self, edgar_server: EdgarServer, edgar_settings: Settings, samples_dir: Path) -> EdgarClient:
        layout_samples(edgar_server.root, samples_dir, only=["feed"])
        with EdgarClient(edgar_settings, sleep=lambda _s: None) as c:
            yield c

    def starts(self, server: EdgarServer) -> list[str]:
        return [p.split("start=")[1].split("&")[0] for p in server.paths()]

    def test_pages_until_an_empty_page(
        self, edgar_server: EdgarServer, client: EdgarClient, samples_dir: Path
    ) -> None:
        edgar_server.put_feed_page(200, EMPTY_FEED)
        entries = fetch_current_form4(client)
        assert self.starts(edgar_server) == ["0", "100", "200"]
        expected = parse_current_feed(feed_page(samples_dir, 0)) + parse_current_feed(
            feed_page(samples_dir, 100)
        )
        assert [e.accession for e in entries] == list(dict.fromkeys(e.accession for e in expected))
        assert len(entries) == 81  # one accession appears on both pages (offsets move while paging)
        assert {e.form_type for e in entries} == {"4", "4/A"}
        request = edgar_server.paths()[0]
        assert request.startswith(
            "/cgi-bin/browse-edgar?action=getcurrent&type=4&company=&dateb=&owner=include"
        )
        assert request.endswith("&start=0&count=100&output=atom")

    def test_stops_at_an_accession_seen_in_an_earlier_poll(
        self, edgar_server: EdgarServer, client: EdgarClient
    ) -> None:
        entries = fetch_current_form4(client, known={"0001572985-25-000003"})
        assert self.starts(edgar_server) == ["0"]
        assert len(entries) == 46

    def test_max_pages_bounds_the_walk(self, edgar_server: EdgarServer, client: EdgarClient) -> None:
        fetch_current_form4(client, max_pages=1)
        assert self.starts(edgar_server) == ["0"]

    def test_503_past_the_end_ends_paging(self, edgar_server: EdgarServer, client: EdgarClient) -> None:
        edgar_server.fail(r"start=200&", status(503, UNAVAILABLE_PAGE), repeat_last=True)
        entries = fetch_current_form4(client)
        assert len(entries) == 81
        assert self.starts(edgar_server).count("200") == 2  # a short retry budget past the first page

    def test_failure_on_the_first_page_is_raised(
        self, edgar_server: EdgarServer, client: EdgarClient
    ) -> None:
        edgar_server.fail(r"start=0&", [503], repeat_last=True)
        with pytest.raises(EdgarFetchError):
            fetch_current_form4(client)
