"""A small site for the hostile-input web tests: two cluster buys, one of them by insiders whose names,
titles, remarks and footnotes are XSS and spreadsheet-formula payloads, ingested through the real path,
plus a rejected document and a job run whose messages carry the same payloads (shown on /status)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from app.db import session_scope
from app.ingest.files import ingest_files
from app.repositories import ops as ops_repo
from tests.factories import Doc, Owner, Tx, form4_xml, purchase_filing, submission_txt

SCRIPT = "<script>alert('xss')</script>"
IMG = "<img src=x onerror=alert(1)>"
CMD = "=cmd|' /C calc'!A0"
SUM = "@SUM(1+1)"
PLUS = '+HYPERLINK("http://127.0.0.1/x","y")'
MINUS = "-2+3+cmd|' /C calc'!A0"
# Every string stored below; none may come back as markup, and no CSV cell may start with a formula.
PAYLOADS = (SCRIPT, IMG, CMD, SUM, PLUS, MINUS)

ISSUER_NAME = f"{CMD} {SCRIPT} Corp"
GOOD_CIK, HOSTILE_CIK = "0000001234", "0000009999"
GOOD_TICKER, HOSTILE_TICKER = "EXMP", "HOST"
OWNERS = [
    Owner("0000000301", f"{SUM} {SCRIPT}", officer=True, title=f"{IMG} Chief {PLUS}"),
    Owner("0000000302", f"{IMG} SMITH", director=True),
    Owner("0000000303", f"{MINUS} JONES", other=True, other_text=f"{SCRIPT} adviser"),
]
GOOD_OWNERS = [
    Owner("0000000101", "ALICE A", officer=True, title="Chief Executive Officer"),
    Owner("0000000102", "BOB B", director=True),
    Owner("0000000103", "CAROL C", officer=True, title="Chief Financial Officer"),
]
HOSTILE_ACCESSIONS = ["0000000301-24-000001", "0000000302-24-000001", "0000000303-24-000001"]
GOOD_ACCESSIONS = ["0000000101-24-000001", "0000000102-24-000001", "0000000103-24-000001"]
SALE_ACCESSION = "0000000301-24-000002"
REJECTED_NAME = "0000000399-24-000001.xml"
JOB_MESSAGE = f"EDGAR: GET failed {SCRIPT} {CMD}"


@dataclass(frozen=True)
class Site:
    engine: Engine
    week: str  # ISO week of both clusters, e.g. "2024-W11"
    good_cluster: str
    hostile_cluster: str


def _hostile_filing(i: int, owner: Owner, day: int) -> bytes:
    doc = Doc(
        issuer_cik=HOSTILE_CIK,
        issuer_name=ISSUER_NAME,
        ticker=HOSTILE_TICKER,
        owners=[owner],
        period=f"2024-03-{day:02d}",
        transactions=[
            Tx(
                shares=str(1000 + 100 * i),
                price="20.00",
                trade_date=f"2024-03-{day:02d}",
                nature=f"By {SCRIPT} trust {CMD}",
                price_footnote="F1",
                security=f"Common {SUM}",
            )
        ],
        footnotes={"F1": f"Weighted average {SCRIPT} {CMD} prices from $19.50 to $20.50."},
        remarks=f"{SCRIPT} {IMG} {MINUS}",
    )
    return submission_txt(
        form4_xml(doc), accession=HOSTILE_ACCESSIONS[i], accepted_at_et=f"2024-03-{day + 1:02d}T16:30:00"
    )


def documents() -> dict[str, bytes]:
    """The site's filings by file name (accession in the name, as EDGAR names them)."""
    files: dict[str, bytes] = {}
    for i, (owner, day) in enumerate(zip(GOOD_OWNERS, (11, 12, 13), strict=True)):
        files[f"{GOOD_ACCESSIONS[i]}.txt"] = purchase_filing(
            GOOD_ACCESSIONS[i],
            f"2024-03-{day + 1:02d}T16:30:00",
            owners=[owner],
            trade_date=f"2024-03-{day:02d}",
            shares=str(1000 + i),
            issuer_cik=GOOD_CIK,
            ticker=GOOD_TICKER,
        )
    for i, (owner, day) in enumerate(zip(OWNERS, (11, 12, 13), strict=True)):
        files[f"{HOSTILE_ACCESSIONS[i]}.txt"] = _hostile_filing(i, owner, day)
    sale = Doc(
        issuer_cik=HOSTILE_CIK,
        issuer_name=ISSUER_NAME,
        ticker=HOSTILE_TICKER,
        owners=[OWNERS[0]],
        period="2024-03-14",
        transactions=[
            Tx(code="S", acquired_disposed="D", shares="300", price="21.00", trade_date="2024-03-14")
        ],
        remarks=f"sold {SCRIPT}",
    )
    files[f"{SALE_ACCESSION}.txt"] = submission_txt(
        form4_xml(sale), accession=SALE_ACCESSION, accepted_at_et="2024-03-15T16:00:00"
    )
    # Rejected: the parse error names the root element, so the reason itself carries markup.
    files[REJECTED_NAME] = f"<?xml version='1.0'?><script>{CMD}</script>".encode()
    return files


def load(engine: Engine, folder: Path) -> Site:
    """Ingest the site's documents into `engine` and record a failed job run with a hostile message."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in documents().items():
        (folder / name).write_bytes(data)
    report = ingest_files([folder], engine=engine, max_bytes=5_000_000)
    assert (report.stored, report.rejected) == (7, 1), report.rejections
    now = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)
    with session_scope(engine, write=True) as session:
        run_id = ops_repo.start_job_run(session, job_name="edgar.poll_current", now=now, host="test:1")
        ops_repo.finish_job_run(session, run_id, outcome="error", message=JOB_MESSAGE, stats={}, now=now)
    return Site(
        engine=engine,
        week="2024-W11",
        good_cluster=f"{GOOD_CIK}-2024-03-11",
        hostile_cluster=f"{HOSTILE_CIK}-2024-03-11",
    )
