"""A real local HTTP server laid out like EDGAR, for tests: serves a mirror folder, records every request
and injects failures (status sequences, Retry-After, SEC block pages, delays, dropped connections, garbage).

Paths mirror the real hosts: /Archives/edgar/..., /files/..., /submissions/CIK##########.json (the data
host is the same server); /cgi-bin/browse-edgar?...&start=N serves the file
cgi-bin/browse-edgar/getcurrent_startN.atom.xml.
"""

from __future__ import annotations

import gzip
import mimetypes
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FEED_DIR = Path("cgi-bin") / "browse-edgar"

# The body SEC serves (as HTTP 403) when a client exceeds 10 requests/second (protocol §1.1).
THRESHOLD_PAGE = b"""<!DOCTYPE html>
<html><head><title>U.S. SEC | Request Rate Threshold Exceeded</title></head>
<body><h1>Your Request Originates from an Undeclared Automated Tool</h1>
<p>Request Rate Threshold Exceeded. Your access will be limited for 10 minutes. Continuing to exceed the
maximum allowable request rate during the time-out period will extend the duration of the time-out period.</p>
</body></html>
"""
UNDECLARED_PAGE = b"""<!DOCTYPE html>
<html><head><title>U.S. SEC | Your Request Originates from an Undeclared Automated Tool</title></head>
<body><p>Your request has been identified as part of a network of automated tools outside of the
acceptable policy and will be managed until action is taken to declare your traffic.</p></body></html>
"""
# What EDGAR sends past the end of the getcurrent feed (with HTTP 503).
UNAVAILABLE_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>File Unavailable</title></head><body></body></html>\n"
)


@dataclass(frozen=True)
class Step:
    """One scripted response. `status=None` means: after `delay`, serve the mirror normally."""

    status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


def status(code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Step:
    """Respond with `code` and `body`; 200 serves the mirror file normally."""
    if code == 200 and not body:
        return Step()
    return Step(status=code, body=body or f"error {code}\n".encode(), headers=headers or {})


def retry_after(value: str | int, code: int = 429) -> Step:
    """Respond `code` (429 by default) with a Retry-After header (seconds or an HTTP date)."""
    return Step(status=code, body=b"Too Many Requests\n", headers={"Retry-After": str(value)})


def threshold(code: int = 403) -> Step:
    """Respond with SEC's "Request Rate Threshold Exceeded" page."""
    return Step(status=code, body=THRESHOLD_PAGE, headers={"Content-Type": "text/html"})


def undeclared(code: int = 403) -> Step:
    """Respond with SEC's "Undeclared Automated Tool" page."""
    return Step(status=code, body=UNDECLARED_PAGE, headers={"Content-Type": "text/html"})


def delay(seconds: float, then: Step | None = None) -> Step:
    """Wait `seconds` before answering (normally, or with `then`)."""
    base = then or Step()
    return Step(status=base.status, body=base.body, headers=base.headers, delay=seconds, drop=base.drop)


def drop() -> Step:
    """Close the socket without sending any response."""
    return Step(drop=True)


def garbage(
    body: bytes = b"\x00\x9f\x92\x96 not what you asked for <<<",
    code: int = 200,
    headers: dict[str, str] | None = None,
) -> Step:
    """Respond `code` (200) with an unusable body."""
    return Step(status=code, body=body, headers=headers or {})


@dataclass(frozen=True)
class RecordedRequest:
    t: float  # time.monotonic() when the request line was read
    method: str
    path: str  # path plus query string, as sent
    headers: dict[str, str]


@dataclass
class _Rule:
    pattern: re.Pattern[str]
    steps: list[Step]
    repeat_last: bool


class EdgarServer:
    """Threaded HTTP server on 127.0.0.1:<free port> serving `root` like www.sec.gov and data.sec.gov."""

    def __init__(self, root: Path, *, gzip_responses: bool = True) -> None:
        self.root = Path(root)
        self.gzip_responses = gzip_responses
        self.requests: list[RecordedRequest] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="edgar-server", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> EdgarServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # --- scripting -------------------------------------------------------------------------------
    def fail(
        self, pattern: str, steps: Sequence[int | Step] | int | Step, *, repeat_last: bool = False
    ) -> None:
        """Script responses for requests whose path+query matches regex `pattern` (re.search), in order.

        Ints are status codes (200 = serve normally). When the steps run out the mirror is served again,
        unless `repeat_last` keeps answering with the last step.
        """
        items = [steps] if isinstance(steps, int | Step) else list(steps)
        plan = [status(s) if isinstance(s, int) else s for s in items]
        with self._lock:
            self._rules.append(_Rule(re.compile(pattern), plan, repeat_last))

    def clear_failures(self) -> None:
        with self._lock:
            self._rules.clear()

    def paths(self) -> list[str]:
        """The path+query of every request so far, in arrival order."""
        with self._lock:
            return [r.path for r in self.requests]

    def _next_step(self, path: str) -> Step | None:
        with self._lock:
            for rule in self._rules:
                if rule.steps and rule.pattern.search(path):
                    if len(rule.steps) == 1 and rule.repeat_last:
                        return rule.steps[0]
                    return rule.steps.pop(0)
        return None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    # --- mirror content --------------------------------------------------------------------------
    def put(self, url_path: str, data: bytes | str) -> Path:
        """Write a file served at `url_path` (e.g. "/files/company_tickers_exchange.json")."""
        target = self.root / url_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)
        return target

    def put_daily_index(self, day: date, data: bytes | str, kind: str = "form") -> Path:
        quarter = (day.month - 1) // 3 + 1
        return self.put(f"/Archives/edgar/daily-index/{day.year}/QTR{quarter}/{kind}.{day:%Y%m%d}.idx", data)

    def put_feed_page(self, start: int, data: bytes | str) -> Path:
        return self.put(f"/{FEED_DIR.as_posix()}/getcurrent_start{start}.atom.xml", data)

    def resolve(self, raw_path: str) -> Path | None:
        """Map a request path+query to a mirror file, or None (404)."""
        parts = urlsplit(raw_path)
        if parts.path == "/cgi-bin/browse-edgar":
            start = parse_qs(parts.query).get("start", ["0"])[0]
            if not start.isdigit():
                return None
            target = self.root / FEED_DIR / f"getcurrent_start{int(start)}.atom.xml"
        else:
            target = (self.root / parts.path.lstrip("/")).resolve()
            if not target.is_relative_to(self.root.resolve()):
                return None
        return target if target.is_file() else None


