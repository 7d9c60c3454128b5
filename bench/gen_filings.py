"""Plan and emit synthetic ownership filings as PostgreSQL COPY text rows, for bench/generate.py.

Planning works month by month in filing-time order (as a live ingest would insert them): background
filings drawn from the measured shape, multi-insider purchase clusters, and amendments that restate
an earlier filing. Emission writes every column the app reads, with the same derived fields the
ingest store computes (value, price source, ΔOwn base, 10b5-1, eligibility, known_at, supersession).
Hot paths draw from precomputed random tables and cached date strings: emission runs ~10^7 times.
"""

from __future__ import annotations

import hashlib
import math
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gen_shape import Shape
from gen_world import CikPool, Insider, Issuer, Sampler, World, group_of

from app.ingest.store import PARSER_VERSION

EASTERN = ZoneInfo("America/New_York")
N = "\\N"  # COPY text NULL
AGENTS = ("0000899243", "0001209191", "0001127602", "0001225208", "0001415889", "0001140361", "0001493152")
AFF10B5ONE_FROM = date(2023, 4, 1)  # the 10b5-1 checkbox exists on forms filed from April 2023
# Assumption (no monthly data in the corpus): Form 4 volume peaks with annual grants in Feb–Mar and in
# the trading windows after quarterly earnings.
MONTH_WEIGHT = (0.8, 1.5, 1.4, 0.8, 1.2, 1.0, 0.8, 1.2, 0.9, 0.8, 1.2, 1.0)
# Distinct buyers of injected purchase clusters; 2 makes a near-cluster (not a default-rule cluster).
EVENT_SIZES = {2: 0.45, 3: 0.25, 4: 0.13, 5: 0.07, 6: 0.04, 7: 0.03, 8: 0.02, 10: 0.01}
MEAN_MONTH_WEIGHT = sum(MONTH_WEIGHT) / 12
INJECTED_SHARE = 0.72  # of the wanted default-rule clusters, the part planted as cluster events
# Codes of the rows after the first in a filing with that main code (an exercise is followed by a
# sale or a tax withholding, a grant by withholding, ...).
FOLLOW = {"A": "AAF", "C": "CCS", "M": "MSF", "X": "XS", "J": "J", "S": "S", "F": "F", "P": "P", "G": "G"}
DERIV_FOR = {"M": "M", "C": "C", "X": "X", "A": "A"}
NATURE = ("By Trust", "By Spouse", "By LLC", "By 401(k) Plan", "By Family Trust", "See footnote")
ACQUIRED = frozenset("PAMX")
RANGE_NOTE = (
    "The price reported in Column 4 is a weighted average price. These shares were {verb} in multiple "
    "transactions at prices ranging from ${low} to ${high}, inclusive. The reporting person undertakes "
    "to provide full information regarding the number of shares and prices at each separate price."
)
PLAN_NOTE = (
    "The transactions reported on this Form 4 were effected pursuant to a Rule 10b5-1 trading plan "
    "adopted by the reporting person on {day}."
)
PLACEMENT_NOTE = (
    "The shares were purchased from the Issuer in a private placement pursuant to a securities "
    "purchase agreement."
)
GRANT_NOTE = (
    "Represents restricted stock units granted under the Company's Equity Incentive Plan; each unit "
    "converts into one share of common stock on vesting."
)
TRUST_NOTE = (
    "The shares are held by a trust of which the reporting person is a trustee; the reporting person "
    "disclaims beneficial ownership except to the extent of any pecuniary interest therein."
)
OPTION_NOTE = (
    "The option vests in four equal annual installments beginning on the first anniversary of the grant."
)
RSU_NOTE = "Each restricted stock unit represents a contingent right to receive one share of common stock."
AMEND_NOTE = "This amendment is filed solely to correct the reporting person's signature."


@dataclass(slots=True)
class Spec:
    """One filing to emit."""

    known_at: datetime
    filed: date
    first: date
    last: date
    issuer: Issuer
    insider: Insider
    form: str  # 4 | 3 | 5
    kind: str  # main non-derivative code, or deriv_only
    n_nd: int
    accession: str = ""
    amends: Spec | None = None
    amended_by: str | None = None
    restate: bool = False
    payload: tuple | None = None  # rows of an original that an amendment restates
    value: float = 0.0  # target value per purchase row (injected clusters)


