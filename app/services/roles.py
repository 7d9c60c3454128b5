"""Insider roles from Form 4 relationship boxes and titles, and footnote flags for purchases.

Pure text rules behind DESIGN §2 "roles" (CEO, CFO, other officer, director, 10% owner) and the
flags "10% owner only", "possible private placement" and the 10b5-1 footnote fallback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

CEO, CFO, OFFICER, DIRECTOR, TEN_PERCENT_OWNER, OTHER = (
    "CEO",
    "CFO",
    "officer",
    "director",
    "ten_percent_owner",
    "other",
)
ROLE_ORDER = (CEO, CFO, OFFICER, DIRECTOR, TEN_PERCENT_OWNER, OTHER)  # most senior first
_MANAGEMENT = frozenset({CEO, CFO, OFFICER, DIRECTOR})

# Titles are read clause by clause: "Director; former CEO" is a director, not a CEO.
_CLAUSE_SPLIT = re.compile(r"[,;/|]|\s+-\s+")
_FORMER = re.compile(r"\b(former|formerly|retired|ex|past|previous|previously|emeritus)\b", re.I)
# "Assistant to the CEO", "Chief of Staff to the CFO": a role named as someone else's.
_ATTACHED_TO = re.compile(r"\b(to|for)\s+(the\s+)?(ceo|cfo|chief\s+\w+\s+officer|chair(man)?)\b", re.I)
_CEO = re.compile(r"\bchief\s+executive\b|\bc\.?e\.?o\b|\bprincipal\s+executive\s+officer\b", re.I)
_CFO = re.compile(
    r"\bchief\s+financial\b|\bchief\s+executive\s+(and|&)\s+financial\b|\bc\.?f\.?o\b"
    r"|\bprincipal\s+financial\b",
    re.I,
)
_CHAIR = re.compile(r"\bchair(man|woman|person)?\b|\bboard\s+chair\b", re.I)
_TEN_PERCENT = re.compile(r"\b10\s?%|\bten\s+percent\b", re.I)


def _title_roles(title: str | None) -> set[str]:
    """Return CEO/CFO/director roles named by a free-text title, ignoring former roles."""
    roles: set[str] = set()
    if not title:
        return roles
    for clause in _CLAUSE_SPLIT.split(_ATTACHED_TO.sub(" ", title)):
        if not clause.strip() or _FORMER.search(clause):
            continue
        if _CEO.search(clause):
            roles.add(CEO)
        if _CFO.search(clause):
            roles.add(CFO)
        if _CHAIR.search(clause):
            roles.add(DIRECTOR)  # a chair of the board or of a committee sits on the board
    return roles


def classify_roles(
    is_director: bool,
    is_officer: bool,
    officer_title: str | None,
    is_ten_percent_owner: bool,
    is_other: bool,
    other_text: str | None,
) -> set[str]:
    """Return the roles of one reporting owner from its relationship boxes and free-text titles."""
    roles: set[str] = set()
    if is_director:
        roles.add(DIRECTOR)
    if is_officer:
        roles.add(OFFICER)
    if is_ten_percent_owner:
        roles.add(TEN_PERCENT_OWNER)
    if is_other:
        roles.add(OTHER)
    # Filers put titles in either box ("Other: President and CEO"), so read both.
    titled = _title_roles(officer_title) | _title_roles(other_text)
    if titled & {CEO, CFO}:
        roles.add(OFFICER)  # "officer" means any officer, CEO and CFO included
    roles |= titled
    if other_text and _TEN_PERCENT.search(other_text) and not _FORMER.search(other_text):
        roles.add(TEN_PERCENT_OWNER)  # "member of a 10% group" is a 10% owner under Section 16
    return roles


def role_rank(roles: Iterable[str]) -> int:
    """Return a sort key, smallest for the most senior role: CEO < CFO < officer < director < 10% < other."""
    present = set(roles)
    return next((k for k, role in enumerate(ROLE_ORDER) if role in present), len(ROLE_ORDER))


def primary_role(roles: Iterable[str]) -> str | None:
    """Return the most senior role in `roles`, or None when there is none."""
    rank = role_rank(roles)
    return ROLE_ORDER[rank] if rank < len(ROLE_ORDER) else None


def is_ten_percent_owner_only(roles_of_all_buyers: Iterable[Iterable[str]]) -> bool:
    """Return True when every buyer is a 10% owner and none is an officer or director."""
    buyers = [set(r) for r in roles_of_all_buyers]
    return bool(buyers) and all(TEN_PERCENT_OWNER in r and not r & _MANAGEMENT for r in buyers)


# Code P also covers private purchases from the issuer (parser-anchors I1). Phrases that tie the
# purchase to an issuance rather than to the open market:
PRIVATE_PLACEMENT_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\bprivate(ly)?[\s-]+placement\b", re.I),
    re.compile(r"\b(securities|stock|share|unit)s?\s+purchase\s+agreement\b", re.I),
    re.compile(r"\bsubscription\s+agreement\b", re.I),
    re.compile(r"\bregistered\s+direct\s+offering\b", re.I),
    re.compile(r"\bunderwritten\s+(public\s+)?offering\b", re.I),
    re.compile(r"\b(initial\s+public\s+offering|IPO)\b"),
    re.compile(r"\bpublic\s+offering\s+price\b", re.I),
    re.compile(r"\bin\s+(the|its|an?|such)\s+([\w'’-]+\s+){0,4}offering\b(?!\s+(circular|memorandum))", re.I),
    re.compile(r"\bconcurrent\s+(\w+\s+)?private\b", re.I),
    re.compile(r"\bPIPE\b"),  # upper case only: "pipe" and "pipeline" are ordinary words
    re.compile(
        r"\b(directly\s+from|issued\s+by|sold\s+by)\s+the\s+(issuer|company|registrant)\b"
        r"|\b(purchased|acquired|bought)\s+from\s+the\s+(issuer|company|registrant)\b(?!['’])",
        re.I,
    ),
)
# A mention that is history or a negation says nothing about this row: "Includes 5,000 shares
# previously acquired in a private placement", "were not purchased in the PIPE".
_HISTORY = re.compile(r"\b(previously|formerly|also\s+(holds?|owns?|held|owned))\b", re.I)
_NOT_BEFORE = re.compile(r"\b(not|never)\b[^.;]{0,40}$", re.I)
_SENTENCE_SPLIT = re.compile(r"(?<=[.;])\s+")


def mentions_private_placement(footnote_texts: Iterable[str | None]) -> bool:
    """Return True when a footnote ties the purchase to a private placement or offering."""
    # Pass the footnotes on the purchase row itself, not those on holdings or ownership nature,
    # which often describe other shares.
    return any(_ties_to_private_placement(text) for text in footnote_texts if text)


@lru_cache(maxsize=4096)
def _ties_to_private_placement(text: str) -> bool:
    # Cached: a filing's rows share their footnotes, and boilerplate repeats across filings.
    for sentence in _SENTENCE_SPLIT.split(text):
        for pattern in PRIVATE_PLACEMENT_PATTERNS:
            match = pattern.search(sentence)
            if match is None:
                continue
            before = sentence[: match.start()]
            if not _HISTORY.search(before) and not _NOT_BEFORE.search(before):
                return True
    return False


# 10b5-1 spelled every way filers type it: 10b5-1, 10b-5-1, 10b5–1 (en dash), 10b5 1, 10(b)5-1,
# Rule 10b5-1(c). Rule 10b-5 alone (the anti-fraud rule) must not match: the trailing 1 is required.
_RULE_10B5_1 = re.compile(
    r"(?<![\w.])10\s?\(?b\)?\s?-?\s?5\s?[-\u2010\u2011\u2012\u2013\u2014\s]\s?1(?!\d)", re.I
)
_NEGATED = re.compile(r"\b(not|no)\b[^.;]*$", re.I)


def mentions_10b5_1(texts: Iterable[str | None]) -> bool:
    """Return True when a text says the trade was made under a Rule 10b5-1 plan (footnote fallback)."""
    for text in texts:
        if not text:
            continue
        for match in _RULE_10B5_1.finditer(text):
            # "not made pursuant to a Rule 10b5-1 plan" is the opposite statement.
            if not _NEGATED.search(text, 0, match.start()):
                return True
    return False