def _make_handler(server: EdgarServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the real hosts
        # Headers and body go out in separate writes; with Nagle on, the client's delayed ACK adds
        # ~40 ms to every response, which is the test server's artefact, not EDGAR's.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            server._record(RecordedRequest(time.monotonic(), "GET", self.path, dict(self.headers.items())))
            step = server._next_step(self.path)
            if step is not None and step.delay:
                time.sleep(step.delay)
            if step is not None and step.drop:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if step is not None and step.status is not None:
                self._send(step.status, step.body, step.headers)
                return
            target = server.resolve(self.path)
            if target is None:
                self._send(404, b"Not Found\n", {"Content-Type": "text/plain"})
                return
            ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            self._send(200, target.read_bytes(), {"Content-Type": ctype})

        def _send(self, code: int, body: bytes, headers: dict[str, str]) -> None:
            headers = dict(headers)
            accepts_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
            if server.gzip_responses and accepts_gzip and body and "Content-Encoding" not in headers:
                body = gzip.compress(body, mtime=0)
                headers["Content-Encoding"] = "gzip"
            try:
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (e.g. its read timeout fired)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # keep test output quiet; requests are in server.requests

    return Handler


# --- real samples -> mirror ------------------------------------------------------------------------
_ACCESSION_TXT = re.compile(r"^\d{10}-\d{2}-\d{6}\.txt$")
_CIK_LINE = re.compile(rb"CENTRAL INDEX KEY:\s*(\d{1,10})")


def layout_samples(root: Path, samples_dir: Path, *, only: Iterable[str] | None = None) -> list[Path]:
    """Copy real files from edgar-samples into `root` at their sec.gov paths; return what was written.

    Groups (`only`): "daily" (form.20200318.idx, company.20221003.idx), "feed" (getcurrent type=4 pages
    start=0 and start=100), "tickers", "submissions" (CIK##########.json and overflow pages) and
    "archives" (full submission .txt files under /Archives/edgar/data/{cik}/{accession}.txt).
    """
    groups = set(only) if only is not None else {"daily", "feed", "tickers", "submissions", "archives"}
    index = samples_dir / "index"
    plan: list[tuple[Path, str]] = []
    if "daily" in groups:
        plan += [
            (index / "form.20200318.idx", "Archives/edgar/daily-index/2020/QTR1/form.20200318.idx"),
            (index / "company.20221003.idx", "Archives/edgar/daily-index/2022/QTR4/company.20221003.idx"),
        ]
    if "feed" in groups:
        plan += [
            (
                index / f"getcurrent_type4_start{n}.atom.xml",
                f"{FEED_DIR.as_posix()}/getcurrent_start{n}.atom.xml",
            )
            for n in (0, 100)
        ]
    if "tickers" in groups:
        plan += [
            (index / name, f"files/{name}")
            for name in ("company_tickers_exchange.json", "company_tickers.json")
        ]
    if "submissions" in groups:
        plan += [
            (p, f"submissions/{p.name}")
            for p in sorted((index / "submissions").glob("CIK*.json"))
            if re.fullmatch(r"CIK\d{10}(-submissions-\d{3})?\.json", p.name)
        ]
    if "archives" in groups:
        for p in sorted((samples_dir / "submissions").glob("*.txt")):
            if not _ACCESSION_TXT.match(p.name):
                continue
            m = _CIK_LINE.search(p.read_bytes()[:20_000])
            if m:
                plan.append((p, f"Archives/edgar/data/{int(m.group(1))}/{p.name}"))

    written = []
    for source, rel in plan:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(target)
    return written