@dataclass
class Counts:
    filings: Counter
    codes: Counter
    purchases_by_issuer: Counter
    eligible: int = 0
    amendments: int = 0
    superseded: int = 0
    events: int = 0


def _e4(v: int) -> str:
    return f"{v // 10000}.{v % 10000:04d}"


def _table(rng: random.Random, mu: float, sd: float, n: int = 4096) -> list[int]:
    return [max(1, int(rng.lognormvariate(mu, sd))) for _ in range(n)]


class Generator:
    """Plans filings over [start, end] and turns them into COPY lines per table."""

    def __init__(
        self,
        shape: Shape,
        world: World,
        *,
        filings_per_year: float,
        rows_per_filing: float,
        clusters_per_year: float,
        seed: int,
        now: datetime,
    ) -> None:
        self.shape, self.world = shape, world
        rng = self.rng = random.Random(seed + 1)
        self.ciks = CikPool(rng)
        self.ciks.used.update(int(c) for c in world.owners)
        self.ciks.used.update(int(i.cik) for i in world.issuers)
        self.now = now
        self.now_txt = f"{now:%Y-%m-%d %H:%M:%S}+00"
        self.filings_per_year = filings_per_year
        self.clusters_per_year = clusters_per_year
        self.issuer_cum: list[float] = []
        total = 0.0
        for issuer in world.issuers:
            total += issuer.weight
            self.issuer_cum.append(total)
        self.form = Sampler(shape.form_mix)
        kinds = dict(shape.kind_mix)
        self.p_buy = kinds.pop("P", 0.0)
        self.kind = Sampler(kinds)
        self.owners_n = Sampler(shape.owners_per_filing)
        self.lag = Sampler(shape.lag_bdays)
        self.deriv_rows = Sampler(shape.deriv_rows)
        self.deriv_code = Sampler({k: v for k, v in shape.deriv_codes.items() if v > 0.001})
        self.deriv_ad = {k: Sampler(v) for k, v in shape.deriv_ad.items()}
        self.nd_hold = Sampler(shape.nd_holdings)
        self.d_hold = Sampler(shape.d_holdings)
        self.row_plan = self._row_plan(rows_per_filing)
        # The plan ignores clipping, Forms 3/5 and follow-on codes: correct it once by simulation.
        self.row_plan = self._row_plan(rows_per_filing, rows_per_filing / self._simulated_rows())
        # Random tables (4096 draws each) for the per-row quantities.
        self.sh_sale = _table(rng, math.log(4_000), 1.4)
        self.sh_grant = _table(rng, math.log(8_000), 1.2)
        self.sh_deriv = _table(rng, math.log(10_000), 1.2)
        self.sh_hold = _table(rng, math.log(20_000), 1.5)
        self.val_person = _table(rng, math.log(60_000), 1.2)  # assumption: officers/directors
        self.val_entity = _table(rng, *shape.purchase_value_log)  # measured: mostly 10% holders
        self.pos_person = _table(rng, math.log(60_000), 1.3)
        self.pos_entity = _table(rng, math.log(5_000_000), 1.3)
        self.noise = [1 + rng.gauss(0, 0.01) for _ in range(1024)]
        self.spread = [rng.uniform(0.002, 0.03) for _ in range(1024)]
        self.days = {d: d.isoformat() for d in world.cal.days}
        self.noon: dict[date, datetime] = {}
        self.counters: dict[tuple[str, int], int] = defaultdict(int)
        self.pending: dict[tuple[int, int], list[Spec]] = defaultdict(list)
        self.positions: dict[tuple[int, int], int] = {}
        self.tx_id = 0
        self.hold_id = 0
        self.counts = Counts(Counter(), Counter(), Counter())
        self.bulk_before = (now - timedelta(days=365)).date()
        self.extra: list[tuple[Issuer, float]] = []  # issuers outside the world with their own rate

    # --- calibration ---------------------------------------------------------------------------------

    def _simulated_rows(self, n: int = 40_000) -> float:
        rng = random.Random(1)
        saved, self.rng = self.rng, rng
        total = 0
        for _ in range(n):
            form = self.form(rng)
            if form == "3":
                continue
            kind = "P" if rng.random() < self.p_buy else str(self.kind(rng))
            total += 0 if kind == "deriv_only" else self._nd_rows(kind)
            dv = DERIV_FOR.get(kind)
            if kind == "deriv_only" or dv in ("M", "X") or (dv == "C" and rng.random() < 0.5):
                total += int(self.deriv_rows(rng))  # type: ignore[call-overload]
            elif rng.random() < 0.02:
                total += 1
        self.rng = saved
        return total / n

    def _row_plan(self, target: float, correction: float = 1.0) -> dict[str, tuple[list[int], float]]:
        """Per main code: the measured row counts and a factor that brings rows/filing to `target` with
        the measured per-row code mix (below 1 it thins extra rows, above 1 it multiplies the count).
        Purchases keep their measured counts; derivative rows come as measured."""
        s = self.shape
        deriv = (s.deriv_share + 0.02) * sum(k * w for k, w in s.deriv_rows.items())
        nd_share = 1 - s.kind_mix.get("deriv_only", 0)
        per_nd_filing = (target * correction - deriv) / (s.form_mix.get("4", 1) * nd_share)
        plan = {}
        for kind, rows in s.nd_rows_by_kind.items():
            mean = statistics.mean(rows)
            share = s.kind_mix.get(kind, 0) / nd_share
            want = per_nd_filing * s.nd_code_mix.get(kind, 0) / share if share else mean
            want = max(1.0, min(want, float(max(rows))))
            if kind == "P":
                plan[kind] = (rows, 1.0)
            elif want <= mean:
                plan[kind] = (rows, (want - 1) / (mean - 1) if mean > 1 else 0.0)
            else:
                plan[kind] = (rows, want / mean)
        self.plan_factors = {k: round(f, 3) for k, (_, f) in plan.items()}
        return plan

    def _nd_rows(self, kind: str) -> int:
        rows, f = self.row_plan.get(kind, ([1], 1.0))
        rng = self.rng
        k = rows[int(rng.random() * len(rows))]
        if f > 1:
            x = k * f
            return int(x) + (rng.random() < x - int(x))
        if k <= 1 or f >= 1:
            return k
        return 1 + sum(1 for _ in range(k - 1) if rng.random() < f)

    # --- planning ------------------------------------------------------------------------------------

    def _accession(self, issuer: Issuer, filed: date) -> str:
        prefix = issuer.cik if self.rng.random() < 0.4 else AGENTS[int(self.rng.random() * len(AGENTS))]
        key = (prefix, filed.year % 100)
        self.counters[key] += 1
        return f"{prefix}-{filed.year % 100:02d}-{self.counters[key]:06d}"

    def _known_at(self, filed: date) -> datetime:
        # Acceptance time ET: most Form 4s arrive after the close, up to EDGAR's 22:00 cut-off. Offsets
        # from noon ET avoid a time zone lookup per filing (no DST change between 06:00 and 22:00).
        noon = self.noon.get(filed)
        if noon is None:
            noon = self.noon[filed] = datetime.combine(filed, time(12), EASTERN).astimezone(UTC)
        r = self.rng.random()
        lo, hi = (6 * 3600, 34_199) if r < 0.15 else (34_200, 57_599) if r < 0.45 else (57_600, 79_199)
        return noon + timedelta(seconds=lo + int(self.rng.random() * (hi - lo)) - 43_200)

    def _insider(self, issuer: Issuer) -> Insider:
        n = self.owners_n(self.rng)
        if n != 1:
            return group_of(issuer, int(n), self.world, self.rng, self.ciks)  # type: ignore[call-overload]
        return issuer.pick(self.rng)

    def _spec(
        self,
        issuer: Issuer,
        filed: date,
        insider: Insider | None = None,
        kind: str | None = None,
        n_nd: int | None = None,
        lag: int | None = None,
    ) -> Spec:
        rng, cal = self.rng, self.world.cal
        insider = insider or self._insider(issuer)
        form = "4" if kind else str(self.form(rng))
        if kind is None:
            kind = "P" if rng.random() < min(0.5, self.p_buy * issuer.buy) else str(self.kind(rng))
            if form == "5":
                kind = "G" if rng.random() < 0.5 else "J"
        if n_nd is None:
            n_nd = 0 if kind == "deriv_only" else self._nd_rows(kind)
        lag = int(self.lag(rng)) if lag is None else lag  # type: ignore[call-overload]
        last = cal.add(filed, -lag) if form != "5" else cal.add(filed, -20 - int(rng.random() * 230))
        span = (0, 0, 0, 0, 1, 1, 2, 3)[int(rng.random() * 8)] if n_nd > 1 else 0
        first = cal.add(last, -min(span, n_nd))
        spec = Spec(self._known_at(filed), filed, first, last, issuer, insider, form, kind, n_nd)
        spec.accession = self._accession(issuer, filed)
        return spec

    def _maybe_amend(self, spec: Spec, out: list[Spec], month: tuple[int, int]) -> None:
        if spec.form == "3" or self.rng.random() >= self.shape.amendment_share:
            return
        lag = min(int(self.rng.expovariate(1 / 12)) + 1, 250)
        filed = self.world.cal.add(spec.filed, lag)
        if filed >= self.now.date():
            return
        amendment = Spec(
            self._known_at(filed),
            filed,
            spec.first,
            spec.last,
            spec.issuer,
            spec.insider,
            spec.form,
            spec.kind,
            spec.n_nd,
            amends=spec,
            value=spec.value,
        )
        amendment.accession = self._accession(spec.issuer, filed)
        # 70% restate the transactions (the original's rows become superseded); the rest fix a
        # footnote, remark or signature and leave the original's sections live.
        amendment.restate = self.rng.random() < 0.7
        if amendment.restate:
            spec.amended_by = amendment.accession
        key = (filed.year, filed.month)
        (out if key == month else self.pending[key]).append(amendment)

    def plan_events(self, start: date, end: date) -> None:
        """Inject multi-insider purchase clusters (and near-clusters of 2) over [start, end]."""
        rng, cal = self.rng, self.world.cal
        years = (end - start).days / 365.25
        # Background buying (heavy buyers, post-earnings windows) adds clusters of its own, about 0.4
        # for every injected one at the default shape (measured with bench runs at scales 0.02 and 1).
        n_events = int(self.clusters_per_year * years * INJECTED_SHARE / (1 - EVENT_SIZES[2]))
        sizes = Sampler(EVENT_SIZES)
        stress = [start + timedelta(days=rng.randint(0, max(1, (end - start).days - 60))) for _ in range(2)]
        weights, total = [], 0.0
        for issuer in self.world.issuers:
            total += math.sqrt(issuer.weight * issuer.buy)
            weights.append(total)
        days = [d for d in cal.days if start <= d <= end]
        for _ in range(n_events):
            issuer = rng.choices(self.world.issuers, cum_weights=weights)[0]
            while True:
                d0 = rng.choice(days)
                # Insiders buy in the open window after earnings, and in waves when markets fall.
                boost = 1 + 2 * (d0.month in (2, 5, 8, 11)) + 4 * any(0 <= (d0 - s).days < 42 for s in stress)
                if rng.random() < boost / 7:
                    break
            self.event(issuer, d0, int(sizes(rng)))  # type: ignore[call-overload]

    def event(self, issuer: Issuer, d0: date, size: int) -> None:
        """Plan `size` distinct insiders of `issuer` buying within ~2 weeks from `d0`."""
        rng, cal = self.rng, self.world.cal
        candidates = list(issuer.persons)
        if rng.random() < 0.15:
            n = rng.choice([k for k in self.shape.owners_per_filing if k > 1] or [2])
            candidates.append(group_of(issuer, int(n), self.world, rng, self.ciks))
        buyers = rng.sample(candidates, min(size, len(candidates)))
        offsets = sorted(rng.randint(0, 9) for _ in buyers)
        self.counts.events += 1
        for buyer, off in zip(buyers, offsets, strict=True):
            rows = rng.choice((1, 1, 1, 2, 2, 3))
            last = cal.add(d0, off + rows - 1)
            lag = int(self.lag(rng))  # type: ignore[call-overload]
            filed = cal.add(last, lag)
            if filed >= self.now.date():
                continue
            spec = self._spec(issuer, filed, insider=buyer, kind="P", n_nd=rows, lag=lag)
            spec.first = cal.add(last, -(rows - 1))
            table = self.val_entity if buyer.entity else self.val_person
            spec.value = table[rng.getrandbits(12)] / rows
            self.pending[(filed.year, filed.month)].append(spec)

    def plan_month(self, year: int, month: int) -> list[Spec]:
        """Background filings filed in one month, plus clusters and amendments due then, by known_at."""
        rng, world = self.rng, self.world
        out: list[Spec] = self.pending.pop((year, month), [])
        today = self.now.date()
        # Weekdays per year (holidays are not modelled), month weights normalized to a mean of 1.
        lam = self.filings_per_year / 261 * MONTH_WEIGHT[month - 1] / MEAN_MONTH_WEIGHT
        d = date(year, month, 1)
        while d.month == month:
            if d.weekday() < 5 and d < today:
                if d >= world.start:
                    n = max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5)) if lam > 30 else _poisson(rng, lam)
                    for issuer in rng.choices(world.issuers, cum_weights=self.issuer_cum, k=n):
                        out.append(self._spec(issuer, d))
                for issuer, per_day in self.extra:
                    for _ in range(_poisson(rng, per_day * MONTH_WEIGHT[month - 1] / MEAN_MONTH_WEIGHT)):
                        out.append(self._spec(issuer, d))
            d += timedelta(days=1)
        for spec in list(out):
            if spec.amends is None:
                self._maybe_amend(spec, out, (year, month))
        out = [s for s in out if s.known_at < self.now]
        out.sort(key=lambda s: s.known_at)
        return out

    # --- emission ------------------------------------------------------------------------------------

    def emit(self, specs: list[Spec], write: Callable[[str, list[str]], None]) -> None:
        """Turn planned filings into COPY lines for filing, filing_owner, insider_transaction,
        holding and footnote."""
        filings: list[str] = []
        owners: list[str] = []
        txs: list[str] = []
        holdings: list[str] = []
        notes: list[str] = []
        c = self.counts
        codes = c.codes
        for s in specs:
            acc = s.accession
            line, known = self._filing_line(s)
            filings.append(line)
            head = f"{acc}\t{known}\t"  # accession, and the filing's known_at copied to each row
            ins = s.insider
            d, off, ten, oth = ins.rel
            flags = f"{_b(d)}\t{_b(off)}\t{ins.title or N}\t{_b(ten)}\t{_b(oth)}\t{ins.other_text or N}\n"
            for pos, o in enumerate(ins.owners):
                owners.append(f"{acc}\t{o.cik}\t{pos}\t{o.name}\t{flags}")
            if s.amends is not None:
                # A restating amendment repeats the original's sections (and so supersedes them); the
                # others only correct a footnote, a remark or a signature.
                payload = (
                    s.amends.payload if s.restate and s.amends.payload else ((), (), (("F1", AMEND_NOTE),))
                )
            else:
                payload = self._rows(s)
            if s.amended_by:
                s.payload = payload
                tail = f"\t{s.amended_by}\tf\n"
            else:
                tail = f"\t{N}\t"
            tx_rows, hold_rows, fns = payload
            for table, idx, body, eligible, code in tx_rows:
                self.tx_id += 1
                if s.amended_by:
                    txs.append(f"{self.tx_id}\t{head}{table}\t{idx}\t{body}{tail}")
                    c.superseded += 1
                else:
                    txs.append(
                        f"{self.tx_id}\t{head}{table}\t{idx}\t{body}{tail}{'t' if eligible else 'f'}\n"
                    )
                    if eligible:
                        c.eligible += 1
                        c.purchases_by_issuer[s.issuer.idx] += 1
                codes[(table, code)] += 1
            sup = f"\t{s.amended_by or N}\n"
            for table, idx, body in hold_rows:
                self.hold_id += 1
                holdings.append(f"{self.hold_id}\t{acc}\t{table}\t{idx}\t{body}{sup}")
            for fid, text in fns:
                notes.append(f"{acc}\t{fid}\t{text}\n")
            c.filings[s.form + ("/A" if s.amends else "")] += 1
            c.amendments += s.amends is not None
        write("filing", filings)
        write("filing_owner", owners)
        write("insider_transaction", txs)
        write("holding", holdings)
        write("footnote", notes)

    def _filing_line(self, s: Spec) -> tuple[str, str]:
        if s.filed < self.bulk_before:
            # History from the SEC data sets: no acceptance time, known at 22:00 ET on the filing date.
            s.known_at = self.noon.get(s.filed) or datetime.combine(s.filed, time(12), EASTERN).astimezone(
                UTC
            )
            s.known_at += timedelta(hours=10)
            accepted, source, src = N, "filed_date", "bulk"
            ref = f"{s.filed.year}q{(s.filed.month - 1) // 3 + 1}_form345.zip"
            known = ingested = None
        else:
            known = s.known_at.isoformat(sep=" ")
            accepted, source, src = known, "accepted", "submission"
            ref = f"{s.issuer.cik.lstrip('0')}/{s.accession}.txt"
            ingested = (s.known_at + timedelta(minutes=2)).isoformat(sep=" ")
        known = known or s.known_at.isoformat(sep=" ")
        ingested = ingested or self.now_txt
        new_form = s.filed >= AFF10B5ONE_FROM
        aff = N if not new_form else ("t" if s.kind == "S" and self.rng.random() < 0.45 else "f")
        schema = "X0508" if new_form else ("X0306" if s.filed.year < 2021 else "X0407")
        filed = self.days[s.filed]
        sigs = ", ".join(f'{{"name": "/s/ {o.name}", "date": "{filed}"}}' for o in s.insider.owners)
        amend = s.amends
        remarks = "Exhibit 24 - Power of Attorney" if self.rng.random() < 0.04 else N
        sha = hashlib.sha256(s.accession.encode()).hexdigest()
        line = (
            f"{s.accession}\t{s.form}{'/A' if amend else ''}\t{s.form}\t{'t' if amend else 'f'}\t"
            f"{s.issuer.cik}\t{s.issuer.ticker}\t{accepted}\t{known}\t{source}\t{filed}\t{self.days[s.first]}\t"
            f"{self.days[amend.filed] if amend else N}\t{amend.accession if amend else N}\t{aff}\tf\t"
            f"{remarks}\t{schema}\t{PARSER_VERSION}\t{src}\t{ref}\t{sha}\t[{sigs}]\t[]\t{ingested}\t{ingested}\n"
        )
        return line, known

    def _rows(self, s: Spec) -> tuple:
        """Transaction, holding and footnote rows of one filing (bodies without id/accession)."""
        rng = self.rng
        fns: dict[str, str] = {}  # text -> footnote id
        if s.form == "3":
            holds = self._holdings(s, fns, force=True)
            return (), holds, tuple((fid, text) for text, fid in fns.items())
        tx: list[tuple] = []
        px = self.world.price(s.issuer, s.last, rng)
        if s.n_nd:
            follow = FOLLOW.get(s.kind, s.kind)
            day = s.first
            for idx in range(s.n_nd):
                code = s.kind if idx == 0 else follow[int(rng.random() * len(follow))]
                if idx and day < s.last and rng.random() < 0.5:
                    day = self.world.cal.add(day, 1)
                tx.append(self._nd_row(s, idx, code, day, px, fns))
        n_dv = 0
        dv_code = DERIV_FOR.get(s.kind)
        if s.kind == "deriv_only" or dv_code in ("M", "X") or (dv_code == "C" and rng.random() < 0.5):
            n_dv = int(self.deriv_rows(rng))  # type: ignore[call-overload]
        elif rng.random() < 0.02:
            n_dv = 1
        for idx in range(n_dv):
            code = dv_code if dv_code and s.kind != "deriv_only" else str(self.deriv_code(rng))
            tx.append(self._dv_row(s, idx, code, px, fns))
        holds = self._holdings(s, fns)
        return tuple(tx), holds, tuple((fid, text) for text, fid in fns.items())

    def _nd_row(self, s: Spec, idx: int, code: str, day: date, px: float, fns: dict[str, str]) -> tuple:
        rng = self.rng
        ins = s.insider
        r = rng.random
        ad = "A" if code in ACQUIRED or (code in "JCG" and r() < 0.5) else "D"
        px *= self.noise[rng.getrandbits(10)]
        price: int | None = int(px * 10000) or 1
        low = high = 0
        notes: list[str] = []
        flags = "[]"
        if code == "P":
            value = s.value or (self.val_entity if ins.entity else self.val_person)[rng.getrandbits(12)]
            shares = max(1, int(value / px))
        elif ad == "A":
            shares = self.sh_grant[rng.getrandbits(12)]
        else:
            shares = self.sh_sale[rng.getrandbits(12)]
        if code in "AGC":
            price = 0
        elif code == "J" and r() < 0.5:
            price = None
        elif code in "MX":
            price = int(price * (0.2 + 0.6 * r())) or 1
        if (code == "P" or code == "S") and r() < self.shape.price_range_share:
            u = self.spread[rng.getrandbits(10)]
            low, high = int(px * (1 - u) * 10000), int(px * (1 + u) * 10000) + 1
            text = RANGE_NOTE.format(
                verb="purchased" if code == "P" else "sold", low=_e4(low), high=_e4(high)
            )
            notes.append(f'"price": ["{fns.setdefault(text, f"F{len(fns) + 1}")}"]')
            flags = '["price_range_from_footnote"]'
            if code == "P" and r() < 0.03:
                price = None  # only the range was filed: the midpoint is used, flagged
        if price:
            psrc, value_txt = "explicit", _e4(shares * price)
        elif price is None and low:
            # Midpoint of the footnote range, to 6 places, times shares (as store.effective_price).
            v = shares * (low + high) * 50
            psrc, value_txt = "footnote_range", f"{v // 1_000_000}.{v % 1_000_000:06d}"
        else:
            psrc = value_txt = N
        code_notes = []
        plan = (code == "S" and r() < self.shape.sale_10b5_1_share) or (code == "P" and r() < 0.01)
        if plan:
            text = PLAN_NOTE.format(day=f"{s.first - timedelta(days=120):%B %d, %Y}")
            code_notes.append(fns.setdefault(text, f"F{len(fns) + 1}"))
        if code == "P" and r() < 0.02:
            code_notes.append(fns.setdefault(PLACEMENT_NOTE, f"F{len(fns) + 1}"))
        elif code == "A":
            code_notes.append(fns.setdefault(GRANT_NOTE, f"F{len(fns) + 1}"))
        if code_notes:
            notes.append('"code": [' + ", ".join(f'"{f}"' for f in code_notes) + "]")
        indirect = not ins.entity and r() < self.shape.indirect_share * 0.6
        if indirect:
            nature = NATURE[int(r() * len(NATURE))]
            notes.append(f'"nature_of_ownership": ["{fns.setdefault(TRUST_NOTE, f"F{len(fns) + 1}")}"]')
        else:
            nature = N
        key = (s.issuer.idx, ins.key * 2 + indirect)
        pos = self.positions.get(key)
        if pos is None:
            pos = (self.pos_entity if ins.entity else self.pos_person)[rng.getrandbits(12)]
            if code == "P" and r() < 0.08:
                pos = 0  # a new position: ΔOwn shows "new"
        if ad == "A":
            pos += shares
            before = pos - shares
        else:
            if pos < shares:
                pos += shares * 3
            pos -= shares
            before = pos + shares
        self.positions[key] = pos
        timeliness = "L" if (s.filed - s.last).days > 4 and r() < 0.3 else N
        eligible = code == "P" and ad == "A" and psrc != N
        body = (
            f"{s.issuer.cik}\t{'Common Stock' if r() < 0.8 else 'Class A Common Stock'}\t"
            f"{self.days[day]}\t{N}\t{s.form}\t{code}\t{ad}\t{shares}\t{N}\t"
            f"{N if price is None else _e4(price)}\t"
            f"{_e4(low) if low else N}\t{_e4(high) if high else N}\t{psrc}\t{value_txt}\t{pos}\t{N}\t"
            f"{before}\t"
            f"{'I' if indirect else 'D'}\t{nature}\tf\t{timeliness}\t{N}\t{N}\t{N}\t{N}\t{N}\t{N}\t"
            f"{{{', '.join(notes)}}}\t{flags}\t{'t' if plan else ('f' if s.filed >= AFF10B5ONE_FROM else N)}"
        )
        return ("non_derivative", idx, body, eligible, code)

    def _dv_row(self, s: Spec, idx: int, code: str, px: float, fns: dict[str, str]) -> tuple:
        rng = self.rng
        sampler = self.deriv_ad.get(code)
        ad = str(sampler(rng)) if sampler else "A"
        shares = self.sh_deriv[rng.getrandbits(12)]
        option = code in "MX" or rng.random() < 0.4
        after = self.sh_hold[rng.getrandbits(12)] + (shares if ad == "D" else 0)
        before = after - shares if ad == "A" else after + shares
        if option:
            strike = _e4(int(px * (0.3 + 0.7 * rng.random()) * 10000) or 1)
            title, fid = "Stock Option (Right to Buy)", fns.setdefault(OPTION_NOTE, f"F{len(fns) + 1}")
            exercisable = (s.last - timedelta(days=int(rng.random() * 1500))).isoformat()
            expires = (s.last + timedelta(days=300 + int(rng.random() * 3350))).isoformat()
        else:
            strike, exercisable, expires = N, N, N
            title, fid = "Restricted Stock Units", fns.setdefault(RSU_NOTE, f"F{len(fns) + 1}")
        body = (
            f"{s.issuer.cik}\t{title}\t{self.days[s.last]}\t{N}\t{s.form}\t{code}\t{ad}\t{shares}\t{N}\t0.0000\t"
            f"{N}\t{N}\t{N}\t{N}\t{after}\t{N}\t{before}\tD\t{N}\tf\t{N}\t{strike}\t{exercisable}\t{expires}\t"
            f'Common Stock\t{shares}\t{N}\t{{"exercise_date": ["{fid}"]}}\t[]\t{N}'
        )
        return ("derivative", idx, body, False, code)

    def _holdings(self, s: Spec, fns: dict[str, str], force: bool = False) -> tuple:
        rng, out = self.rng, []
        n_nd = int(self.nd_hold(rng)) if force or rng.random() < self.shape.nd_holding_share else 0  # type: ignore[call-overload]
        n_d = int(self.d_hold(rng)) if rng.random() < self.shape.d_holding_share else 0  # type: ignore[call-overload]
        cik = s.issuer.cik
        for idx in range(n_nd):
            nature = NATURE[int(rng.random() * len(NATURE))]
            shares = self.sh_hold[rng.getrandbits(12)]
            out.append(
                (
                    "non_derivative",
                    idx,
                    f"{cik}\tCommon Stock\t{shares}\t{N}\tI\t{nature}\t{N}\t{N}\t{N}\t{N}\t{N}\t{N}\t{{}}",
                )
            )
        if n_d:
            strike = _e4(int(self.world.price(s.issuer, s.last, rng) * 7000) or 1)
            expires = (s.last + timedelta(days=300 + int(rng.random() * 3350))).isoformat()
            for idx in range(n_d):
                shares = self.sh_deriv[rng.getrandbits(12)]
                out.append(
                    (
                        "derivative",
                        idx,
                        (
                            f"{cik}\tStock Option (Right to Buy)\t{shares}\t{N}\tD\t{N}\t{strike}\t{N}\t"
                            f"{expires}\tCommon Stock\t{shares}\t{N}\t{{}}"
                        ),
                    )
                )
        return tuple(out)


def _b(v: bool) -> str:
    return "t" if v else "f"


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def months_between(start: date, end: date) -> Iterator[tuple[int, int]]:
    """(year, month) pairs from start's month to end's month inclusive."""
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        yield y, m
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
