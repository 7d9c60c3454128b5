"""Every EDGAR URL layout the app uses, built from Settings (the only module that knows sec.gov paths).

Layouts follow reference/edgar-protocol.md §1.2 and §3. The base URLs are configurable so a local mirror
(or the test server) can stand in for https://www.sec.gov and https://data.sec.gov.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote, urlsplit

from app.config import Settings

PUBLIC_BASE_URL = "https://www.sec.gov"
PUBLIC_DATA_BASE_URL = "https://data.sec.gov"

# Archive documents live under this prefix and never change once disseminated (cacheable forever).
ARCHIVE_DATA_PREFIX = "/Archives/edgar/data/"

_ACCESSION_RE = re.compile(r"^(\d{10})-?(\d{2})-?(\d{6})$")
# Page sizes getcurrent accepts; anything else silently falls back to 40 (protocol §2.3).
FEED_PAGE_SIZES = (10, 20, 40, 80, 100)


def normalize_accession(accession: str) -> str:
    """Return an accession number in dashed form (0001127602-25-001055); accept with or without dashes."""
    m = _ACCESSION_RE.match(accession.strip())
    if not m:
        raise ValueError(f"not an accession number: {accession!r}")
    return "-".join(m.groups())


def accession_folder(accession: str) -> str:
    """Return the accession without dashes, as used for the filing folder name."""
    return normalize_accession(accession).replace("-", "")


def cik_int(cik: int | str) -> int:
    """Return a CIK as an int (archive paths use it unpadded)."""
    value = int(str(cik).strip())
    if value <= 0 or value > 9_999_999_999:
        raise ValueError(f"not a CIK: {cik!r}")
    return value


def cik10(cik: int | str) -> str:
    """Return a CIK zero-padded to 10 digits (data.sec.gov and the Form 4 contract use this form)."""
    return f"{cik_int(cik):010d}"


def quarter_of(day: date) -> int:
    """Return the calendar quarter (1-4) that holds `day`; EDGAR folders are QTR1..QTR4."""
    return (day.month - 1) // 3 + 1


@dataclass(frozen=True, slots=True)
class EdgarUrls:
    """URL builder bound to one pair of base URLs (www host for archives, data host for JSON APIs)."""

    base_url: str = PUBLIC_BASE_URL
    data_base_url: str = PUBLIC_DATA_BASE_URL

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgarUrls:
        """Build from Settings.edgar_base_url / edgar_data_base_url."""
        return cls(settings.edgar_base_url.rstrip("/"), settings.edgar_data_base_url.rstrip("/"))

    # --- discovery -------------------------------------------------------------------------------
    def daily_index(self, day: date, kind: str = "form") -> str:
        """Return the daily index URL (`kind` is form, master, company or crawler)."""
        return (
            f"{self.base_url}/Archives/edgar/daily-index/{day.year}/QTR{quarter_of(day)}/"
            f"{kind}.{day:%Y%m%d}.idx"
        )

    def current_feed(self, *, start: int = 0, count: int = 100, form_type: str = "4") -> str:
        """Return the getcurrent Atom feed URL; `type` is a prefix filter, so callers must re-filter."""
        if count not in FEED_PAGE_SIZES:
            raise ValueError(f"getcurrent count must be one of {FEED_PAGE_SIZES}, got {count}")
        if start < 0:
            raise ValueError("start must be >= 0")
        return (
            f"{self.base_url}/cgi-bin/browse-edgar?action=getcurrent&type={quote(form_type)}"
            f"&company=&dateb=&owner=include&start={start}&count={count}&output=atom"
        )

    # --- filings ---------------------------------------------------------------------------------
    def full_submission(self, cik: int | str, accession: str) -> str:
        """Return the full submission text (SGML header + documents): one request per filing."""
        return f"{self.base_url}{ARCHIVE_DATA_PREFIX}{cik_int(cik)}/{normalize_accession(accession)}.txt"

    def from_index_path(self, file_name: str) -> str:
        """Return the URL of a daily/full index `File Name` column (`edgar/data/{cik}/{acc}.txt`)."""
        path = file_name.strip().lstrip("/")
        if not path.startswith("edgar/") or ".." in path.split("/"):
            raise ValueError(f"unexpected index file name: {file_name!r}")
        return f"{self.base_url}/Archives/{path}"

    def filing_folder(self, cik: int | str, accession: str) -> str:
        """Return the filing folder URL (with trailing slash)."""
        return f"{self.base_url}{ARCHIVE_DATA_PREFIX}{cik_int(cik)}/{accession_folder(accession)}/"

    def filing_index(self, cik: int | str, accession: str) -> str:
        """Return the human filing index page (`{acc}-index.htm`), the page the Atom feed links to."""
        return f"{self.filing_folder(cik, accession)}{normalize_accession(accession)}-index.htm"

    def filing_document(self, cik: int | str, accession: str, document: str) -> str:
        """Return the URL of one document in a filing folder (e.g. an 8-K's primary document)."""
        doc = document.strip().lstrip("/")
        if not doc or ".." in doc.split("/"):
            raise ValueError(f"unexpected document name: {document!r}")
        return f"{self.filing_folder(cik, accession)}{quote(doc)}"

    # --- reference data --------------------------------------------------------------------------
    def company_tickers_exchange(self) -> str:
        """Return the ticker/CIK/exchange map (`{"fields": [...], "data": [[...]]}`)."""
        return f"{self.base_url}/files/company_tickers_exchange.json"

    def company_tickers(self) -> str:
        """Return the plain ticker/CIK map (dict keyed by row number)."""
        return f"{self.base_url}/files/company_tickers.json"

    def submissions(self, cik: int | str) -> str:
        """Return the data.sec.gov submissions JSON for one entity."""
        return f"{self.data_base_url}/submissions/CIK{cik10(cik)}.json"

    def submissions_page(self, name: str) -> str:
        """Return an overflow submissions page named in `filings.files` (CIK…-submissions-001.json)."""
        if not re.fullmatch(r"CIK\d{10}-submissions-\d{3}\.json", name):
            raise ValueError(f"unexpected submissions page name: {name!r}")
        return f"{self.data_base_url}/submissions/{name}"

    # --- classification --------------------------------------------------------------------------
    def archive_cache_path(self, url: str) -> str | None:
        """Return the relative cache path for an immutable archive document, or None if not cacheable."""
        parts = urlsplit(url)
        if parts.query or not parts.path.startswith(ARCHIVE_DATA_PREFIX):
            return None
        segments = parts.path.lstrip("/").split("/")
        # Only a filing's own files: data/{cik}/{acc}.txt or data/{cik}/{folder}/{file...}; never a listing.
        if any(s in ("", ".", "..") for s in segments) or len(segments) < 5:
            return None
        return "/".join(segments)
