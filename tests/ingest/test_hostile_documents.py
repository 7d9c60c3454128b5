"""Hostile documents through the whole ingest path (files and EDGAR): each is refused with a recorded
reason, in bounded time and memory, nothing is fetched or expanded, and the run stores the good ones.

tests/ingest/test_safe_xml.py pins the parser's own refusals; this file proves the same cases end as
ingest_error rows (accession + reason) when they arrive as files or from an EDGAR server.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from app.config import Settings
from app.db import session_scope
from app.errors import EdgarFetchError
from app.ingest.files import ingest_files
from app.ingest.pipeline import FilingRef, ingest_filings
from app.ingest.sec_client import EdgarClient
from app.models import Filing, IngestError
from tests.conftest import ROOT
from tests.edgar_server import EdgarServer, Step
from tests.factories import Doc, Owner, Tx, form4_xml, submission_txt

LIMIT = 200_000  # max_document_bytes for these tests: the oversize case stays cheap to build
OVER_LIMIT = r"over the 200,?000-byte limit"
GOOD_XML = form4_xml(Doc(owners=[Owner("0000000101", "GOOD OWNER")], transactions=[Tx()], remarks="ok"))


def _envelope(xml: bytes, accession: str = "0000000999-24-000001") -> bytes:
    return submission_txt(xml, accession=accession, accepted_at_et="2024-03-05T16:30:00")


def _doctype(declaration: str) -> bytes:
    """GOOD_XML with an internal DTD declaring `declaration` and `&x;` referenced in the remarks."""
    body = GOOD_XML.replace(b"<remarks>ok</remarks>", b"<remarks>&x;</remarks>")
    return body.replace(
        b"<ownershipDocument>",
        f"<!DOCTYPE ownershipDocument [\n  {declaration}\n]>\n".encode() + b"<ownershipDocument>",
        1,
    )


def _billion_laughs() -> bytes:
    levels = ['<!ENTITY x0 "lol">'] + [f'<!ENTITY x{i} "{f"&x{i - 1};" * 10}">' for i in range(1, 10)]
    return _doctype("\n  ".join([*levels, '<!ENTITY x "&x9;">']))


def _quadratic_blowup() -> bytes:
    # One 20 KB entity referenced 5,000 times: 100 MB if expanded, from a 35 KB document, no nesting.
    xml = _doctype(f'<!ENTITY x "{"a" * 20_000}">')
    return xml.replace(b"<remarks>&x;", b"<remarks>" + b"&x;" * 5_000)


@dataclass(frozen=True)
class Hostile:
    name: str
    build: Callable[[str], bytes]  # evil URL on 127.0.0.1 -> document bytes
    reason: str  # regex the recorded reason must match


HOSTILE = [
    Hostile("billion-laughs", lambda _u: _billion_laughs(), r"DOCTYPE/ENTITY.*billion-laughs"),
    Hostile("quadratic-blowup", lambda _u: _quadratic_blowup(), r"DOCTYPE/ENTITY"),
    Hostile(
        "external-entity-file",
        lambda _u: _doctype('<!ENTITY x SYSTEM "file:///etc/passwd">'),
        r"DOCTYPE/ENTITY.*external-entity",
    ),
    Hostile(
        "external-entity-http",
        lambda u: _doctype(f'<!ENTITY x SYSTEM "{u}/evil/xxe.txt">'),
        r"DOCTYPE/ENTITY",
    ),
    Hostile(
        "parameter-entity-http",
        lambda u: _doctype(f'<!ENTITY % p SYSTEM "{u}/evil/p.dtd"> %p; <!ENTITY x "y">'),
        r"DOCTYPE/ENTITY",
    ),
    Hostile(
        "external-dtd",
        lambda u: GOOD_XML.replace(
            b"<ownershipDocument>",
            f'<!DOCTYPE ownershipDocument SYSTEM "{u}/evil/x.dtd"><ownershipDocument>'.encode(),
            1,
        ),
        r"DOCTYPE",
    ),
    Hostile(
        "doctype-in-envelope",
        lambda _u: _envelope(_billion_laughs()),
        r"DOCTYPE/ENTITY",
    ),
    Hostile("oversize", lambda _u: GOOD_XML + b" " * LIMIT, OVER_LIMIT),
    Hostile(
        "deep-nesting",
        lambda _u: b"<ownershipDocument>" + b"<a>" * 20_000 + b"</a>" * 20_000 + b"</ownershipDocument>",
        r"nested deeper than 256 levels",
    ),
    Hostile(
        "utf-7",
        lambda _u: GOOD_XML.replace(b'version="1.0"', b'version="1.0" encoding="UTF-7"', 1),
        r"unsupported XML encoding 'utf-7'",
    ),
    Hostile(
        "invalid-utf-16",
        lambda _u: b"\xff\xfe" + "<ownershipDocument><a>".encode("utf-16-le") + b"\x00\xd8",
        r"invalid UTF-16",
    ),
    Hostile("binary", lambda _u: gzip.compress(GOOD_XML, mtime=0), r"NUL bytes|not XML"),
    Hostile("truncated-xml", lambda _u: GOOD_XML[: len(GOOD_XML) * 2 // 3], r"truncated XML"),
    Hostile(
        "truncated-envelope",
        lambda _u: (lambda s: s[: s.index(b"</XML>") - 40])(_envelope(GOOD_XML)),
        r"truncated submission",
    ),
    Hostile(
        "html-error-page",
        lambda _u: (
            b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
            b"<body><h1>Bad Gateway</h1></body></html>"
        ),
        r"HTML page instead of an ownership document",
    ),
    Hostile(
        "html-in-envelope",
        lambda _u: _envelope(b"<html><body>Internal error</body></html>"),
        r"no ownershipDocument in the submission's 1 <XML> block",
    ),
    Hostile(
        "two-xml-parts",
        lambda _u: _envelope(GOOD_XML + b"\n</XML>\n<XML>\n" + GOOD_XML),
        r"holds 2 ownership <XML> documents",
    ),
    Hostile(
        "no-xml-part",
        lambda _u: (lambda s: s[: s.index(b"<XML>")] + b"FORM 4 typed as text\n</TEXT>\n</DOCUMENT>\n")(
            _envelope(GOOD_XML)
        ),
        r"without an ownership <XML> document",
    ),
    Hostile("empty", lambda _u: b"", r"empty document"),
]


def _accession(i: int) -> str:
    return f"0000{500000 + i}-24-{i:06d}"


def _good(i: int, name: str) -> bytes:
    doc = Doc(owners=[Owner(f"{7000 + i:010d}", name)], transactions=[Tx(shares=str(100 + i))])
    return _envelope(form4_xml(doc), _accession(i))


def _errors(engine: Engine) -> dict[str, tuple[str | None, str, str]]:
    with session_scope(engine) as s:
        return {e.source_key: (e.accession, e.stage, e.reason) for e in s.scalars(select(IngestError))}


def _stored(engine: Engine) -> set[str]:
    with session_scope(engine) as s:
        return set(s.scalars(select(Filing.accession)))


def _no_evil_requests(server: EdgarServer) -> None:
    assert not [p for p in server.paths() if p.startswith("/evil")]


class TestIngestFiles:
    def test_every_hostile_file_is_recorded_and_the_good_ones_are_stored(
        self, clean_engine: Engine, edgar_server: EdgarServer, tmp_path: Path
    ) -> None:
        folder = tmp_path / "docs"
        folder.mkdir()
        # Hostile documents sorted between two good ones: the run must go on past every refusal.
        (folder / f"{_accession(0)}.txt").write_bytes(_good(0, "FIRST GOOD"))
        for i, case in enumerate(HOSTILE, start=1):
            suffix = ".txt" if case.build("").startswith(b"<SEC-DOCUMENT>") else ".xml"
            (folder / f"{_accession(i)}{suffix}").write_bytes(case.build(edgar_server.base_url))
        last = len(HOSTILE) + 1
        (folder / f"{_accession(last)}.txt").write_bytes(_good(last, "LAST GOOD"))

        started = time.perf_counter()
        report = ingest_files([folder], engine=clean_engine, max_bytes=LIMIT)
        elapsed = time.perf_counter() - started

        assert (report.stored, report.rejected) == (2, len(HOSTILE))
        assert _stored(clean_engine) == {_accession(0), _accession(last)}
        errors = _errors(clean_engine)
        for i, case in enumerate(HOSTILE, start=1):
            accession, stage, reason = errors[_accession(i)]
            assert (accession, stage) == (_accession(i), "parse"), case.name
            assert re.search(case.reason, reason), f"{case.name}: {reason}"
        _no_evil_requests(edgar_server)
        # Generous for a loaded CI machine: an expansion or a network wait would take far longer.
        assert elapsed < 20

    def test_xinclude_is_never_processed(self, clean_engine: Engine, tmp_path: Path) -> None:
        xml = GOOD_XML.replace(
            b"<remarks>ok",
            b'<remarks>see <xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
            b'href="file:///etc/passwd" parse="text"/>',
        )
        path = tmp_path / f"{_accession(1)}.xml"
        path.write_bytes(xml)
        report = ingest_files([path], engine=clean_engine, max_bytes=LIMIT)
        assert report.stored == 1
        with session_scope(clean_engine) as s:
            remarks = s.scalar(select(Filing.remarks))
        assert "root:" not in (remarks or "")


class TestEdgarPipeline:
    def test_hostile_bodies_from_edgar_are_recorded_and_the_run_goes_on(
        self, clean_engine: Engine, edgar_server: EdgarServer, edgar_settings: Settings
    ) -> None:
        cik = "1234"
        refs = [FilingRef(cik, _accession(0))]
        edgar_server.put(f"/Archives/edgar/data/{cik}/{_accession(0)}.txt", _good(0, "FIRST GOOD"))
        for i, case in enumerate(HOSTILE, start=1):
            edgar_server.put(
                f"/Archives/edgar/data/{cik}/{_accession(i)}.txt", case.build(edgar_server.base_url)
            )
            refs.append(FilingRef(cik, _accession(i)))
        last = len(HOSTILE) + 1
        edgar_server.put(f"/Archives/edgar/data/{cik}/{_accession(last)}.txt", _good(last, "LAST GOOD"))
        refs.append(FilingRef(cik, _accession(last)))
        settings = edgar_settings.model_copy(update={"max_document_bytes": LIMIT, "edgar_max_rps": 10})

        with EdgarClient(settings) as client:
            report = ingest_filings(client, clean_engine, refs)

        assert (report.stored, report.failed, report.blocked) == (2, len(HOSTILE), None)
        assert _stored(clean_engine) == {_accession(0), _accession(last)}
        errors = _errors(clean_engine)
        for i, case in enumerate(HOSTILE, start=1):
            accession, stage, reason = errors[_accession(i)]
            assert accession == _accession(i), case.name
            assert stage in ("fetch", "parse"), case.name  # oversize bodies stop at the fetch
            assert re.search(case.reason, reason), f"{case.name}: {reason}"
        _no_evil_requests(edgar_server)

    def test_gzip_bomb_is_cut_off_at_the_size_limit(
        self, clean_engine: Engine, edgar_server: EdgarServer, edgar_settings: Settings
    ) -> None:
        # ~100 KB on the wire, 100 MB once inflated: the client must stop reading at the limit.
        squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
        chunk = b"\x00" * 1_000_000
        bomb = b"".join(squeeze.compress(chunk) for _ in range(100)) + squeeze.flush()
        accession = _accession(1)
        path = f"/Archives/edgar/data/1234/{accession}.txt"
        edgar_server.put(path, b"placeholder")
        bomb_step = Step(status=200, body=bomb, headers={"Content-Encoding": "gzip"})
        edgar_server.fail(re.escape(path), [bomb_step, bomb_step])
        settings = edgar_settings.model_copy(update={"max_document_bytes": LIMIT})
        with EdgarClient(settings) as client:
            tracemalloc.start()
            try:
                with pytest.raises(EdgarFetchError, match=OVER_LIMIT):
                    client.get_bytes(edgar_server.base_url + path)
                _current, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            report = ingest_filings(client, clean_engine, [FilingRef("1234", accession)])
        assert peak < 20_000_000, f"peak {peak:,} bytes while reading a 100 MB bomb"
        assert report.failed == 1
        ((_acc, stage, reason),) = _errors(clean_engine).values()
        assert stage == "fetch"
        assert re.search(OVER_LIMIT, reason), reason


# Parses every hostile document in a child process whose address space is capped a little above what
# it holds after imports: an expansion of any entity (gigabytes) would die with MemoryError.
_CHILD = """
import json, re, resource, sys, time
from app.ingest.form4_parser import parse
from app.schemas.form4 import Form4ParseError
docs = [bytes.fromhex(h) for h in json.load(sys.stdin)]
size = int(re.search(r"VmSize:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + 192 * 2**20, resource.RLIM_INFINITY))
out = []
for doc in docs:
    started = time.perf_counter()
    try:
        parse(doc, max_bytes=%d)
        out.append(["parsed", time.perf_counter() - started])
    except Form4ParseError as exc:
        out.append([str(exc), time.perf_counter() - started])
print(json.dumps(out))
"""


def test_refusals_stay_within_a_small_memory_cap_and_time() -> None:
    docs = [case.build("http://127.0.0.1:9") for case in HOSTILE]
    done = subprocess.run(
        [sys.executable, "-c", _CHILD % LIMIT],
        input=json.dumps([d.hex() for d in docs]),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)
    for case, (reason, seconds) in zip(HOSTILE, results, strict=True):
        assert re.search(case.reason, reason), f"{case.name}: {reason}"
        assert seconds < 1.0, f"{case.name} took {seconds:.2f} s"


@pytest.mark.parametrize("case", HOSTILE, ids=[c.name for c in HOSTILE])
def test_catalogue_reasons(case: Hostile) -> None:
    """Each case, one by one, through the parser (a readable failure when one reason changes)."""
    from app.ingest.form4_parser import parse
    from app.schemas.form4 import Form4ParseError

    with pytest.raises(Form4ParseError, match=case.reason):
        parse(case.build("http://127.0.0.1:9"), max_bytes=LIMIT)


def test_a_long_ownership_chain_still_clusters(clean_engine: Engine, tmp_path: Path) -> None:
    """25 entities filing one identical block separately are one buyer (DESIGN §2); its key outgrew the
    200-character column and the cluster refresh failed on PostgreSQL on every rerun (bench/load.py)."""
    from app.models import Cluster, ClusterMember

    for i in range(27):
        accession = f"{1000 + i:010d}-24-000001"
        data = _envelope(
            form4_xml(
                Doc(
                    owners=[Owner(f"{1000 + i:010d}", f"FUND ENTITY {i}", ten_percent=True)],
                    transactions=[Tx(shares="5000" if i < 25 else str(100 + i))],  # 2 more buyers
                )
            ),
            accession,
        )
        (tmp_path / f"{accession}.txt").write_bytes(data)
    report = ingest_files([tmp_path], engine=clean_engine, max_bytes=LIMIT)
    assert report.stored == 27
    with session_scope(clean_engine) as s:
        (cluster,) = s.scalars(select(Cluster))
        keys = set(s.scalars(select(ClusterMember.buyer_key)))
    assert cluster.n_buyers == 3
    assert len(keys) == 3
    assert max(len(k) for k in keys) <= 200
