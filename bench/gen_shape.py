"""Measure the shape of real Form 4 data from the shared corpus, for bench/generate.py to copy.

Sources (all under ../shared/edgar-samples): form4/*.xml parsed with app.ingest.form4_parser.parse;
the complete 2024q4 data-set tables (OWNER_SIGNATURE, DERIV_TRANS, NONDERIV_HOLDING, DERIV_HOLDING);
the 2020-03-18 daily form index; company_tickers_exchange.json. The XML corpus over-represents a
few issuers (three founders' 30-row plan sales), so per-filing figures from it are weighted so that
each issuer counts once; the data-set tables are whole quarters and are used as they are.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from app.ingest.bulk_tsv import iter_table
from app.ingest.form4_parser import parse
from app.schemas.form4 import ParsedForm4
from app.services.roles import mentions_10b5_1

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "edgar-samples"
MAX_OWNERS = 8  # joint filings above 8 owners are folded into 8 (the brief's "up to ~8")

Dist = dict  # value -> weight (weights sum to 1 after _norm)


def _norm(counts: dict) -> dict:
    total = float(sum(counts.values())) or 1.0
    return {k: v / total for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))}


@dataclass
class Shape:
    """Distributions measured from the corpus (see module docstring for where each comes from)."""

    form_mix: Dist = field(default_factory=dict)  # "4" | "3" | "5" per filing
    amendment_share: float = 0.0
    owners_per_filing: Dist = field(default_factory=dict)
    kind_mix: Dist = field(default_factory=dict)  # main non-derivative code of a Form 4, or "deriv_only"
    nd_rows_by_kind: dict[str, list[int]] = field(default_factory=dict)  # empirical row counts
    nd_code_mix: Dist = field(default_factory=dict)  # per row, issuer-weighted (reported, not sampled)
    deriv_share: float = 0.0  # filings with derivative rows
    deriv_rows: Dist = field(default_factory=dict)
    deriv_codes: Dist = field(default_factory=dict)
    deriv_ad: dict[str, Dist] = field(default_factory=dict)
    nd_holding_share: float = 0.0
    nd_holdings: Dist = field(default_factory=dict)
    d_holding_share: float = 0.0
    d_holdings: Dist = field(default_factory=dict)
    lag_bdays: Dist = field(default_factory=dict)  # trade date -> signature (filing) date, business days
    price_range_share: float = 0.0  # P/S rows with a weighted-average price range footnote
    sale_10b5_1_share: float = 0.0
    purchase_10b5_1_share: float = 0.0
    indirect_share: float = 0.0
    relationships: Dist = field(default_factory=dict)  # (dir, officer, 10%, other) per issuer-owner pair
    officer_titles: Dist = field(default_factory=dict)
    footnotes_per_filing: float = 0.0
    issuer_price_log: tuple[float, float] = (0.0, 1.0)  # mean, sd of log(median P/S price) per issuer
    purchase_value_log: tuple[float, float] = (0.0, 1.0)  # mean, sd of log(P row value)
    exchange_mix: Dist = field(default_factory=dict)
    ticker_lengths: Dist = field(default_factory=dict)
    name_tails: Dist = field(default_factory=dict)  # "Inc.", "Therapeutics, Inc.", "Bancorp" ...
    issuers_listed: int = 0
    notes: list[str] = field(default_factory=list)


def measure(samples: Path = SAMPLES) -> Shape:
    """Read the corpus and return its measured distributions."""
    shape = Shape()
    docs = _parse_corpus(samples / "form4", shape)
    _from_xml(docs, shape)
    _from_bulk(samples / "bulk" / "2024q4_form345", shape)
    _from_index(samples / "index", shape)
    return shape


def _parse_corpus(folder: Path, shape: Shape) -> list[ParsedForm4]:
    docs, failed = [], 0
    for path in sorted(folder.glob("*.xml")):
        try:
            docs.append(parse(path.read_bytes()))
        except ValueError:
            failed += 1
    shape.notes.append(f"form4/: {len(docs)} documents parsed, {failed} rejected by the parser")
    return docs


def _business_days(start: date, end: date) -> int:
    days, d = 0, start
    while d < end:
        d += timedelta(days=1)
        if d.weekday() < 5:
            days += 1
    return days


def _from_xml(docs: list[ParsedForm4], shape: Shape) -> None:
    shape.form_mix = _norm(Counter(d.base_form for d in docs))
    form4 = [d for d in docs if d.base_form == "4"]
    by_issuer: dict[str, list[ParsedForm4]] = defaultdict(list)
    for d in form4:
        by_issuer[d.issuer.cik].append(d)
    kind: Counter[str] = Counter()
    rows_by_kind: dict[str, list[int]] = defaultdict(list)
    code_mix: Counter[str] = Counter()
    for filings in by_issuer.values():
        w = 1.0 / len(filings)
        codes = [t.code or "?" for d in filings for t in d.transactions if t.table == "non_derivative"]
        for code in codes:
            code_mix[code] += 1.0 / len(codes)
        for d in filings:
            nd = [t.code or "?" for t in d.transactions if t.table == "non_derivative"]
            if not nd:
                kind["deriv_only"] += w
                continue
            main = Counter(nd).most_common(1)[0][0]
            kind[main] += w
            rows_by_kind[main].append(len(nd))
    shape.kind_mix = _norm(kind)
    shape.nd_rows_by_kind = {k: sorted(v) for k, v in rows_by_kind.items()}
    shape.nd_code_mix = _norm(code_mix)

    lags: Counter[int] = Counter()
    for d in form4:
        trades = [t.transaction_date for t in d.transactions if t.transaction_date]
        signed = [s.date for s in d.signatures if s.date]
        if trades and signed and max(signed) >= max(trades):
            lags[min(_business_days(max(trades), max(signed)), 60)] += 1
    shape.lag_bdays = _norm(lags)

    ranged = total_ps = 0.0
    sales = sales_plan = buys = buys_plan = indirect = rows = 0.0
    prices: dict[str, list[float]] = defaultdict(list)
    values: list[float] = []
    for filings in by_issuer.values():
        w = 1.0 / len(filings)
        for d in filings:
            for t in d.transactions:
                if t.table != "non_derivative":
                    continue
                rows += w
                indirect += w * (t.direct_indirect == "I")
                plan = bool(
                    mentions_10b5_1(d.footnotes.get(f, "") for ids in t.footnotes.values() for f in ids)
                )
                plan = plan or bool(d.aff10b5one)
                if t.code in ("P", "S"):
                    total_ps += w
                    ranged += w * (t.price_low is not None)
                    if t.price:
                        prices[d.issuer.cik].append(float(t.price))
                if t.code == "S":
                    sales += w
                    sales_plan += w * plan
                if t.code == "P":
                    buys += w
                    buys_plan += w * plan
                    if t.price and t.shares:
                        values.append(float(t.price * t.shares))
    shape.price_range_share = ranged / total_ps if total_ps else 0.0
    shape.sale_10b5_1_share = sales_plan / sales if sales else 0.0
    shape.purchase_10b5_1_share = buys_plan / buys if buys else 0.0
    shape.indirect_share = indirect / rows if rows else 0.0
    logs = [math.log(statistics.median(v)) for v in prices.values() if v]
    shape.issuer_price_log = (statistics.mean(logs), statistics.stdev(logs))
    vlogs = [math.log(v) for v in values if v > 0]
    shape.purchase_value_log = (statistics.mean(vlogs), statistics.stdev(vlogs))

    pairs: dict[tuple[str, str], tuple[bool, bool, bool, bool]] = {}
    titles: Counter[str] = Counter()
    for d in docs:
        for o in d.reporting_owners:
            pairs[(d.issuer.cik, o.cik)] = (o.is_director, o.is_officer, o.is_ten_percent_owner, o.is_other)
            if o.is_officer and o.officer_title:
                titles[o.officer_title.strip()] += 1
    shape.relationships = _norm(Counter(pairs.values()))
    shape.officer_titles = _norm(titles)
    shape.footnotes_per_filing = statistics.mean(len(d.footnotes) for d in form4)


def _per_accession(rows: list[dict[str, str]]) -> Counter[str]:
    return Counter(r["ACCESSION_NUMBER"] for r in rows)


def _from_bulk(folder: Path, shape: Shape) -> None:
    def table(name: str) -> list[dict[str, str]]:
        return [r for r in iter_table(folder, name) if isinstance(r, dict)]

    signatures = _per_accession(table("OWNER_SIGNATURE"))
    filings = len(signatures)
    shape.owners_per_filing = _norm(Counter(min(n, MAX_OWNERS) for n in signatures.values()))
    deriv = table("DERIV_TRANS")
    per = _per_accession(deriv)
    shape.deriv_share = len(per) / filings
    shape.deriv_rows = _norm(Counter(min(n, 20) for n in per.values()))
    shape.deriv_codes = _norm(Counter(r["TRANS_CODE"] for r in deriv))
    ad: dict[str, Counter[str]] = defaultdict(Counter)
    for r in deriv:
        ad[r["TRANS_CODE"]][r["TRANS_ACQUIRED_DISP_CD"] or "A"] += 1
    shape.deriv_ad = {k: _norm(v) for k, v in ad.items()}
    for name, attr in (("NONDERIV_HOLDING", "nd"), ("DERIV_HOLDING", "d")):
        per = _per_accession(table(name))
        setattr(shape, f"{attr}_holding_share", len(per) / filings)
        setattr(shape, f"{attr}_holdings", _norm(Counter(min(n, 20) for n in per.values())))
    shape.notes.append(
        f"bulk 2024q4: {filings:,} filings (OWNER_SIGNATURE accessions), {len(deriv):,} derivative rows"
    )


_FORM_ROW = re.compile(r"^(4|4/A)\s+.*?(\d{10}-\d{2}-\d{6})\.txt\s*$")


def _from_index(folder: Path, shape: Shape) -> None:
    per: Counter[str] = Counter()
    amended: set[str] = set()
    for line in (folder / "form.20200318.idx").read_text(errors="replace").splitlines():
        m = _FORM_ROW.match(line)
        if m:
            per[m.group(2)] += 1
            if m.group(1) == "4/A":
                amended.add(m.group(2))
    shape.amendment_share = len(amended) / len(per)
    shape.notes.append(f"daily index 2020-03-18: {len(per)} Form 4 accessions, {len(amended)} 4/A")
    listed = json.loads((folder / "company_tickers_exchange.json").read_text())
    rows = listed["data"]
    shape.issuers_listed = len({r[0] for r in rows})
    shape.exchange_mix = _norm(Counter(r[3] or "none" for r in rows))
    shape.ticker_lengths = _norm(Counter(min(len(r[2]), 5) for r in rows if r[2]))
    tails: Counter[str] = Counter()
    for r in rows:
        words = str(r[1]).split()
        if len(words) > 1:
            tails[" ".join(words[1:][-2:])] += 1
    shape.name_tails = dict(list(_norm(Counter({k: v for k, v in tails.items() if v >= 8})).items()))


def _fmt(dist: Dist, limit: int = 12) -> str:
    items = list(dist.items())[:limit]
    more = "" if len(dist) <= limit else f" …(+{len(dist) - limit})"
    return ", ".join(f"{k}: {v:.1%}" for k, v in items) + more


def report(shape: Shape) -> None:
    """Print the measured distributions the generator copies."""
    print("Measured from the shared corpus:")
    for note in shape.notes:
        print(f"  {note}")
    print(f"  forms per filing: {_fmt(shape.form_mix)}; amendments {shape.amendment_share:.1%}")
    print(f"  owners per filing: {_fmt(shape.owners_per_filing)}")
    print(f"  Form 4 main code (issuer-weighted): {_fmt(shape.kind_mix)}")
    print(f"  non-derivative code mix per row (issuer-weighted): {_fmt(shape.nd_code_mix)}")
    means = {k: statistics.mean(v) for k, v in shape.nd_rows_by_kind.items()}
    print(
        "  non-derivative rows per filing by main code (mean): "
        + ", ".join(
            f"{k} {m:.1f}"
            for k, m in sorted(means.items(), key=lambda kv: -len(shape.nd_rows_by_kind[kv[0]]))
        )
    )
    print(f"  filings with derivative rows: {shape.deriv_share:.1%}; rows: {_fmt(shape.deriv_rows, 6)}")
    print(f"  derivative codes: {_fmt(shape.deriv_codes)}")
    print(
        f"  holdings: non-derivative in {shape.nd_holding_share:.1%} of filings "
        f"({_fmt(shape.nd_holdings, 5)}), derivative in {shape.d_holding_share:.1%}"
    )
    print(f"  trade→filing lag, business days: {_fmt(shape.lag_bdays, 8)}")
    print(
        f"  P/S rows with a price-range footnote: {shape.price_range_share:.1%}; "
        f"10b5-1: sales {shape.sale_10b5_1_share:.1%}, purchases {shape.purchase_10b5_1_share:.1%}; "
        f"indirect rows {shape.indirect_share:.1%}"
    )
    rel = {
        "/".join(n for n, on in zip(("dir", "off", "10%", "oth"), k, strict=True) if on) or "none": v
        for k, v in shape.relationships.items()
    }
    print(f"  relationships per issuer-owner pair: {_fmt(rel, 9)}")
    print(f"  officer titles: {_fmt(shape.officer_titles, 6)}")
    print(f"  footnotes per Form 4: {shape.footnotes_per_filing:.1f}")
    mu, sd = shape.issuer_price_log
    print(f"  issuer price log-normal: median ${math.exp(mu):,.2f}, log sd {sd:.2f}")
    mu, sd = shape.purchase_value_log
    print(f"  purchase row value log-normal: median ${math.exp(mu):,.0f}, log sd {sd:.2f}")
    print(
        f"  listed issuers: {shape.issuers_listed:,}; exchanges {_fmt(shape.exchange_mix, 5)}; "
        f"ticker lengths {_fmt(shape.ticker_lengths, 5)}"
    )
