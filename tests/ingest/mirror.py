"""Build EDGAR-layout mirror content for ingest tests: daily form indexes, current-feed pages and full
submissions (written for the tests with tests.factories) at their sec.gov paths."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape

from tests.edgar_server import EdgarServer
from tests.factories import Owner, purchase_filing

INDEX_HEADER = """Description:           Daily Index of EDGAR Dissemination Feed by Form Type
Last Data Received:    {day:%b %d, %Y}
Comments:              webmaster@sec.gov
Anonymous FTP:         ftp://ftp.sec.gov/edgar/

Form Type   Company Name                                                  CIK         Date Filed  File Name
---------------------------------------------------------------------------------------------------------------------------------------------
"""


@dataclass(frozen=True)
class MirrorFiling:
    accession: str
    issuer_cik: str
    owner_cik: str
    day: date
    accepted_at_et: str  # ISO, US/Eastern wall clock
    ticker: str = "EXMP"

    @property
    def path(self) -> str:
        return f"/Archives/edgar/data/{int(self.issuer_cik)}/{self.accession}.txt"


def index_text(day: date, rows: Iterable[tuple[str, str, str, str]]) -> str:
    """A form.YYYYMMDD.idx with rows (form type, company, CIK, accession), 2020 column widths."""
    lines = [
        f"{form:<12}{company:<62}{int(cik):<12}{day:%Y%m%d}    edgar/data/{int(cik)}/{acc}.txt"
        for form, company, cik, acc in rows
    ]
    return INDEX_HEADER.format(day=day) + "\n".join(lines) + "\n"


def publish_day(
    server: EdgarServer, day: date, filings: list[MirrorFiling], *, missing: Iterable[str] = ()
) -> None:
    """Write a day's index (each filing listed once per party, as EDGAR does) and its documents.

    Accessions in `missing` are listed but have no document (the server answers 404)."""
    absent = set(missing)
    rows = []
    for f in filings:
        rows.append(("4", "EXAMPLE ISSUER", f.issuer_cik, f.accession))
        rows.append(("4", "DOE JANE", f.owner_cik, f.accession))
        if f.accession not in absent:
            # EDGAR serves the submission under every party's CIK folder.
            body = document(f)
            server.put(f.path, body)
            server.put(f"/Archives/edgar/data/{int(f.owner_cik)}/{f.accession}.txt", body)
    rows.sort(key=lambda r: (r[0], r[1]))
    server.put_daily_index(day, index_text(day, rows))


def document(f: MirrorFiling) -> bytes:
    """The full submission of one open-market purchase."""
    return purchase_filing(
        f.accession,
        f.accepted_at_et,
        owners=[Owner(f.owner_cik, officer=True, title="Chief Executive Officer")],
        trade_date=f.day.isoformat(),
        # Distinct sizes: identical blocks on one day would count once as one ownership chain (DESIGN §2).
        shares=str(1000 + int(f.owner_cik) % 997),
        issuer_cik=f.issuer_cik,
        ticker=f.ticker,
    )


def feed_xml(entries: Iterable[tuple[str, str, str, str, str]]) -> str:
    """A getcurrent Atom page; entries are (accession, form type, CIK, role, updated ISO with offset)."""
    parts = [
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<feed xmlns="http://www.w3.org/2005/Atom">',
        "<title>Latest Filings</title><updated>2024-03-06T18:03:57-05:00</updated>",
    ]
    for acc, form, cik, role, updated in entries:
        folder = acc.replace("-", "")
        parts.append(
            f"<entry><title>{escape(form)} - SOME NAME ({cik}) ({role})</title>"
            f'<link rel="alternate" type="text/html" href="https://www.sec.gov/Archives/edgar/data/'
            f'{int(cik)}/{folder}/{acc}-index.htm"/>'
            f'<summary type="html"> &lt;b&gt;Filed:&lt;/b&gt; {updated[:10]} &lt;b&gt;AccNo:&lt;/b&gt; {acc}'
            f"</summary><updated>{updated}</updated>"
            f'<category scheme="https://www.sec.gov/" label="form type" term="{escape(form)}"/>'
            f"<id>urn:tag:sec.gov,2008:accession-number={acc}</id></entry>"
        )
    parts.append("</feed>\n")
    return "\n".join(parts)


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """Largest number of timestamps inside any half-open window [t, t + window)."""
    times = sorted(times)
    best = 0
    j = 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best
