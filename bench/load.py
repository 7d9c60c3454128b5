"""Load test: wrk (Debian package) against `clusterbuy serve --no-scheduler --workers 2` on the generated
10-year PostgreSQL data set (bench/generate.py) while an ingester stores new filings into it.

    .venv/bin/python bench/load.py                       # 50 connections, 30 s per endpoint
    .venv/bin/python bench/load.py --connections 50 --duration 30 --workers 2 --no-ingest

Per endpoint: requests/s, p50/p99 latency and errors (non-2xx/3xx plus socket errors), with the ingest
rate achieved meanwhile. The ingester writes open-market purchases of synthetic issuers (CIKs
0990000000-0990000099) filed "today", so they reach the screener; they are deleted at the end
(--keep to leave them). wrk is installed with apt-get when missing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/clusterbuy_bench"
LOAD_CIK_LOW, LOAD_CIK_HIGH = 990_000_000, 990_000_099
OWNER_CIK_LOW = 991_000_000
EASTERN = ZoneInfo("America/New_York")
TARGET_P99_MS = 250.0


@dataclass
class WrkResult:
    name: str
    path: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    detail: str


def ensure_wrk() -> str:
    """Return the wrk binary, installing Debian's package first when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=True)
    return shutil.which("wrk") or sys.exit("wrk did not install")


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip()).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(name: str, path: str, output: str) -> WrkResult:
    """Pull requests/s, p50/p99 and the error counts out of `wrk --latency` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(non2xx.group(1)) if non2xx else 0
    detail = f"non-2xx {errors}"
    if sockets:
        counts = [int(x) for x in sockets.groups()]
        errors += sum(counts)
        detail += ", socket connect/read/write/timeout " + "/".join(map(str, counts))
    if requests == 0:
        detail += "; no response completed within the run"
    return WrkResult(name, path, rps, p50, p99, requests, errors, detail)


# --- the ingester -----------------------------------------------------------------------------------------
class Ingester(threading.Thread):
    """Store batches of new purchase filings with ingest_files (one transaction each) until stopped."""

    def __init__(self, url: str, folder: Path, batch: int) -> None:
        super().__init__(name="ingester", daemon=True)
        self.url, self.folder, self.batch = url, folder, batch
        self.stop = threading.Event()
        self.stored = 0
        self.seconds = 0.0
        self.error: str | None = None

    def run(self) -> None:
        from app.db import make_engine
        from app.ingest.files import ingest_files

        engine = make_engine(self.url)
        started = time.perf_counter()
        serial = int(time.time()) % 100_000 * 1000  # fresh accessions on every run of the bench
        try:
            while not self.stop.is_set():
                paths = self._write_batch(serial)
                serial += self.batch
                report = ingest_files(paths, engine=engine, max_bytes=5_000_000)
                self.stored += report.stored
                for p in paths:
                    p.unlink()
        except Exception as exc:  # reported with the figures; the load run itself goes on
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.seconds = time.perf_counter() - started
            engine.dispose()

    def _write_batch(self, serial: int) -> list[Path]:
        from tests.factories import Owner, purchase_filing

        now = datetime.now(UTC).astimezone(EASTERN)
        paths = []
        for k in range(self.batch):
            n = serial + k
            issuer = LOAD_CIK_LOW + n % (LOAD_CIK_HIGH - LOAD_CIK_LOW + 1)
            owner = OWNER_CIK_LOW + n % 5000
            accession = f"{owner:010d}-{now:%y}-{n % 1_000_000:06d}"
            trade = (now - timedelta(days=1 + n % 5)).date()
            data = purchase_filing(
                accession,
                now.replace(tzinfo=None).isoformat(timespec="seconds"),
                owners=[Owner(f"{owner:010d}", f"LOAD OWNER {owner % 5000}", director=True)],
                trade_date=trade.isoformat(),
                shares=str(100 + n % 900),
                # Prices vary so that separate filings rarely share a block (an "ownership chain").
                price=f"{20 + n % 997 / 100:.2f}",
                issuer_cik=f"{issuer:010d}",
                ticker=f"LD{issuer % 100:02d}",
            )
            path = self.folder / f"{accession}.txt"
            path.write_bytes(data)
            paths.append(path)
        return paths


def cleanup(url: str) -> None:
    """Delete everything the ingester stored (synthetic issuers and owners in the load CIK ranges)."""
    low, high = f"{LOAD_CIK_LOW:010d}", f"{LOAD_CIK_HIGH:010d}"
    owners = (f"{OWNER_CIK_LOW:010d}", f"{OWNER_CIK_LOW + 4999:010d}")
    engine = create_engine(url)
    with engine.begin() as conn:
        between = {"low": low, "high": high}
        conn.execute(text("DELETE FROM cluster WHERE issuer_cik BETWEEN :low AND :high"), between)
        conn.execute(text("DELETE FROM filing WHERE issuer_cik BETWEEN :low AND :high"), between)
        for table in ("issuer_ticker", "news_event", "dashboard_snapshot"):
            conn.execute(text(f"DELETE FROM {table} WHERE issuer_cik BETWEEN :low AND :high"), between)
        conn.execute(text("DELETE FROM issuer WHERE cik BETWEEN :low AND :high"), between)
        conn.execute(
            text("DELETE FROM reporting_owner WHERE cik BETWEEN :a AND :b"), {"a": owners[0], "b": owners[1]}
        )
        conn.execute(text("DELETE FROM ingest_error WHERE source_key LIKE '%load-ingest%'"))
    engine.dispose()


# --- the run ----------------------------------------------------------------------------------------------
def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def wait_ready(base: str, server: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"clusterbuy serve exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"server at {base} not ready after {timeout:.0f} s")


def dashboard_ticker(url: str, requested: str | None) -> str:
    """The ticker the dashboard is measured on: --ticker, else the issuer with the most filings."""
    if requested:
        return requested
    engine = create_engine(url)
    with engine.connect() as conn:
        ticker = conn.execute(
            text(
                "SELECT i.ticker FROM issuer i JOIN filing f ON f.issuer_cik = i.cik "
                "WHERE i.ticker IS NOT NULL GROUP BY i.ticker ORDER BY count(*) DESC LIMIT 1"
            )
        ).scalar()
    engine.dispose()
    return ticker or "CLBY"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL URL of the generated data set")
    ap.add_argument("--port", type=int, default=8791)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--duration", type=int, default=30, help="seconds per endpoint")
    ap.add_argument("--warmup", type=int, default=5, help="seconds of warm-up per endpoint (not counted)")
    ap.add_argument("--ticker", default=None, help="dashboard ticker (default: the most-filed issuer)")
    ap.add_argument("--batch", type=int, default=20, help="filings per ingest batch")
    ap.add_argument("--no-ingest", action="store_true", help="no concurrent ingester")
    ap.add_argument("--plain", action="store_true", help="no 'Accept-Encoding: gzip' (browsers send it)")
    ap.add_argument(
        "--page-cache",
        type=float,
        default=10.0,
        help="PAGE_CACHE_SECONDS for the server (0: every request built)",
    )
    ap.add_argument("--keep", action="store_true", help="leave the ingested load filings in the database")
    args = ap.parse_args()

    wrk = ensure_wrk()
    engine = create_engine(args.url)
    with engine.connect() as conn:
        filings = conn.execute(text("SELECT count(*) FROM filing")).scalar() or 0
    engine.dispose()
    if filings < 1000:
        sys.exit(f"{args.url} holds {filings} filings: run bench/generate.py first")
    ticker = dashboard_ticker(args.url, args.ticker)
    endpoints = [
        ("screener", "/"),
        ("weekly", "/weekly"),
        ("dashboard", f"/ticker/{ticker}"),
        ("api screener", "/api/screener"),
    ]
    base = f"http://127.0.0.1:{args.port}"
    if not port_is_free(args.port):
        sys.exit(f"port {args.port} is in use: pass --port")
    env = {
        **os.environ,
        "DATABASE_URL": args.url,
        "LOG_LEVEL": "WARNING",
        "PAGE_CACHE_SECONDS": str(args.page_cache),
    }
    headers = [] if args.plain else ["-H", "Accept-Encoding: gzip"]
    server_cmd = [
        str(ROOT / ".venv" / "bin" / "clusterbuy"),
        "serve",
        "--no-scheduler",
        "--workers",
        str(args.workers),
        "--port",
        str(args.port),
    ]
    print(f"data set: {filings:,} filings; dashboard ticker {ticker}", flush=True)
    print(
        "server: " + " ".join(server_cmd[1:]) + f"; PAGE_CACHE_SECONDS={args.page_cache}; "
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s"
        + ("" if args.plain else " -H 'Accept-Encoding: gzip'"),
        flush=True,
    )
    server = subprocess.Popen(server_cmd, env=env, cwd=ROOT, start_new_session=True)
    ingester: Ingester | None = None
    tmp = Path(tempfile.mkdtemp(prefix="load-ingest-"))
    results: list[WrkResult] = []
    try:
        wait_ready(base, server)
        if not args.no_ingest:
            ingester = Ingester(args.url, tmp, args.batch)
            ingester.start()
        for name, path in endpoints:
            url = base + path
            if args.warmup:
                subprocess.run(
                    [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.warmup}s", *headers, url],
                    capture_output=True,
                    check=True,
                )
            cmd = [
                wrk,
                f"-t{args.threads}",
                f"-c{args.connections}",
                f"-d{args.duration}s",
                "--timeout",
                "10s",
                "--latency",
                *headers,
                url,
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            result = parse_wrk(name, path, out)
            results.append(result)
            print(
                f"{name:13s} {path:22s} {result.rps:8.1f} req/s  p50 {result.p50_ms:7.1f} ms  "
                f"p99 {result.p99_ms:7.1f} ms  {result.requests:6d} requests  errors {result.errors} "
                f"({result.detail})",
                flush=True,
            )
    finally:
        if ingester is not None:
            ingester.stop.set()
            ingester.join(timeout=120)
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # A server that does not stop on SIGTERM is a finding: say so, then stop it anyway.
            print("server did not stop within 30 s of SIGTERM: killed", flush=True)
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    if ingester is not None:
        rate = ingester.stored / max(ingester.seconds, 1e-9)
        print(
            f"ingester: {ingester.stored} filings stored in {ingester.seconds:.0f} s ({rate:.1f}/s) "
            f"during the run" + (f"; stopped by {ingester.error}" if ingester.error else ""),
            flush=True,
        )
        if not args.keep:
            cleanup(args.url)
            print("ingested load filings deleted", flush=True)
    print("\n| endpoint | path | req/s | p50 ms | p99 ms | requests | errors |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.name} | `{r.path}` | {r.rps:.1f} | {r.p50_ms:.0f} | {r.p99_ms:.0f} | {r.requests:,} | "
            f"{r.errors} |"
        )
    worst = max((r.p99_ms for r in results), default=0.0)
    errors = sum(r.errors for r in results)
    silent = any(r.requests == 0 for r in results)
    verdict = "met" if errors == 0 and worst < TARGET_P99_MS and not silent else "NOT met"
    target = f"0 errors, p99 < {TARGET_P99_MS:.0f} ms"
    print(f"\ntarget ({target}): {verdict} (worst p99 {worst:.0f} ms, {errors} errors)")


if __name__ == "__main__":
    main()
