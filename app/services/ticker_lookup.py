"""Which company a URL or a search names: ticker (current or past, BRK.B or BRK-B), CIK, close matches for
a 404 page, and the header search (issue 5 §2, §5)."""

from __future__ import annotations

import difflib
import re
from urllib.parse import quote

from sqlalchemy.orm import Session

from app.errors import NotFoundError
from app.models import Issuer
from app.repositories import ticker_pages as repo
from app.schemas.ticker import SearchInsider, SearchIssuer, SearchPage

SEARCH_LIMIT = 25
_CIK = re.compile(r"^\d{1,10}$")
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9.\-^=]{0,15}$")


def resolve_issuer(session: Session, symbol: str) -> Issuer:
    """Find the issuer a URL names by ticker (current or past) or by CIK, or raise NotFoundError."""
    text = (symbol or "").strip()
    if _CIK.match(text):
        issuer = repo.issuer_by_cik(session, text.zfill(10))
        if issuer is not None:
            return issuer
    sym = text.upper()
    if _SYMBOL.match(sym):
        # Class shares are written BRK.B by EDGAR and BRK-B by Yahoo: accept both spellings.
        for candidate in dict.fromkeys((sym, sym.replace("-", "."), sym.replace(".", "-"))):
            found = repo.issuers_by_ticker(session, candidate)
            if found:
                return found[0]
        for candidate in dict.fromkeys((sym, sym.replace("-", "."), sym.replace(".", "-"))):
            for cik in repo.issuer_ciks_by_past_ticker(session, candidate):
                issuer = repo.issuer_by_cik(session, cik)
                if issuer is not None:
                    return issuer
    raise NotFoundError(
        f"No company with ticker or CIK {text[:40]!r} is stored.",
        suggestions=suggest(session, text),
    )


def suggest(session: Session, text: str, *, limit: int = 5) -> list[str]:
    """Close matches among stored tickers and company names, as tickers (or CIKs) to link to."""
    needle = text.strip().upper()[:64]
    if not needle:
        return []
    by_ticker: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for cik, ticker, name in repo.issuer_directory(session):
        target = ticker or cik
        if ticker:
            by_ticker.setdefault(ticker.upper(), target)
        if name:
            by_name.setdefault(name.upper(), target)
    out: list[str] = []
    for match in difflib.get_close_matches(needle, list(by_ticker), n=limit, cutoff=0.5):
        out.append(by_ticker[match])
    # A name typed in part ("APPLE") or with a typo ("APPEL INC").
    out.extend(by_name[n] for n in sorted(by_name) if len(needle) >= 3 and needle in n)
    for match in difflib.get_close_matches(needle, list(by_name), n=limit, cutoff=0.6):
        out.append(by_name[match])
    return list(dict.fromkeys(out))[:limit]


def dashboard_url(issuer: Issuer) -> str:
    """The dashboard URL of an issuer: by ticker when it has one, else by CIK."""
    return "/ticker/" + quote(issuer.ticker or issuer.cik, safe="")


def search(session: Session, q: str | None) -> SearchPage:
    """Exact ticker/CIK → the dashboard to redirect to; otherwise companies and insiders matching `q`."""
    text = (q or "").strip()[:64]
    if not text:
        return SearchPage(q="", redirect_to=None, issuers=[], insiders=[])
    if _CIK.match(text):
        issuer = repo.issuer_by_cik(session, text.zfill(10))
        if issuer is not None:
            return SearchPage(q=text, redirect_to=dashboard_url(issuer), issuers=[], insiders=[])
        if repo.owner_by_cik(session, text.zfill(10)) is not None:
            return SearchPage(q=text, redirect_to=f"/insider/{text.zfill(10)}", issuers=[], insiders=[])
    elif _SYMBOL.match(text.upper()):
        found = repo.issuers_by_ticker(session, text.upper())
        if found:
            return SearchPage(q=text, redirect_to=dashboard_url(found[0]), issuers=[], insiders=[])
    issuers = [
        SearchIssuer(issuer_cik=i.cik, ticker=i.ticker, company=i.name, sector=i.sector)
        for i in repo.search_issuers(session, text, limit=SEARCH_LIMIT)
    ]
    insiders = [
        SearchInsider(owner_cik=o.cik, name=o.name or o.cik)
        for o in repo.search_owners(session, text, limit=SEARCH_LIMIT)
    ]
    return SearchPage(q=text, redirect_to=None, issuers=issuers, insiders=insiders)
