"""Each issuer's and each buyer's eligible purchases totalled from each of their filing times on
(PurchasesSince, BuyerSince): what the screener shows for a window with no end, read as one row per
company and per buyer. Also the ΔOwn rules the screener applies to the rows it computes on request, so
that stored and computed medians are one computation."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import groupby
from typing import Any

from app.models.purchase import OWNER_NAME_SEPARATOR
from app.services import roles as roles_service


def _role_bits(*names: str) -> int:
    # clustering.roles_bits' bits; clustering imports this module, so not imported from there.
    return sum(1 << roles_service.ROLE_ORDER.index(name) for name in names)


TEN_PERCENT_BIT = _role_bits(roles_service.TEN_PERCENT_OWNER)
MANAGEMENT_MASK = _role_bits(
    roles_service.CEO, roles_service.CFO, roles_service.OFFICER, roles_service.DIRECTOR
)


def is_ten_percent_only(role_bits: int) -> bool:
    """A buyer whose filers hold the 10% owner role and none an officer's or director's."""
    return bool(role_bits & TEN_PERCENT_BIT) and not role_bits & MANAGEMENT_MASK


def delta_own(shares: Decimal, before: Decimal | None) -> tuple[float | None, bool]:
    """ΔOwn = shares bought ÷ shares held before; (None, True) for a new position, (None, False) unknown."""
    if before is None:
        return None, False
    if before <= 0:
        return None, True
    return float(shares / before), False


def median_delta_own(buyers: Iterable[tuple[float | None, bool]]) -> tuple[float | None, bool]:
    """The median of buyers' ΔOwn (delta_own's pairs) whose holding is known, a new position counting
    above any ratio (the mean of the middle two for an even count): (median, False), (None, True) when
    the median is a new position, (None, False) when no holding is known."""
    known: list[float] = []
    for ratio, new in buyers:
        if new:
            known.append(math.inf)
        elif ratio is not None:
            known.append(ratio)
    if not known:
        return None, False
    median = statistics.median(known)
    return (None, True) if math.isinf(median) else (median, False)


def _first_order(p: Mapping[str, Any]) -> tuple[Any, ...]:
    """A buyer's purchases in order (the first one's holding before it is ΔOwn's base)."""
    return (p["trade_date"], p["known_at"], p["accession"], p["transaction_id"])


@dataclass(slots=True)
class _Buyer:
    """One buyer's purchases from some filing time on."""

    value: Decimal = Decimal(0)
    shares: Decimal = Decimal(0)
    first: tuple[Any, ...] | None = None
    before: Decimal | None = None
    roles: int = 0
    flags: int = 0
    # name -> (earliest trade date, earliest filing time, first place on a filing) of purchases naming it
    names: dict[str, tuple[date, datetime, int]] = field(default_factory=dict)

    def add(self, p: Mapping[str, Any]) -> None:
        if not p["is_block_copy"]:
            self.value += p["value"]
            self.shares += p["shares"]
        order = _first_order(p)
        if self.first is None or order < self.first:
            self.first, self.before = order, p["shares_owned_before"]
        self.roles |= p["roles"]
        self.flags |= p["flags"]
        for place, name in enumerate(p["owner_names"].split(OWNER_NAME_SEPARATOR)):
            seen = self.names.get(name)
            here = (p["trade_date"], p["known_at"], place)
            self.names[name] = (
                here
                if seen is None
                else (min(seen[0], here[0]), min(seen[1], here[1]), min(seen[2], here[2]))
            )

    def names_in_order(self) -> str:
        ordered = sorted(self.names.items(), key=lambda item: (*item[1], item[0]))
        return OWNER_NAME_SEPARATOR.join(name for name, _ in ordered)


def since_totals(purchases: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """PurchasesSince and BuyerSince rows of these EligiblePurchase rows (every purchase of their
    issuers): each issuer's filing times from the latest back, its purchases and its buyers' added up
    as each time is reached."""
    issuer_rows: list[dict[str, Any]] = []
    buyer_rows: list[dict[str, Any]] = []
    by_issuer: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for p in purchases:
        by_issuer[p["issuer_cik"]].append({**p, "known_at": p["known_at"].astimezone(UTC)})
    for cik, rows in sorted(by_issuer.items()):
        rows.sort(key=lambda p: p["known_at"], reverse=True)
        buyers: dict[str, _Buyer] = {}
        buyer_steps: dict[str, list[dict[str, Any]]] = defaultdict(list)  # latest first
        issuer_steps: list[dict[str, Any]] = []  # latest first
        n = 0
        value = shares = Decimal(0)
        first_trade = last_trade = None
        clusters: list[str] = []
        for known_at, at_once in groupby(rows, key=lambda p: p["known_at"]):
            touched: set[str] = set()
            for p in at_once:
                n += 1
                if not p["is_block_copy"]:
                    value += p["value"]
                    shares += p["shares"]
                first_trade = p["trade_date"] if first_trade is None else min(first_trade, p["trade_date"])
                last_trade = p["trade_date"] if last_trade is None else max(last_trade, p["trade_date"])
                if p["cluster_id"] is not None:
                    clusters.append(p["cluster_id"])
                buyers.setdefault(p["buyer_key"], _Buyer()).add(p)
                touched.add(p["buyer_key"])
            median, new = median_delta_own(delta_own(b.shares, b.before) for b in buyers.values())
            issuer_steps.append(
                {
                    "issuer_cik": cik,
                    "known_at": known_at,
                    "n_purchases": n,
                    "n_buyers": len(buyers),
                    "value": value,
                    "shares": shares,
                    "first_trade_date": first_trade,
                    "last_trade_date": last_trade,
                    "latest_known_at": rows[0]["known_at"],
                    "cluster_id": max(clusters) if clusters else None,
                    "ten_percent_only": all(is_ten_percent_only(b.roles) for b in buyers.values()),
                    "delta_own_new": new,
                    "delta_own_median": median,
                }
            )
            for key in sorted(touched):
                b = buyers[key]
                buyer_steps[key].append(
                    {
                        "issuer_cik": cik,
                        "buyer_key": key,
                        "known_at": known_at,
                        "value": b.value,
                        "shares": b.shares,
                        "before_first_purchase": b.before,
                        "roles": b.roles,
                        "flags": b.flags,
                        "owner_names": b.names_in_order(),
                    }
                )
        issuer_rows.extend(_with_previous(issuer_steps))
        for key in sorted(buyer_steps):
            buyer_rows.extend(_with_previous(buyer_steps[key]))
    return issuer_rows, buyer_rows


def _with_previous(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows from the latest filing time back, each with the next one's time as its previous."""
    for later, earlier in zip(steps, steps[1:], strict=False):
        later["previous_known_at"] = earlier["known_at"]
    if steps:
        steps[-1]["previous_known_at"] = None
    return steps
