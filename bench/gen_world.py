"""The synthetic market behind bench/generate.py: calendar, issuers, insiders and price paths.

Shapes come from gen_shape.Shape (measured); the few things the corpus cannot show (roster sizes,
how purchases spread over issuers) are stated as assumptions next to the code that makes them.
"""

from __future__ import annotations

import bisect
import math
import random
import string
from dataclasses import dataclass, field
from datetime import date, timedelta

from gen_shape import Shape

from app.ingest.reference_data import sic_to_sector
from app.services.roles import CEO, CFO, classify_roles

# SIC codes common among Form 4 issuers, with rough weights (assumption; the corpus has no SIC data).
SIC_CODES = (
    (2834, "PHARMACEUTICAL PREPARATIONS", 9),
    (6022, "STATE COMMERCIAL BANKS", 8),
    (7372, "SERVICES-PREPACKAGED SOFTWARE", 7),
    (6798, "REAL ESTATE INVESTMENT TRUSTS", 5),
    (2836, "BIOLOGICAL PRODUCTS", 4),
    (1311, "CRUDE PETROLEUM & NATURAL GAS", 4),
    (6770, "BLANK CHECKS", 4),
    (3674, "SEMICONDUCTORS & RELATED DEVICES", 3),
    (7370, "SERVICES-COMPUTER PROGRAMMING, DATA PROCESSING", 3),
    (3841, "SURGICAL & MEDICAL INSTRUMENTS", 3),
    (6021, "NATIONAL COMMERCIAL BANKS", 3),
    (6035, "SAVINGS INSTITUTION, FEDERALLY CHARTERED", 2),
    (4911, "ELECTRIC SERVICES", 2),
    (6311, "LIFE INSURANCE", 1),
    (6331, "FIRE, MARINE & CASUALTY INSURANCE", 2),
    (5812, "RETAIL-EATING PLACES", 2),
    (3711, "MOTOR VEHICLES & PASSENGER CAR BODIES", 1),
    (4813, "TELEPHONE COMMUNICATIONS", 1),
    (2860, "INDUSTRIAL ORGANIC CHEMICALS", 1),
    (3560, "GENERAL INDUSTRIAL MACHINERY", 2),
    (8731, "COMMERCIAL PHYSICAL & BIOLOGICAL RESEARCH", 2),
    (5961, "RETAIL-CATALOG & MAIL-ORDER HOUSES", 1),
    (1000, "METAL MINING", 2),
    (4400, "WATER TRANSPORTATION", 1),
    (2000, "FOOD AND KINDRED PRODUCTS", 1),
    (6199, "FINANCE SERVICES", 2),
    (7389, "SERVICES-BUSINESS SERVICES, NEC", 2),
)
FIRST = (
    "John Michael David James Robert William Richard Thomas Mark Steven Paul Daniel Christopher Jeffrey "
    "Mary Patricia Jennifer Linda Elizabeth Susan Karen Nancy Lisa Margaret Sandra Ashley Laura Sarah "
    "Kevin Brian George Edward Ronald Timothy Jason Matthew Gary Eric Stephen Andrew Kenneth Joshua"
).split()
LAST = (
    "Smith Johnson Williams Brown Jones Miller Davis Garcia Rodriguez Wilson Martinez Anderson Taylor "
    "Thomas Hernandez Moore Martin Jackson Thompson White Lopez Lee Gonzalez Harris Clark Lewis Robinson "
    "Walker Perez Hall Young Allen Sanchez Wright King Scott Green Baker Adams Nelson Hill Ramirez Campbell "
    "Mitchell Roberts Carter Phillips Evans Turner Torres Parker Collins Edwards Stewart Flores Morris"
).split()
SYLLABLES = (
    "ar bel cor dan el fin gen hal ix jor kal lum mar nov or pax quan ros sol tek ur vex wil xen yor zan"
).split()
ENTITY_FORMS = (
    "Capital Partners, L.P.",
    "Fund II, L.P.",
    "Management LLC",
    "GP, LLC",
    "Holdings LLC",
    "Opportunity Fund LP",
    "Advisors LLC",
    "Master Fund Ltd.",
    "Investors III, L.P.",
)


def _choice(dist: dict, rng: random.Random) -> object:
    keys = list(dist)
    return rng.choices(keys, weights=[dist[k] for k in keys])[0]


