"""EDGAR daily index files (`form.YYYYMMDD.idx` and kin): a pure parser plus a thin fetcher.

The index is the end-of-day authority for discovery; each Form 4 appears once per party, so callers
deduplicate on the accession number (protocol §2.1).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from app.errors import EdgarNotFound
from app.ingest.urls import cik10, normalize_accession

if TYPE_CHECKING:
    from app.ingest.sec_client import EdgarClient

log = logging.getLogger(__name__)

FORM4_TYPES = ("4", "4/A")

_DASHES_RE = re.compile(r"^-{20,}\s*$")
_GAP_RE = re.compile(r"\s{2,}")


class IndexFormatError(ValueError):
    """The text is not an EDGAR index (no dashed separator line)."""


@dataclass(frozen=True, slots=True)
class IndexEntry:
    form_type: str
    company_name: str
    cik: str  # 10 digits, zero padded (the issuer's or one reporting owner's: one row per party)
    date_filed: date
    file_name: str  # as listed: edgar/data/{cik}/{accession}.txt
    accession: str  # dashed, from the file name


def parse_form_index(text: str) -> list[IndexEntry]:
    """Parse a daily/quarterly form, company or master index into entries, in file order."""
    lines = text.splitlines()
    sep = next((i for i, line in enumerate(lines) if _DASHES_RE.match(line)), None)
    if sep is None:
        raise IndexFormatError("no dashed separator line: not an EDGAR index file")
    header = "\n".join(lines[:sep])
    piped = "CIK|" in header  # master.idx: CIK|Company Name|Form Type|Date Filed|File Name
    company_first = _company_column_first(header)
    split_at = _header_offset(lines[:sep], "Form Type" if company_first else "Company Name")

    entries: list[IndexEntry] = []
    for lineno, line in enumerate(lines[sep + 1 :], start=sep + 2):
        if not line.strip():
            continue
        try:
            entry = (
                _parse_pipe_line(line)
                if piped
                else _parse_fixed_line(line, company_first=company_first, split_at=split_at)
            )
        except ValueError as exc:
            # One odd row must not cost the whole day; it is logged for the ingest error report.
            log.warning("daily index line %d skipped (%s): %r", lineno, exc, line[:160])
            continue
        entries.append(entry)
    return entries


def form4_accessions(entries: Iterable[IndexEntry], forms: Iterable[str] = FORM4_TYPES) -> list[IndexEntry]:
    """Keep entries whose form type is exactly one of `forms`, one per accession (first occurrence wins)."""
    wanted = frozenset(forms)
    seen: set[str] = set()
    out: list[IndexEntry] = []
    for entry in entries:
        if entry.form_type in wanted and entry.accession not in seen:
            seen.add(entry.accession)
            out.append(entry)
    return out


def fetch_daily_index(client: EdgarClient, day: date, kind: str = "form") -> list[IndexEntry] | None:
    """Fetch and parse one day's index; None when EDGAR has none (weekend, holiday, not yet built)."""
    url = client.urls.daily_index(day, kind)
    try:
        text = client.get_text(url)
    except EdgarNotFound:
        return None
    try:
        return parse_form_index(text)
    except IndexFormatError:
        # A missing day sometimes comes back as a small error page instead of a 404 (protocol §2.1).
        if text.lstrip().startswith("<"):
            log.warning("no daily index for %s: %s returned an error page", day, url)
            return None
        raise


# --- helpers ---------------------------------------------------------------------------------------
def _company_column_first(header: str) -> bool:
    """company.idx puts Company Name before Form Type; form.idx the other way round."""
    company, form = header.find("Company Name"), header.find("Form Type")
    return company != -1 and form != -1 and company < form


def _header_offset(header_lines: list[str], title: str) -> int | None:
    """Return the column offset of `title` in the column-title line, for rows whose columns touch."""
    for line in header_lines:
        pos = line.find(title)
        if pos > 0:
            return pos
    return None


def _parse_fixed_line(line: str, *, company_first: bool, split_at: int | None) -> IndexEntry:
    # The three right-hand columns never contain spaces, so take them from the right whatever the column
    # widths (they changed over the years: a 12-wide form column in 2020, 17 in 2026; protocol §2.1).
    fields = line.rstrip().rsplit(None, 3)
    if len(fields) != 4 or not fields[1].isdigit():
        raise ValueError("no CIK / date / file name columns")
    raw_head, cik, filed, file_name = fields
    parts = _GAP_RE.split(raw_head.strip())
    if len(parts) >= 2:
        # Form types may hold one space ("1-A POS") and company names single spaces, so only 2+ split.
        if company_first:
            company, form = "  ".join(parts[:-1]), parts[-1]
        else:
            form, company = parts[0], "  ".join(parts[1:])
    elif split_at is not None and len(raw_head) > split_at:
        # A value filled its column and touches the next one: fall back to the header's offsets.
        first, second = raw_head[:split_at].strip(), raw_head[split_at:].strip()
        company, form = (first, second) if company_first else (second, first)
    else:
        raise ValueError("cannot separate form type from company name")
    return _entry(form, company, cik, filed, file_name)


def _parse_pipe_line(line: str) -> IndexEntry:
    fields = [f.strip() for f in line.split("|")]
    if len(fields) != 5:
        raise ValueError("expected 5 pipe-separated fields")
    cik, company, form, filed, file_name = fields
    return _entry(form, company, cik, filed, file_name)


def _entry(form: str, company: str, cik: str, filed: str, file_name: str) -> IndexEntry:
    if not form:
        raise ValueError("empty form type")
    digits = filed.replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        raise ValueError(f"bad date {filed!r}")
    base = file_name.rsplit("/", 1)[-1]
    if not base.endswith(".txt"):
        raise ValueError(f"file name is not a submission .txt: {file_name!r}")
    return IndexEntry(
        form_type=form,
        company_name=company,
        cik=cik10(cik),
        date_filed=date(int(digits[:4]), int(digits[4:6]), int(digits[6:])),
        file_name=file_name,
        accession=normalize_accession(base[: -len(".txt")]),
    )
