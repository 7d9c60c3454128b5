from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class Overview(BaseModel):
    filings: int
    transactions: int
    holdings: int
    errors: int
    latest_known_at: datetime | None