class Sampler:
    """Fast repeated draws from a discrete distribution (cumulative weights + bisect)."""

    def __init__(self, dist: dict) -> None:
        self.keys = list(dist)
        total, self.cum = 0.0, []
        for k in self.keys:
            total += float(dist[k])
            self.cum.append(total)
        self.total = total

    def __call__(self, rng: random.Random) -> object:
        return self.keys[bisect.bisect_right(self.cum, rng.random() * self.total)]


@dataclass(slots=True)
class Owner:
    cik: str
    name: str
    entity: bool


@dataclass(slots=True)
class Insider:
    """One filer on one issuer: a person, a single entity, or a joint-filing group."""

    key: int
    owners: tuple[Owner, ...]
    rel: tuple[bool, bool, bool, bool]  # director, officer, 10% owner, other
    title: str | None
    other_text: str | None
    weight: float
    roles: frozenset[str] = frozenset()

    @property
    def entity(self) -> bool:
        return self.owners[0].entity


@dataclass(slots=True)
class Issuer:
    idx: int
    cik: str
    name: str
    ticker: str
    exchange: str | None
    sic: int
    sic_description: str
    sector: str
    weight: float  # relative filing activity
    buy: float  # relative purchase propensity (heavy-tailed)
    path: list[float]  # month-end prices
    insiders: list[Insider] = field(default_factory=list)
    persons: list[Insider] = field(default_factory=list)
    groups: dict[int, Insider] = field(default_factory=dict)  # joint-filing group by size
    cum: list[float] = field(default_factory=list)
    daily: dict[date, float] | None = None  # exact raw closes (the dashboard ticker only)

    def pick(self, rng: random.Random) -> Insider:
        return self.insiders[bisect.bisect_right(self.cum, rng.random() * self.cum[-1])]


class Calendar:
    """Business days (Mon–Fri) with index arithmetic for filing lags."""

    def __init__(self, start: date, end: date) -> None:
        days, d = [], start
        while d <= end:
            if d.weekday() < 5:
                days.append(d)
            d += timedelta(days=1)
        self.days = days
        self.index = {d: i for i, d in enumerate(days)}
        self.start, self.end = start, end

    def add(self, d: date, n: int) -> date:
        i = self.index.get(d)
        if i is None:
            i = bisect.bisect_left(self.days, d)
        return self.days[max(0, min(len(self.days) - 1, i + n))]


@dataclass
class World:
    issuers: list[Issuer]
    owners: dict[str, Owner]
    start: date
    end: date
    months: int
    cal: Calendar

    def price(self, issuer: Issuer, d: date, rng: random.Random) -> float:
        """The stock's price on `d` with a little intraday noise."""
        if issuer.daily is not None:
            base = issuer.daily.get(d) or issuer.daily.get(self.cal.add(d, -1)) or issuer.path[-1]
        else:
            m = (d.year - self.start.year) * 12 + d.month - self.start.month
            base = issuer.path[max(0, min(self.months - 1, m))]
        return max(0.01, base * (1 + rng.gauss(0, 0.01)))


