from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class Overview(BaseModel):
    filings: int
    transactions: int
    holdings: int
    errors: int
    latest_known_at: datetime | None


class RuleFacts(BaseModel):
    default_n: int
    default_w: int
    max_span_days: int
    n_range: tuple[int, int]
    w_range: tuple[int, int]
