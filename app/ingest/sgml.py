"""EDGAR full-submission (.txt) envelopes: the SGML header, the one ownership ``<XML>`` document inside,
and the SEC/S3 error bodies that sometimes arrive in their place (parser-anchors A5, A7, A9).

Pure functions over bytes; both the classic header ("ACCESSION NUMBER:\t…") and the compact ``.nc``
form (``<ACCESSION-NUMBER>…``) used by EDGAR feeds are understood.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from app.schemas.form4 import Form4ParseError, SubmissionHeader

# ACCEPTANCE-DATETIME is the US/Eastern wall clock, not UTC (edgar-protocol §3.3).
EASTERN = ZoneInfo("America/New_York")

_SUBMISSION_STARTS = (
    b"<SEC-DOCUMENT>",
    b"<SEC-HEADER>",
    b"<SUBMISSION>",
    b"-----BEGIN PRIVACY-ENHANCED MESSAGE-----",
    b"<IMS-DOCUMENT>",
    b"<ACCEPTANCE-DATETIME>",
    b"<DOCUMENT>",
    b"ACCESSION NUMBER:",
)
_ACCEPTED = re.compile(rb"<ACCEPTANCE-DATETIME>\s*(\d{14})")
_ACCESSION = re.compile(rb"(?:ACCESSION NUMBER:|<ACCESSION-NUMBER>)\s*(\d{10}-?\d{2}-?\d{6})")
_DOC_ACCESSION = re.compile(rb"<SEC-DOCUMENT>\s*(\d{10}-\d{2}-\d{6})")
_FORM_TYPE = re.compile(rb"(?:CONFORMED SUBMISSION TYPE:|<TYPE>)[ \t]*([^\r\n<]+)")
_FILED = re.compile(rb"(?:FILED AS OF DATE:|<FILING-DATE>)\s*(\d{8})")
_PERIOD = re.compile(rb"(?:CONFORMED PERIOD OF REPORT:|<PERIOD>)\s*(\d{8})")
_HTML_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_S3_CODE = re.compile(rb"<Code>([^<]{1,64})</Code>")


def is_submission(data: bytes) -> bool:
    """Say whether bytes look like an EDGAR full-submission envelope rather than bare XML."""
    head = data[:256].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(_SUBMISSION_STARTS)


def sniff_error_page(data: bytes) -> str | None:
    """Return a reason when the bytes are an SEC/S3 error body instead of a filing, else None."""
    head = data[:2048].lower()
    if not (
        b"<html" in head
        or b"<!doctype html" in head
        or b"<error>" in head
        or b"<title" in head
        or b"request rate threshold" in head
        or b"undeclared automated tool" in head
        or b"traffic limit" in head
    ):
        return None
    text = data[:500_000].lower()
    # The identity page carries the same "Request Rate Threshold Exceeded" title, so test it first.
    if b"undeclared automated tool" in text:
        return (
            "SEC refused the request as an Undeclared Automated Tool: "
            "set SEC_USER_AGENT to a name and contact e-mail"
        )
    if b"request rate threshold exceeded" in text or b"traffic limit" in text:
        return "SEC rate-limit page (Request Rate Threshold Exceeded): pause EDGAR requests for 10 minutes"
    if b"nosuchkey" in text:
        return "S3 NoSuchKey error page: the file does not exist in EDGAR archives (check accession and CIK)"
    if b"<error>" in text:
        match = _S3_CODE.search(data[:500_000])
        code = match.group(1).decode("ascii", "replace").strip() if match else "unknown"
        return f"S3/EDGAR error response (code {code}) instead of a filing"
    if b"<html" in text or b"<!doctype html" in text:
        match = _HTML_TITLE.search(data[:500_000])
        title = " ".join(match.group(1).decode("utf-8", "replace").split())[:120] if match else ""
        return f"HTML page instead of an ownership document (title: {title!r})"
    return None


def parse_acceptance_datetime(value: str) -> datetime:
    """Turn ``YYYYMMDDHHMMSS`` on the US/Eastern wall clock into an aware UTC datetime."""
    if len(value) != 14 or not value.isdigit():
        raise ValueError(f"ACCEPTANCE-DATETIME {value!r} is not YYYYMMDDHHMMSS")
    local = datetime(
        int(value[0:4]),
        int(value[4:6]),
        int(value[6:8]),
        int(value[8:10]),
        int(value[10:12]),
        int(value[12:14]),
        tzinfo=EASTERN,
    )
    try:
        return local.astimezone(UTC)
    except OverflowError:  # the evening of 9999-12-31 in New York is past datetime.max in UTC
        raise ValueError(f"ACCEPTANCE-DATETIME {value!r} is out of range") from None


def _yyyymmdd(raw: bytes) -> date | None:
    try:
        return date(int(raw[0:4]), int(raw[4:6]), int(raw[6:8]))
    except ValueError:
        return None


def parse_header(data: bytes, warnings: list[str] | None = None) -> SubmissionHeader:
    """Read accession, acceptance time, form type, filed date and period from the SGML header."""
    end = data.find(b"<DOCUMENT>")
    region = data[:end] if end != -1 else data[:200_000]
    header = SubmissionHeader()
    match = _ACCESSION.search(region) or _DOC_ACCESSION.search(region)
    if match:
        raw = match.group(1).decode("ascii")
        header.accession = raw if "-" in raw else f"{raw[:10]}-{raw[10:12]}-{raw[12:]}"
    match = _ACCEPTED.search(region)
    if match:
        try:
            header.accepted_at = parse_acceptance_datetime(match.group(1).decode("ascii"))
        except ValueError as exc:
            if warnings is not None:
                warnings.append(f"ignored invalid ACCEPTANCE-DATETIME: {exc}")
    match = _FORM_TYPE.search(region)
    if match:
        header.form_type = match.group(1).decode("ascii", "replace").strip() or None
    match = _FILED.search(region)
    if match:
        header.filed_date = _yyyymmdd(match.group(1))
    match = _PERIOD.search(region)
    if match:
        header.period_of_report = _yyyymmdd(match.group(1))
    return header


def split_submission(data: bytes, warnings: list[str] | None = None) -> tuple[SubmissionHeader, bytes]:
    """Return the header and the single ownership XML document of a full submission, or raise."""
    header = parse_header(data, warnings)
    parts: list[bytes] = []
    xml_blocks = 0
    pos = 0
    while True:
        start = data.find(b"<XML>", pos)
        if start == -1:
            break
        end = data.find(b"</XML>", start + 5)
        if end == -1:
            raise Form4ParseError("truncated submission: <XML> block without </XML>")
        xml_blocks += 1
        if data.find(b"<ownershipDocument", start + 5, end) != -1:
            parts.append(data[start + 5 : end].strip())
        pos = end + 6
    if len(parts) == 1:
        return header, parts[0]
    if len(parts) > 1:
        raise Form4ParseError(f"submission holds {len(parts)} ownership <XML> documents; expected one")
    if data.find(b"<DOCUMENT>") == -1:
        raise Form4ParseError("submission has no documents (SGML header only)")
    if xml_blocks:
        raise Form4ParseError(f"no ownershipDocument in the submission's {xml_blocks} <XML> block(s)")
    filed = header.filed_date.isoformat() if header.filed_date else "unknown date"
    kind = f"Form {header.form_type}" if header.form_type else "filing"
    if header.filed_date is not None and header.filed_date < date(2003, 6, 30):
        # Ownership XML is mandatory since 2003-06-30; earlier forms are typed text (parser-anchors A7).
        reason = f"pre-XML plain-text {kind} (filed {filed}); ownership XML exists only since 2003-06-30"
    else:
        reason = f"plain-text {kind} (filed {filed}) without an ownership <XML> document"
    raise Form4ParseError(reason)
