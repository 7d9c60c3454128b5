"""EDGAR's "Latest Filings" (getcurrent) Atom feed: a pure, hardened parser and a pager for live Form 4s.

The feed is for latency only; the nightly daily index stays the authority (protocol §2.3).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from lxml import etree

from app.errors import EdgarFetchError
from app.ingest.urls import normalize_accession

if TYPE_CHECKING:
    from app.ingest.sec_client import EdgarClient

log = logging.getLogger(__name__)

FORM4_TYPES = ("4", "4/A")
ATOM = "{http://www.w3.org/2005/Atom}"
EDGAR_TZ = ZoneInfo("America/New_York")

# "4 - Hinge Health, Inc. (0001673743) (Issuer)": names may hold parentheses, so anchor on the end.
_TITLE_RE = re.compile(r"^(?P<form>.+?) - (?P<name>.*) \((?P<cik>\d{10})\) \((?P<role>[^()]*)\)\s*$")
_ACCESSION_RE = re.compile(r"(\d{10}-\d{2}-\d{6})")
_FILED_RE = re.compile(r"Filed:\D*(\d{4}-\d{2}-\d{2})")


class FeedFormatError(ValueError):
    """The body is not an Atom feed (EDGAR sends an HTML page past the end of the feed)."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    accession: str  # dashed
    form_type: str  # the category term, e.g. "4" or "4/A"
    updated_at: datetime  # tz-aware UTC; the acceptance time (protocol §2.3)
    cik: str | None  # 10 digits, of the party named in the title
    name: str | None
    role: str | None  # "Reporting", "Issuer", "Filer", "Subject", ...
    index_url: str | None  # link to the filing index page, as published
    filed_date: date | None


def _parser() -> etree.XMLParser:
    # Hardened: no entity expansion, no DTD, no network, no recovery (hostile-input bar, DESIGN §5).
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        recover=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_current_feed(xml_bytes: bytes, forms: Iterable[str] | None = FORM4_TYPES) -> list[FeedEntry]:
    """Parse one feed page into per-party entries, keeping only exact `forms` (None keeps every form)."""
    try:
        root = etree.fromstring(xml_bytes, _parser())
    except etree.XMLSyntaxError as exc:
        raise FeedFormatError(f"not an Atom feed: {exc}") from exc
    if root.tag != f"{ATOM}feed":
        raise FeedFormatError(f"not an Atom feed: root element {root.tag!r}")
    wanted = frozenset(forms) if forms is not None else None

    entries: list[FeedEntry] = []
    for node in root.iterchildren(f"{ATOM}entry"):
        entry = _parse_entry(node)
        if entry is None:
            continue
        # type=4 is a prefix match (424B2, 40-APP, ...): filter on the exact category term ourselves.
        if wanted is None or entry.form_type in wanted:
            entries.append(entry)
    return entries


def dedupe_by_accession(entries: Iterable[FeedEntry]) -> list[FeedEntry]:
    """Keep one entry per accession in first-seen order, preferring the issuer's row when both appear."""
    chosen: dict[str, FeedEntry] = {}
    for entry in entries:
        kept = chosen.get(entry.accession)
        if kept is None or (kept.role != "Issuer" and entry.role == "Issuer"):
            chosen[entry.accession] = entry  # dict keeps the first insertion position on replace
    return list(chosen.values())


def fetch_current_form4(
    client: EdgarClient,
    *,
    max_pages: int = 10,
    count: int = 100,
    known: Collection[str] = (),
    forms: Iterable[str] = FORM4_TYPES,
) -> list[FeedEntry]:
    """Page the feed newest-first until an empty page, a page holding a `known` accession, or `max_pages`."""
    wanted = tuple(forms)
    collected: list[FeedEntry] = []
    for page in range(max_pages):
        start = page * count
        url = client.urls.current_feed(start=start, count=count)
        try:
            # Past the end EDGAR answers 503 with an HTML page; don't spend a full retry budget on it.
            body = client.get_bytes(url, attempts=None if page == 0 else 2)
            all_forms = parse_current_feed(body, forms=None)
        except (EdgarFetchError, FeedFormatError) as exc:
            if page == 0:
                raise
            log.info("getcurrent paging ended at start=%d: %s", start, exc)
            break
        if not all_forms:
            break
        page_entries = [e for e in all_forms if e.form_type in wanted]
        collected.extend(page_entries)
        if known and any(e.accession in known for e in page_entries):
            break  # caught up with the previous poll
    return dedupe_by_accession(collected)


# --- helpers ---------------------------------------------------------------------------------------
def _text(node: etree._Element, tag: str) -> str | None:
    child = node.find(f"{ATOM}{tag}")
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def _parse_entry(node: etree._Element) -> FeedEntry | None:
    title = _text(node, "title") or ""
    link = node.find(f"{ATOM}link")
    href = link.get("href") if link is not None else None
    category = node.find(f"{ATOM}category")
    term = (category.get("term") or "").strip() if category is not None else ""

    # The id carries the accession ("...:accession-number=0002063236-25-000004"); the link is a fallback.
    accession = None
    for source in (_text(node, "id"), href):
        m = _ACCESSION_RE.search(source or "")
        if m:
            accession = normalize_accession(m.group(1))
            break
    updated = _parse_time(_text(node, "updated"))
    m_title = _TITLE_RE.match(title)
    form = term or (m_title["form"].strip() if m_title else "")
    if accession is None or updated is None or not form:
        log.warning("feed entry skipped (no accession, time or form): %r", title[:120])
        return None
    filed = _FILED_RE.search(_text(node, "summary") or "")
    return FeedEntry(
        accession=accession,
        form_type=form,
        updated_at=updated,
        cik=m_title["cik"] if m_title else None,
        name=m_title["name"].strip() if m_title else None,
        role=m_title["role"].strip() if m_title else None,
        index_url=href,
        filed_date=date.fromisoformat(filed.group(1)) if filed else None,
    )


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=EDGAR_TZ)  # EDGAR's clock is US/Eastern when no offset is given
    return when.astimezone(UTC)