class CikPool:
    """Unique 10-digit CIKs: issuers below 2,000,000, owners above."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[int] = set()

    def take(self, low: int, high: int) -> str:
        while True:
            n = self.rng.randint(low, high)
            if n not in self.used:
                self.used.add(n)
                return f"{n:010d}"


def _person_name(rng: random.Random) -> str:
    # Form 4 reportingOwner names are filed "Last First Middle".
    return f"{rng.choice(LAST)} {rng.choice(FIRST)} {rng.choice(string.ascii_uppercase)}"


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3)))).capitalize()


def build_world(
    shape: Shape, *, n_issuers: int, start: date, end: date, seed: int, history_start: date | None = None
) -> World:
    """Issuers with tickers, sectors, price paths and insider rosters."""
    rng = random.Random(seed)
    ciks = CikPool(rng)
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    tickers: set[str] = set()
    lengths = Sampler(shape.ticker_lengths)
    exchanges = Sampler(shape.exchange_mix)
    tails = Sampler(shape.name_tails)
    sics = Sampler({(c, d): w for c, d, w in SIC_CODES})
    mu, sd = shape.issuer_price_log
    # Assumption: filing activity per issuer is log-normal (a few mega-caps file hundreds a year) and
    # purchase propensity is Pareto (most issuers see few purchases, some see many), alpha 1.2.
    activity = [rng.lognormvariate(0, 0.9) for _ in range(n_issuers)]
    buy = [min(rng.paretovariate(1.2), 60.0) for _ in range(n_issuers)]
    mean_w = sum(activity) / n_issuers
    mean_b = sum(a * b for a, b in zip(activity, buy, strict=True)) / sum(activity)
    owners: dict[str, Owner] = {}
    directors_pool: list[Owner] = []
    titles = _title_buckets(shape)
    rels = _person_relationships(shape)
    issuers = []
    for i in range(n_issuers):
        while True:
            ticker = "".join(rng.choices(string.ascii_uppercase, k=int(lengths(rng))))  # type: ignore[call-overload]
            if ticker not in tickers and ticker not in ("SPY",):
                tickers.add(ticker)
                break
        sic, sic_desc = sics(rng)  # type: ignore[misc]
        price, vol, path = math.exp(rng.gauss(mu, sd)), rng.uniform(0.25, 0.7), []
        price = min(max(price, 0.2), 3000.0)
        for _ in range(months):
            price *= math.exp(rng.gauss(0.005, vol / math.sqrt(12)))
            path.append(round(min(max(price, 0.05), 20000.0), 4))
        exchange = exchanges(rng)
        issuer = Issuer(
            idx=i,
            cik=ciks.take(1_000, 1_999_999),
            name=f"{_word(rng)} {tails(rng)}",
            ticker=ticker,
            exchange=None if exchange == "none" else str(exchange),
            sic=int(sic),
            sic_description=str(sic_desc),
            sector=sic_to_sector(sic),
            weight=activity[i] / mean_w,
            buy=buy[i] / mean_b,
            path=path,
        )
        _roster(issuer, rng, ciks, owners, directors_pool, titles, rels)
        issuers.append(issuer)
    cal = Calendar(min(start, history_start or start) - timedelta(days=400), end + timedelta(days=400))
    return World(issuers, owners, start, end, months, cal)


def _person_relationships(shape: Shape) -> Sampler:
    # 10%-only owners come as funds and joint-filing groups, not as people.
    return Sampler({k: v for k, v in shape.relationships.items() if k[0] or k[1] or k[3]})


def _title_buckets(shape: Shape) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"ceo": [], "cfo": [], "other": []}
    for title in shape.officer_titles:
        roles = classify_roles(False, True, title, False, False, None)
        out["ceo" if CEO in roles else "cfo" if CFO in roles else "other"].append(title)
    out["cfo"] = out["cfo"] or ["Chief Financial Officer"]
    return out


def _new_owner(owners: dict[str, Owner], ciks: CikPool, name: str, entity: bool) -> Owner:
    owner = Owner(ciks.take(2_000_000, 2_999_999), name, entity)
    owners[owner.cik] = owner
    return owner


def _roster(
    issuer: Issuer,
    rng: random.Random,
    ciks: CikPool,
    owners: dict[str, Owner],
    directors_pool: list[Owner],
    titles: dict[str, list[str]],
    rels: Sampler,
    size: int | None = None,
) -> None:
    # Assumption: 4 + log-normal(median 7) insiders per issuer, more for active issuers; a CEO and a
    # CFO each; 8% of director seats go to people who also sit on other boards.
    if size is None:
        size = 4 + int(rng.lognormvariate(math.log(7), 0.5) * min(2.5, issuer.weight**0.3))
    people: list[Insider] = []
    for k in range(size):
        if k == 0:
            rel, title = (rng.random() < 0.6, True, False, False), rng.choice(titles["ceo"])
        elif k == 1:
            rel, title = (False, True, False, False), rng.choice(titles["cfo"])
        else:
            rel = rels(rng)  # type: ignore[assignment]
            title = rng.choice(titles["other"]) if rel[1] else None
        if rel[0] and not rel[1] and directors_pool and rng.random() < 0.08:
            owner = rng.choice(directors_pool)
        else:
            owner = _new_owner(owners, ciks, _person_name(rng), False)
            if rel[0]:
                directors_pool.append(owner)
        other = "See Remarks" if rel[3] else None
        weight = 1.4 if rel[1] else 0.7
        people.append(Insider(len(people), (owner,), rel, title, other, weight))
    # A 10% holder (a single fund) on about a third of issuers.
    if rng.random() < 0.35:
        fund = _new_owner(owners, ciks, f"{_word(rng)} {rng.choice(ENTITY_FORMS)}", True)
        people.append(Insider(len(people), (fund,), (False, False, True, False), None, None, 0.5))
    issuer.persons = people
    issuer.insiders = list(people)
    for ins in people:
        ins.roles = frozenset(
            classify_roles(ins.rel[0], ins.rel[1], ins.title, ins.rel[2], ins.rel[3], ins.other_text)
        )
    _reweigh(issuer)


def _reweigh(issuer: Issuer) -> None:
    total, issuer.cum = 0.0, []
    for ins in issuer.insiders:
        total += ins.weight
        issuer.cum.append(total)


def group_of(issuer: Issuer, size: int, world: World, rng: random.Random, ciks: CikPool) -> Insider:
    """The issuer's joint-filing group of `size` owners (a fund family: funds, GP, manager), made once."""
    group = issuer.groups.get(size)
    if group is None:
        base = _word(rng)
        members = tuple(
            _new_owner(world.owners, ciks, f"{base} {ENTITY_FORMS[j % len(ENTITY_FORMS)]}", True)
            for j in range(size)
        )
        group = Insider(len(issuer.insiders), members, (False, False, True, False), None, None, 0.0)
        group.roles = frozenset(classify_roles(False, False, None, True, False, None))
        issuer.groups[size] = group
        issuer.insiders.append(group)
        _reweigh(issuer)
    return group


