"""Benchmark find_clusters on a synthetic 10-year US-sized set of eligible purchases (~300k rows).

Usage: .venv/bin/python bench/clustering.py [--purchases 300000] [--n 3] [--w 14] [--seed 7]
The generator mimics the shapes that matter for the algorithm: post-earnings buying windows with
several insiders, joint filers, funds buying daily for months, late filings and chain duplicates.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from app.services.clustering_core import PurchaseRecord, find_clusters

START = date(2015, 1, 1)
DAYS = 3652
CENT = Decimal("0.01")


class _Ids:
    def __init__(self) -> None:
        self.txn = 0
        self.acc = 0

    def accession(self) -> str:
        self.acc += 1
        return f"0000000000-{self.acc // 100000:02d}-{self.acc % 100000:06d}"


def _known_at(rng: random.Random, last_trade: date) -> datetime:
    """Acceptance time: mostly within 2 business days, sometimes late (DESIGN §2 point in time)."""
    roll = rng.random()
    lag = (
        rng.choice((1, 1, 2)) if roll < 0.85 else rng.randint(3, 10) if roll < 0.95 else rng.randint(11, 120)
    )
    accepted = last_trade + timedelta(days=lag)
    return datetime(accepted.year, accepted.month, accepted.day, tzinfo=UTC) + timedelta(
        minutes=rng.randint(12 * 60, 23 * 60)
    )


def _filing(
    rng: random.Random, ids: _Ids, issuer: str, owners: frozenset[str], days: list[date], price: Decimal
) -> list[PurchaseRecord]:
    accession = ids.accession()
    known_at = _known_at(rng, max(days))
    rows = []
    for d in days:
        ids.txn += 1
        shares = Decimal(rng.choice((100, 500, 1000, 2500, 5000, 10000, rng.randint(1, 50000))))
        p = (price * Decimal(rng.uniform(0.97, 1.03))).quantize(CENT)
        rows.append(PurchaseRecord(ids.txn, issuer, accession, owners, d, known_at, shares, p, shares * p))
    return rows


def generate(target: int, seed: int = 7) -> list[PurchaseRecord]:
    """Generate about `target` eligible purchases over 10 years for ~6,000 issuers."""
    rng = random.Random(seed)
    ids = _Ids()
    out: list[PurchaseRecord] = []
    issuer_no = 0
    while len(out) < target:
        issuer_no += 1
        issuer = f"{issuer_no:010d}"
        price = Decimal(rng.lognormvariate(3, 1)).quantize(CENT)
        insiders = [frozenset({f"{issuer_no:06d}{k:04d}"}) for k in range(rng.randint(4, 15))]
        if rng.random() < 0.2:  # a fund filing jointly with its GP and manager
            insiders.append(frozenset(f"{issuer_no:06d}9{k:03d}" for k in range(3)))
        activity = min(0.9, rng.lognormvariate(-2.2, 1.0))
        for quarter in range(40):  # post-earnings trading windows
            if rng.random() >= activity:
                continue
            window = START + timedelta(days=quarter * 91 + rng.randint(20, 40))
            for owners in rng.sample(insiders, min(len(insiders), 1 + int(rng.expovariate(0.7)))):
                for _ in range(rng.choice((1, 1, 1, 2, 3))):
                    first = window + timedelta(days=rng.randint(0, 20))
                    days = [first + timedelta(days=k) for k in range(rng.choice((1, 1, 1, 2, 4)))]
                    out.extend(_filing(rng, ids, issuer, owners, days, price))
        if rng.random() < 0.03:  # a 10% owner accumulating daily for months, with chain copies
            fund = insiders[-1]
            day = START + timedelta(days=rng.randint(0, DAYS - 200))
            for _ in range(rng.randint(20, 120)):
                days = [day + timedelta(days=k) for k in range(rng.randint(1, 5))]
                rows = _filing(rng, ids, issuer, fund, days, price)
                out.extend(rows)
                if rng.random() < 0.3:  # the same block filed again by another entity of the chain
                    copy_acc = ids.accession()
                    for r in rows:
                        ids.txn += 1
                        out.append(
                            PurchaseRecord(
                                ids.txn, issuer, copy_acc, frozenset({f"{issuer_no:06d}8000"}),
                                r.trade_date, r.known_at + timedelta(hours=1), r.shares, r.price, r.value,
                            )
                        )  # fmt: skip
                day = max(days) + timedelta(days=rng.randint(1, 4))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purchases", type=int, default=300_000)
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--w", type=int, default=14)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    purchases = generate(args.purchases, args.seed)
    issuers = len({p.issuer_cik for p in purchases})
    print(f"generated {len(purchases):,} purchases, {issuers:,} issuers")
    best = best_cpu = float("inf")
    for _ in range(args.repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        clusters = find_clusters(purchases, n=args.n, w=args.w)
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - started_cpu)
    members = sum(len(c.members) for c in clusters)
    print(f"N={args.n} W={args.w}: {len(clusters):,} clusters, {members:,} member rows")
    rate = len(purchases) / best
    print(f"best of {args.repeat}: {best:.2f} s wall ({best_cpu:.2f} s CPU) = {rate:,.0f} purchases/s")


if __name__ == "__main__":
    main()
