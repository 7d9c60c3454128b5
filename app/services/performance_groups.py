"""How the performance page groups clusters (pure): the default rule, the horizons, and the buyer-count,
role-mix, value and 10b5-1 buckets its filters and breakdowns use."""

from __future__ import annotations

from collections.abc import Iterable

from app.analytics import performance as pf
from app.schemas.performance import PerformanceFilters, RoleMix, ValueBucket
from app.services import roles as roles_service
from app.services.clustering_core import DEFAULT_N, DEFAULT_W

DEFAULT_RULE = (DEFAULT_N, DEFAULT_W)
HORIZONS = pf.HORIZONS
DEFAULT_SEED = PerformanceFilters().seed
DEFAULT_H = PerformanceFilters().h

BUYER_GROUPS = [("2", "2 buyers"), ("3", "3 buyers"), ("4", "4 buyers"), ("5+", "5 or more buyers")]
ROLE_GROUPS = [
    (RoleMix.ceo_cfo.value, "CEO or CFO among the buyers"),
    (RoleMix.directors_only.value, "Directors only"),
    (RoleMix.ten_percent_only.value, "10% owners only"),
    (RoleMix.other.value, "Other mixes"),
]
VALUE_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    ValueBucket.under_100k.value: (None, 100_000.0),
    ValueBucket.k100_1m.value: (100_000.0, 1_000_000.0),
    ValueBucket.m1_10m.value: (1_000_000.0, 10_000_000.0),
    ValueBucket.over_10m.value: (10_000_000.0, None),
}
VALUE_GROUPS = [
    (ValueBucket.under_100k.value, "Under $100k"),
    (ValueBucket.k100_1m.value, "$100k–$1M"),
    (ValueBucket.m1_10m.value, "$1M–$10M"),
    (ValueBucket.over_10m.value, "$10M or more"),
]
PLAN_GROUPS = [("with", "A 10b5-1 purchase among the members"), ("without", "No 10b5-1 flag")]


def buyers_bucket(n_buyers: int) -> str:
    """2, 3, 4 or 5+ distinct buyers."""
    return "5+" if n_buyers >= 5 else str(n_buyers)


def role_mix(roles: Iterable[str], flags: Iterable[str]) -> str:
    """The cluster's role mix: ceo_cfo, directors_only, ten_percent_only or other."""
    present, flagged = set(roles), set(flags)
    if "ten_percent_owner_only" in flagged:
        return RoleMix.ten_percent_only.value
    if present & {roles_service.CEO, roles_service.CFO}:
        return RoleMix.ceo_cfo.value
    if present == {roles_service.DIRECTOR}:
        return RoleMix.directors_only.value
    return RoleMix.other.value


def value_bucket(total_value: float) -> str:
    """The value bucket of a cluster's total purchase value."""
    for key, (low, high) in VALUE_BOUNDS.items():
        if (low is None or total_value >= low) and (high is None or total_value < high):
            return key
    return ValueBucket.over_10m.value