@dataclass
class Bar:
    day: date
    open: float
    high: float
    low: float
    close: float
    adj_close: float
    volume: int


def daily_bars(
    cal: Calendar,
    start: date,
    end: date,
    *,
    first: float,
    drift: float,
    vol: float,
    yield_: float,
    splits: dict[date, float],
    rng: random.Random,
) -> list[Bar]:
    """A random-walk daily series of raw prices (dropping by the ratio on each split's ex-date) with a
    split- and dividend-adjusted close, as yfinance returns them with auto_adjust=False."""
    days = [d for d in cal.days if start <= d <= end]
    bars, close = [], first
    step_mu, step_sd = drift / 252, vol / math.sqrt(252)
    for d in days:
        prev = close
        if d in splits:
            prev /= splits[d]
        close = prev * math.exp(rng.gauss(step_mu, step_sd))
        open_ = prev * math.exp(rng.gauss(0, step_sd / 3))
        high = max(open_, close) * (1 + abs(rng.gauss(0, step_sd / 2)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, step_sd / 2)))
        bars.append(Bar(d, open_, high, low, close, close, int(rng.lognormvariate(math.log(3e6), 0.5))))
    # Adjusted close: divide by every later split, and discount by the dividends paid since.
    factor = 1.0
    for bar in reversed(bars):
        bar.adj_close = bar.close * factor
        if bar.day in splits:
            factor /= splits[bar.day]
        factor *= 1 - yield_ / 252
    return bars


def dashboard_issuer(
    shape: Shape,
    world: World,
    *,
    ticker: str,
    start: date,
    end: date,
    rng: random.Random,
    splits: dict[date, float],
) -> tuple[Issuer, list[Bar]]:
    """The one issuer with 20 years of filings and prices that the dashboard benchmark opens."""
    bars = daily_bars(
        world.cal, start, end, first=40.0, drift=0.12, vol=0.38, yield_=0.0, splits=splits, rng=rng
    )
    ciks = CikPool(rng)
    ciks.used.update(int(c) for c in world.owners)
    ciks.used.update(int(i.cik) for i in world.issuers)
    issuer = Issuer(
        idx=len(world.issuers),
        cik=ciks.take(1_000, 1_999_999),
        name="Clusterbuy Dashboard Holdings, Inc.",
        ticker=ticker,
        exchange="Nasdaq",
        sic=3674,
        sic_description="SEMICONDUCTORS & RELATED DEVICES",
        sector=sic_to_sector(3674),
        weight=1.0,
        buy=3.0,
        path=[bars[-1].close],
    )
    issuer.daily = {b.day: b.close for b in bars}
    _roster(issuer, rng, ciks, world.owners, [], _title_buckets(shape), _person_relationships(shape), size=24)
    return issuer, bars
