"""Parse SEC ownership documents (Forms 3, 4, 5 and amendments) into ``ParsedForm4``.

Pure: bytes in, dataclasses out, no I/O. Accepts bare ownership XML or a full EDGAR submission (.txt).
Every amount is a ``Decimal``; a value the filer left out stays ``None`` (never 0); footnote ids are kept
per field; suspicious values are flagged, never rewritten. Spec: parser-anchors §0 and §1 B–H.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from lxml import etree

from app.ingest import safe_xml, sgml
from app.schemas.form4 import (
    Form4ParseError,
    ParsedForm4,
    ParsedHolding,
    ParsedIssuer,
    ParsedOwner,
    ParsedSignature,
    ParsedTransaction,
    SubmissionHeader,
    TableName,
)

PARSER_VERSION = "1"
# fmt: off
KNOWN_SCHEMAS = frozenset({
    "X0101", "X0201", "X0202", "X0203", "X0204", "X0205", "X0206", "X0301", "X0302", "X0303", "X0304",
    "X0305", "X0306", "X0407", "X0508", "X0609",
})
# fmt: on
KNOWN_DOCUMENT_TYPES = frozenset({"3", "3/A", "4", "4/A", "5", "5/A"})

# Leaves of a table row -> the ParsedTransaction field they fill, also the key of the row's `footnotes`.
_ROW_FIELDS = {
    "securityTitle": "security_title",
    "conversionOrExercisePrice": "conversion_or_exercise_price",
    "transactionDate": "transaction_date",
    "deemedExecutionDate": "deemed_execution_date",
    "transactionFormType": "form_type",
    "transactionCode": "code",
    "equitySwapInvolved": "equity_swap_involved",
    "transactionTimeliness": "timeliness",
    "transactionShares": "shares",
    "transactionTotalValue": "total_value",
    "transactionPricePerShare": "price",
    "transactionValue": "price",  # X0101 name of the per-share price
    "transactionAcquiredDisposedCode": "acquired_disposed",
    "exerciseDate": "exercise_date",
    "expirationDate": "expiration_date",
    "underlyingSecurityTitle": "underlying_security_title",
    "underlyingSecurityShares": "underlying_shares",
    "underlyingSecurityValue": "underlying_value",
    "sharesOwnedFollowingTransaction": "shares_owned_after",
    "valueOwnedFollowingTransaction": "value_owned_after",
    "directOrIndirectOwnership": "direct_indirect",
    "natureOfOwnership": "nature_of_ownership",
}
# Grouping elements inside a row. A footnote on the coding block explains the code ("sold under a
# 10b5-1 plan"), so it files under "code"; the others keep their own name.
_GROUPS = {
    "transactionCoding": "code",
    "transactionAmounts": "transaction_amounts",
    "postTransactionAmounts": "post_transaction_amounts",
    "ownershipNature": "ownership_nature",
    "underlyingSecurity": "underlying_security",
}
_ROW_TAGS = frozenset({"nonDerivativeTransaction", "nonDerivativeHolding", "derivativeTransaction",
                       "derivativeHolding"})  # fmt: skip
# Row texts travel as a list indexed by slot (one slot per distinct field name, in this order), so a
# row is unpacked into locals in one step instead of ~20 dict lookups.
_SLOT_NAMES = (
    "security_title", "conversion_or_exercise_price", "transaction_date", "deemed_execution_date",
    "form_type", "code", "equity_swap_involved", "timeliness", "shares", "total_value", "price",
    "acquired_disposed", "exercise_date", "expiration_date", "underlying_security_title",
    "underlying_shares", "underlying_value", "shares_owned_after", "value_owned_after", "direct_indirect",
    "nature_of_ownership",
)  # fmt: skip
_SLOT = {tag: _SLOT_NAMES.index(name) for tag, name in _ROW_FIELDS.items()}
_N_SLOTS = len(_SLOT_NAMES)
_DATE_SLOT, _CODE_SLOT, _SHARES_SLOT = (_SLOT_NAMES.index(n) for n in ("transaction_date", "code", "shares"))
# The footnotes key of each slot. The bare coding leaves cannot hold a footnoteId: one that follows
# them sits on transactionCoding, hence "code".
_NOTE_NAME = tuple("code" if name in ("form_type", "equity_swap_involved") else name for name in _SLOT_NAMES)
# Holdings carry the post-transaction amount as the position itself.
_HOLDING_RENAME = {"shares_owned_after": "shares_owned", "value_owned_after": "value_owned"}

_TRUE = frozenset({"1", "true", "True", "TRUE", "Y", "y", "yes", "Yes", "YES", "T", "t"})
_FALSE = frozenset({"0", "false", "False", "FALSE", "N", "n", "no", "No", "NO", "F", "f"})

# fmt: off
_PLACEHOLDER_TICKERS = frozenset({
    "", "NONE", "N/A", "NA", "N.A.", "N/A.", "[NONE]", "(NONE)", "<NONE>", "NONE.", "-", "--", "---", ".",
    "NIL", "NULL", "NO SYMBOL", "NO TICKER", "NOT APPLICABLE", "NOT LISTED", "NOT TRADED", "NOTAPPLICABLE",
    "UNLISTED", "PRIVATE", "0", "?", "N / A", "TBD",
})
# fmt: on
# Venue suffixes are not part of the symbol (MAJR.OB); share classes (BRK.A, BF.B) are (parser-anchors C1).
_VENUE_SUFFIXES = (".OTCBB", ".OTCQB", ".OTCQX", ".PINK", ".OTC", ".OB", ".PK", ".QB", ".QX", ".BB")
_VENUE_PREFIX = re.compile(
    r"^(?:NYSE\s*(?:AMERICAN|ARCA|MKT)?|NASDAQ(?:GS|GM|CM)?|AMEX|OTC\s*(?:BB|QB|QX|PINK|MARKETS)?|PINK)"
    r"\s*[:\-]\s*"
)

# Weighted-average price ranges in footnotes (parser-anchors D7), e.g. "prices ranging from $121.44 to
# $122.24", "ranged from $1.00 to $1.10", "$10.05-$10.28", "between $5.01 and $5.20".
_AMOUNT = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
_RANGE_DOLLARS = re.compile(
    r"\$\s?" + _AMOUNT + r"\s*(?:to|-|–|—|through)\s*\$?\s?" + _AMOUNT + r"(?![\d%])", re.IGNORECASE
)
_RANGE_WORDS = re.compile(
    r"(?:rang(?:e|es|ed|ing)|between)\s+(?:(?:from|of)\s+)?(?:a\s+low\s+of\s+)?\$?\s?"
    + _AMOUNT
    + r"\s*(?:to|and|-|–|—|through)\s*(?:a\s+high\s+of\s+)?\$?\s?"
    + _AMOUNT
    + r"(?![\d%])",
    re.IGNORECASE,
)
_RANGE_LOW_HIGH = re.compile(
    r"(?:low|lowest)\s+(?:sale\s+|purchase\s+)?(?:price\s+)?of\s+\$?\s?"
    + _AMOUNT
    + r"\s*,?\s*(?:and|to)\s+(?:a\s+|the\s+)?(?:high|highest)\s+(?:sale\s+|purchase\s+)?"
    r"(?:price\s+)?of\s+\$?\s?" + _AMOUNT + r"(?![\d%])",
    re.IGNORECASE,
)

_MIN_PLAUSIBLE = date(1990, 1, 1)
_ONE_YEAR = timedelta(days=366)
_ONE_DAY = timedelta(days=1)
_SLASH_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DASH_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})")
_NUMBER_JUNK = str.maketrans("", "", ", $\u00a0\t\r\n_")

Texts = dict[str, "str | None"]
Slots = list["str | None"]
Notes = dict[str, list[str]]


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def parse(
    data: bytes, *, accession: str | None = None, max_bytes: int = safe_xml.DEFAULT_MAX_BYTES
) -> ParsedForm4:
    """Parse an ownership document (bare XML or full submission .txt) into a ParsedForm4."""
    if not isinstance(data, bytes):
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        else:
            raise Form4ParseError(f"expected bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise Form4ParseError(f"document is {len(data):,} bytes, over the {max_bytes:,}-byte limit")
    warnings: list[str] = []
    header: SubmissionHeader | None = None
    xml = data
    head = data[:64].lstrip()
    if not (head.startswith(b"<?xml") or head.startswith(b"<ownershipDocument")):
        if sgml.is_submission(data):
            header, xml = sgml.split_submission(data, warnings)
        else:
            reason = sgml.sniff_error_page(data)
            if reason:
                raise Form4ParseError(reason)
    try:
        safe = safe_xml.parse(xml, max_bytes=max_bytes)
    except Form4ParseError:
        # An XHTML error page fails on its DOCTYPE first; name the page rather than the DTD.
        reason = sgml.sniff_error_page(xml)
        if reason:
            raise Form4ParseError(reason) from None
        raise
    warnings.extend(safe.warnings)
    root = safe.root
    tag = root.tag
    if tag != "ownershipDocument":
        if isinstance(tag, str) and tag.startswith("{") and tag.endswith("}ownershipDocument"):
            # A default namespace would silently empty every lookup (parser-anchors A8): drop it.
            _strip_namespaces(root)
            warnings.append("ignored the XML namespace on ownershipDocument")
        else:
            reason = sgml.sniff_error_page(xml)
            # Not etree.QName: recover mode keeps names it cannot validate (`<a:b>` with an undeclared
            # prefix), and QName raises ValueError on them.
            name = tag.rpartition("}")[2][:100] if isinstance(tag, str) else "?"
            raise Form4ParseError(reason or f"root element is <{name}>, not <ownershipDocument>")
    try:
        return _document(root, xml, header, accession, warnings)
    except UnicodeDecodeError as exc:
        # Defence in depth: recover mode can leave bytes lxml cannot decode when a text is read.
        raise Form4ParseError(f"undecodable text in the document after XML recovery: {exc.reason}") from None


def normalize_ticker(raw: str | None) -> str | None:
    """Upper-case a filed trading symbol; placeholders become None, venue suffixes are dropped."""
    if raw is None:
        return None
    symbol = raw.strip().upper()
    if symbol.isalpha() and symbol not in _PLACEHOLDER_TICKERS:
        return symbol  # the common case: AAPL, MSFT
    symbol = " ".join(symbol.split()).lstrip("$")
    if symbol in _PLACEHOLDER_TICKERS:
        return None
    symbol = _VENUE_PREFIX.sub("", symbol)
    for suffix in _VENUE_SUFFIXES:
        if symbol.endswith(suffix) and len(symbol) > len(suffix):
            symbol = symbol[: -len(suffix)]
            break
        if symbol.endswith(" " + suffix[1:]) or symbol.endswith(f"({suffix[1:]})"):
            symbol = symbol[: symbol.rfind(suffix[1:])].rstrip(" (")
            break
    symbol = symbol.strip(" .")
    return None if symbol in _PLACEHOLDER_TICKERS else symbol


def normalize_cik(raw: str | None) -> str | None:
    """Zero-pad a CIK to 10 digits; None when absent, Form4ParseError when not a number."""
    if raw is None:
        return None
    cik = raw.strip()
    if not cik:
        return None
    if cik.isdigit() and len(cik) <= 10:
        return cik.zfill(10)
    digits = cik.replace("-", "").replace(" ", "").lstrip("0")
    if digits.isdigit() and len(digits) <= 10:
        return digits.zfill(10)
    raise Form4ParseError(f"CIK {cik[:20]!r} is not a number of at most 10 digits")


def parse_price_range(text: str) -> list[tuple[Decimal, Decimal]]:
    """Return every (low, high) price range stated in a footnote, low <= high, in text order."""
    found = _ranges(_RANGE_DOLLARS, text) if "$" in text else []
    if not found:
        # The wordy patterns cost ~15x the "$a to $b" one: run them only when their keywords are present.
        lowered = text.lower()
        if "rang" in lowered or "between" in lowered:
            found = _ranges(_RANGE_WORDS, text)
        if not found and "low" in lowered and "high" in lowered:
            found = _ranges(_RANGE_LOW_HIGH, text)
    return found


def _ranges(pattern: re.Pattern[str], text: str) -> list[tuple[Decimal, Decimal]]:
    found: list[tuple[Decimal, Decimal]] = []
    for low, high in pattern.findall(text):  # tuples of the two groups: no match objects
        try:
            a = Decimal(_trim_zeros(low.replace(",", "") if "," in low else low))
            b = Decimal(_trim_zeros(high.replace(",", "") if "," in high else high))
        except InvalidOperation:
            continue
        pair = (a, b) if a <= b else (b, a)
        if pair[0] > 0 and pair not in found:
            found.append(pair)
    return found


# --------------------------------------------------------------------------------------------------
# Document
# --------------------------------------------------------------------------------------------------


class _Walk:
    """Raw texts gathered from the tree, before any conversion."""

    __slots__ = ("doc", "footnotes", "legacy", "owners", "remarks", "rows", "signatures")

    def __init__(self) -> None:
        self.doc: Texts = {}
        self.owners: list[Texts] = []
        self.signatures: list[Texts] = []
        self.rows: list[tuple[str, TableName, Slots, Notes]] = []  # (row tag, table, texts, footnote ids)
        self.footnotes: dict[str, str] = {}
        self.remarks: str | None = None
        self.legacy = False


def _walk(root: etree._Element) -> _Walk:
    """Collect every text the parser needs: document fields by child loops, rows by _row_texts()."""
    walk = _Walk()
    doc = walk.doc
    for child in root:
        tag = child.tag
        if tag == "nonDerivativeTable" or tag == "derivativeTable":
            table: TableName = "derivative" if tag[0] == "d" else "non_derivative"
            rows = walk.rows
            for row in child:
                row_tag = row.tag
                if row_tag in _ROW_TAGS:
                    texts, notes = _row_texts(row)
                    rows.append((row_tag, table, texts, notes))
        elif tag == "reportingOwner":
            owner: Texts = {}
            for part in child:
                if part.tag != "reportingOwnerAddress":  # reportingOwnerId, reportingOwnerRelationship
                    for leaf in part:
                        owner[leaf.tag] = _leaf_text(leaf) if len(leaf) else leaf.text
            walk.owners.append(owner)
        elif tag == "footnotes":
            footnotes = walk.footnotes
            for note in child:
                if note.tag == "footnote":
                    ref = note.get("id")
                    if ref:
                        ref = ref.strip()
                        if ref:
                            # _itertext(note) or "", with its common case (no child markup) inline
                            footnotes[ref] = (_itertext(note) if len(note) else _clean(note.text)) or ""
        elif tag == "issuer":
            for leaf in child:
                doc[leaf.tag] = _leaf_text(leaf) if len(leaf) else leaf.text
        elif tag == "ownerSignature":
            walk.signatures.append({leaf.tag: _leaf_text(leaf) if len(leaf) else leaf.text for leaf in child})
        elif tag == "remarks":
            walk.remarks = _itertext(child)
        elif tag == "nonDerivativeSecurity" or tag == "derivativeSecurity":
            # X0101 (2003) puts rows straight under the root with these names (edgar-protocol §7.3).
            walk.legacy = True
            walk.rows.append((tag, "derivative" if tag[0] == "d" else "non_derivative", *_row_texts(child)))
        elif type(tag) is str:
            doc[tag] = _leaf_text(child) if len(child) else child.text
    return walk


def _leaf_text(el: etree._Element) -> str | None:
    # Document-level leaves are bare text (issuerCik, isDirector, ...), but tolerate a <value> wrapper.
    if len(el):
        for child in el:
            if child.tag == "value":
                return child.text
        return None
    return el.text


def _row_texts(row: etree._Element) -> tuple[Slots, Notes]:
    """Flatten one table row into its field texts (by slot) and {field: [footnote ids]}."""
    # The hot loop: one C-level pre-order `iter()` (~2x faster than nested child loops, ~5x faster than
    # an XPath per field). Most leaves wrap their text in <value> beside <footnoteId/> siblings; the
    # coding leaves carry bare text (parser-anchors B1), so each leaf first stores its own text and a
    # following <value> overwrites it. Any other element resets the current leaf, so a <value> under an
    # unknown or grouping element is never attributed to a neighbour.
    texts: Slots = [None] * _N_SLOTS
    notes: Notes = {}
    slots = _SLOT
    slot = -1  # the current leaf's slot, -1 outside a leaf
    group: str | None = None
    for el in row.iterdescendants():
        tag = el.tag
        if tag == "value":
            if slot >= 0:
                texts[slot] = el.text
            continue
        index = slots.get(tag)  # type: ignore[call-overload]
        if index is not None:
            slot = index
            texts[index] = el.text
            continue
        if tag == "footnoteId":
            # A footnote can sit on any field or on the coding block (parser-anchors B2). Per the
            # schema a footnoteId is a child of a field (beside its <value>) or of transactionCoding
            # (after the bare coding leaves), so the last leaf or group seen names it: no getparent().
            ref = el.get("id")
            if ref:
                field = _NOTE_NAME[slot] if slot >= 0 else group or "row"
                ref = ref.strip()
                ids = notes.get(field)
                if ids is None:
                    notes[field] = [ref]
                elif ref not in ids:
                    ids.append(ref)
            continue
        slot = -1
        name = _GROUPS.get(tag)  # type: ignore[call-overload]
        if name is not None:
            group = name
    return texts, notes


def _document(
    root: etree._Element,
    xml: bytes,
    header: SubmissionHeader | None,
    accession: str | None,
    warnings: list[str],
) -> ParsedForm4:
    walk = _walk(root)
    doc = walk.doc
    if walk.legacy:
        warnings.append("legacy X0101 layout (nonDerivativeSecurity/derivativeSecurity rows)")

    schema_version = _clean(doc.get("schemaVersion"))
    if schema_version is not None and schema_version not in KNOWN_SCHEMAS:
        warnings.append(f"unseen schemaVersion {schema_version!r}")
    document_type = _clean(doc.get("documentType"))
    if document_type is None:
        document_type = header.form_type if header is not None and header.form_type else None
        if document_type is None:
            raise Form4ParseError("no documentType in the ownership document")
        warnings.append(f"documentType missing; took {document_type!r} from the SGML header")
    document_type = document_type.upper().replace(" ", "")
    if document_type not in KNOWN_DOCUMENT_TYPES:
        warnings.append(f"unexpected documentType {document_type!r}")
    if header is not None and header.form_type and header.form_type.upper() != document_type:
        warnings.append(f"SGML header says form {header.form_type!r}, XML says {document_type!r}")

    doc_flags: list[str] = []  # parse problems outside any row end up as warnings
    period = _date(doc.get("periodOfReport"), "period_of_report", doc_flags)
    original = _date(doc.get("dateOfOriginalSubmission"), "date_of_original_submission", doc_flags)
    if period is not None and period < _MIN_PLAUSIBLE:
        doc_flags.append("implausible_period_of_report")

    # The issuer named in the XML is the authority, whatever CIK surfaced the filing (parser-anchors A2).
    issuer_cik = normalize_cik(doc.get("issuerCik"))
    if issuer_cik is None:
        raise Form4ParseError("issuer has no issuerCik")
    raw_symbol = _clean(doc.get("issuerTradingSymbol"))
    issuer = ParsedIssuer(issuer_cik, _clean(doc.get("issuerName")), normalize_ticker(raw_symbol), raw_symbol)
    if not walk.owners:
        raise Form4ParseError("no reportingOwner in the ownership document")
    owners = [_owner(texts) for texts in walk.owners]
    signatures = [
        ParsedSignature(
            _clean(sig.get("signatureName")), _date(sig.get("signatureDate"), "signature_date", doc_flags)
        )
        for sig in walk.signatures
    ]

    # A trade cannot postdate its own filing; the acceptance day is the tighter bound when known.
    filed = header.filed_date if header is not None else None
    if header is not None and header.accepted_at is not None:
        accepted_day = header.accepted_at.date()
        filed = accepted_day if filed is None or accepted_day > filed else filed
    ctx = _RowContext(walk.footnotes, period, filed)
    transactions: list[ParsedTransaction] = []
    holdings: list[ParsedHolding] = []
    counts = {"non_derivative": [0, 0], "derivative": [0, 0]}  # [transactions, holdings] per table
    for tag, table, texts, notes in walk.rows:
        if tag[-1] == "n":  # …Transaction
            is_transaction = True
        elif tag[-1] == "g":  # …Holding
            is_transaction = False
        else:  # X0101 …Security: a row with a date, a code or an amount is a transaction
            is_transaction = bool(texts[_DATE_SLOT] or texts[_CODE_SLOT] or texts[_SHARES_SLOT])
        count = counts[table]
        if is_transaction:
            transactions.append(_transaction(texts, notes, table, count[0], ctx))
            count[0] += 1
        else:
            holdings.append(_holding(texts, notes, table, count[1], warnings))
            count[1] += 1
    for flag in doc_flags:
        warnings.append(f"document: {flag}")

    if header is not None and header.accession:
        if accession and accession != header.accession:
            warnings.append(f"accession {accession!r} given, SGML header says {header.accession!r}")
        else:
            accession = header.accession
    return ParsedForm4(  # positional, in field order (pinned by _check_field_order)
        accession,
        header.accepted_at if header is not None else None,
        header.filed_date if header is not None else None,
        document_type,
        schema_version,
        period,
        original,
        # Absent aff10b5One (pre-2023 forms) stays None, distinct from an explicit "0" (parser-anchors E3).
        _bool(doc.get("aff10b5One")),
        _bool(doc.get("notSubjectToSection16")),
        issuer,
        owners,
        transactions,
        holdings,
        walk.footnotes,
        walk.remarks,
        signatures,
        xml,
        warnings,
    )


def _owner(texts: Texts) -> ParsedOwner:
    cik = normalize_cik(texts.get("rptOwnerCik"))
    if cik is None:
        raise Form4ParseError("reporting owner has no rptOwnerCik")
    # An absent relationship flag means "not checked" (edgar-protocol §7.1): `_bool(raw) is True`, inline.
    get = texts.get
    director, officer, ten_percent, other = (
        get("isDirector"),
        get("isOfficer"),
        get("isTenPercentOwner"),
        get("isOther"),
    )
    return ParsedOwner(  # positional, in field order (pinned by _check_field_order)
        cik,
        _clean(get("rptOwnerName")),
        director is not None and director.strip() in _TRUE,
        officer is not None and officer.strip() in _TRUE,
        _clean(get("officerTitle")),
        ten_percent is not None and ten_percent.strip() in _TRUE,
        other is not None and other.strip() in _TRUE,
        _clean(get("otherText")),
    )


# --------------------------------------------------------------------------------------------------
# Table rows
# --------------------------------------------------------------------------------------------------


class _RowContext:
    __slots__ = ("footnotes", "latest", "ranges")

    def __init__(self, footnotes: dict[str, str], period: date | None, filed: date | None) -> None:
        self.footnotes = footnotes
        # The latest plausible trade date: a year after the period, a day after filing, whichever is
        # earlier (computed once per document). A bound past date.max (period 9999-12-31) is no bound.
        latest = None
        if period is not None:
            latest = _days_after(period, _ONE_YEAR)
        if filed is not None:
            by_filing = _days_after(filed, _ONE_DAY)
            latest = by_filing if latest is None or by_filing < latest else latest
        self.latest = latest
        self.ranges: dict[str, list[tuple[Decimal, Decimal]]] = {}


def _days_after(day: date, delta: timedelta) -> date:
    try:
        return day + delta
    except OverflowError:
        return date.max


def _transaction(
    texts: Slots, notes: Notes, table: TableName, index: int, ctx: _RowContext
) -> ParsedTransaction:
    # fmt: off
    (title, conversion, trade_raw, deemed, form_type, code_raw, swap, timeliness_raw, shares_raw, total,
     price_raw, ad_raw, exercise, expiration, u_title, u_shares, u_value, owned, value_owned, di_raw,
     nature) = texts
    # fmt: on
    flags: list[str] = []
    code = code_raw.strip().upper() or None if code_raw else None
    acquired_disposed = ad_raw.strip().upper() or None if ad_raw else None
    # _number() and _date() inline for their commonest cases, a whole number ("1000", never negative)
    # and an ISO date: no call.
    shares = price = trade_date = None
    negative_shares = negative_price = False
    if shares_raw:
        text = shares_raw.strip()
        if text.isdecimal():
            shares = Decimal(text)
        else:
            shares = _number(text, "shares", flags)
            negative_shares = shares is not None and shares < 0
    if price_raw:
        text = price_raw.strip()
        if text.isdecimal():
            price = Decimal(text)
        else:
            price = _number(text, "price", flags)
            negative_price = price is not None and price < 0
    if trade_raw:
        text = trade_raw.strip()
        if len(text) == 10:
            try:
                trade_date = date.fromisoformat(text)
            except ValueError:
                trade_date = _date(text, "transaction_date", flags)
        else:
            trade_date = _date(text, "transaction_date", flags)

    if code is None:
        # edgartools #887: rows without transactionCoding exist; keep them, never crash.
        flags.append("missing_transaction_code")
    elif (code == "P" and acquired_disposed == "D") or (code == "S" and acquired_disposed == "A"):
        flags.append("code_direction_mismatch")
    if acquired_disposed is not None and acquired_disposed != "A" and acquired_disposed != "D":
        flags.append("invalid_acquired_disposed")
    if negative_shares:
        flags.append("negative_shares")
    if negative_price:
        flags.append("negative_price")
    if trade_date is None:
        if not trade_raw or not trade_raw.strip():
            flags.append("missing_transaction_date")
    elif trade_date < _MIN_PLAUSIBLE or (ctx.latest is not None and trade_date > ctx.latest):
        # Typos like 2035 for 2025 (ELDN 0000950170-25-004920): flag, keep as filed (parser-anchors H3).
        flags.append("implausible_transaction_date")

    low = high = None
    if "price" in notes:
        low, high = _price_range(notes["price"], price, ctx)
        if low is not None:
            flags.append("price_range_from_footnote")

    timeliness = timeliness_raw.strip().upper() or None if timeliness_raw else None
    if timeliness is not None and timeliness != "E" and timeliness != "L":
        flags.append("invalid_timeliness")
    direct_indirect = di_raw.strip().upper() or None if di_raw else None
    if direct_indirect is not None and direct_indirect != "D" and direct_indirect != "I":
        flags.append("invalid_direct_indirect")

    # Positional arguments: 3x cheaper than 27 keywords; _check_field_order() pins the order at import.
    return ParsedTransaction(
        table,
        index,
        _clean(title) if title else None,
        trade_date,
        _date(deemed, "deemed_execution_date", flags) if deemed else None,
        form_type.strip() or None if form_type else None,
        code,
        acquired_disposed,
        shares,
        _number(total, "total_value", flags) if total else None,
        price,
        low,
        high,
        _number(owned, "shares_owned_after", flags) if owned else None,
        _number(value_owned, "value_owned_after", flags) if value_owned else None,
        direct_indirect,
        _clean(nature) if nature else None,
        _bool(swap) if swap else None,
        timeliness,
        _number(conversion, "conversion_or_exercise_price", flags) if conversion else None,
        _date(exercise, "exercise_date", flags) if exercise else None,
        _date(expiration, "expiration_date", flags) if expiration else None,
        _clean(u_title) if u_title else None,
        _number(u_shares, "underlying_shares", flags) if u_shares else None,
        _number(u_value, "underlying_value", flags) if u_value else None,
        notes,
        flags,
    )


def _holding(texts: Slots, notes: Notes, table: TableName, index: int, warnings: list[str]) -> ParsedHolding:
    # fmt: off
    (title, conversion, _trade, _deemed, _form, _code, _swap, _timeliness, _shares, _total, _price, _ad,
     exercise, expiration, u_title, u_shares, u_value, owned, value_owned, di_raw, nature) = texts
    # fmt: on
    for old, new in _HOLDING_RENAME.items():
        if old in notes:
            notes[new] = notes.pop(old)
    flags: list[str] = []
    # Every converter maps an absent or empty text to None: only call it when there is text.
    holding = ParsedHolding(
        table,
        index,
        _clean(title) if title else None,
        _number(owned, "shares_owned", flags) if owned else None,
        _number(value_owned, "value_owned", flags) if value_owned else None,
        _upper(di_raw) if di_raw else None,
        _clean(nature) if nature else None,
        _number(conversion, "conversion_or_exercise_price", flags) if conversion else None,
        _date(exercise, "exercise_date", flags) if exercise else None,
        _date(expiration, "expiration_date", flags) if expiration else None,
        _clean(u_title) if u_title else None,
        _number(u_shares, "underlying_shares", flags) if u_shares else None,
        _number(u_value, "underlying_value", flags) if u_value else None,
        notes,
    )
    for flag in flags:  # holdings have no flags field; surface problems as warnings
        warnings.append(f"{table} holding {index}: {flag}")
    return holding


def _check_field_order() -> None:
    """Fail at import if the contract's field order no longer matches the positional calls above."""
    # fmt: off
    expected = {
        ParsedTransaction: (
            "table", "index", "security_title", "transaction_date", "deemed_execution_date", "form_type",
            "code", "acquired_disposed", "shares", "total_value", "price", "price_low", "price_high",
            "shares_owned_after", "value_owned_after", "direct_indirect", "nature_of_ownership",
            "equity_swap_involved", "timeliness", "conversion_or_exercise_price", "exercise_date",
            "expiration_date", "underlying_security_title", "underlying_shares", "underlying_value",
            "footnotes", "flags",
        ),
        ParsedHolding: (
            "table", "index", "security_title", "shares_owned", "value_owned", "direct_indirect",
            "nature_of_ownership", "conversion_or_exercise_price", "exercise_date", "expiration_date",
            "underlying_security_title", "underlying_shares", "underlying_value", "footnotes",
        ),
        ParsedForm4: (
            "accession", "accepted_at", "filed_date", "document_type", "schema_version", "period_of_report",
            "date_of_original_submission", "aff10b5one", "not_subject_to_section16", "issuer",
            "reporting_owners", "transactions", "holdings", "footnotes", "remarks", "signatures", "xml",
            "warnings",
        ),
        ParsedOwner: (
            "cik", "name", "is_director", "is_officer", "officer_title", "is_ten_percent_owner", "is_other",
            "other_text",
        ),
        ParsedIssuer: ("cik", "name", "trading_symbol", "trading_symbol_raw"),
        ParsedSignature: ("name", "date"),
    }
    # fmt: on
    for cls, names in expected.items():
        actual = tuple(f.name for f in dataclasses.fields(cls))[: len(names)]
        if actual != names:
            raise RuntimeError(f"{cls.__name__} fields changed order; update form4_parser: {actual}")


_check_field_order()


def _price_range(
    ids: list[str], price: Decimal | None, ctx: _RowContext
) -> tuple[Decimal | None, Decimal | None]:
    """Pick the footnoted low/high range that brackets the row's price (or the only one, if no price)."""
    candidates: list[tuple[Decimal, Decimal]] = []
    for ref in ids:
        ranges = ctx.ranges.get(ref)
        if ranges is None:
            text = ctx.footnotes.get(ref)
            ranges = parse_price_range(text) if text else []
            ctx.ranges[ref] = ranges
        candidates.extend(ranges)
    if not candidates:
        return None, None
    if price is None:
        # No explicit price to check against: trust the range only when it is unambiguous.
        return candidates[0] if len(set(candidates)) == 1 else (None, None)
    for low, high in candidates:
        if low <= price <= high:
            return low, high
    return None, None


# --------------------------------------------------------------------------------------------------
# Cell conversions (per cell, never per column: edgartools' pd.to_numeric pitfall, parser-anchors D9)
# --------------------------------------------------------------------------------------------------


def _trim_zeros(text: str) -> str:
    # "106150.00" -> "106150", "0.50" -> "0.5": one canonical form whatever the filer's formatting.
    if text[-1] == "0" and "." in text and "e" not in text and "E" not in text:
        return text.rstrip("0").rstrip(".") or "0"
    return text


def _number(raw: str | None, name: str, flags: list[str]) -> Decimal | None:
    if not raw:
        return None
    text = raw.strip()
    if text.isdecimal():
        return Decimal(text)  # most amounts are whole numbers: finite, no exponent, nothing to trim
    if not text:
        return None
    if text[-1] == "0" and "." in text and "e" not in text and "E" not in text:
        text = text.rstrip("0").rstrip(".") or "0"  # inline _trim_zeros: this is the hot path
    try:
        value = Decimal(text)
    except InvalidOperation:
        return _number_slow(text, name, flags)
    if not value.is_finite():
        flags.append(f"invalid_number:{name}")
        return None
    if "e" in text or "E" in text:
        value = Decimal(format(value, "f"))
    return value


def _number_slow(text: str, name: str, flags: list[str]) -> Decimal | None:
    # Thousands separators, stray spaces and currency signs: "1,234", "$ 12.50", "1 000".
    cleaned = text.translate(_NUMBER_JUNK)
    if cleaned and cleaned != text:
        if "." in cleaned and cleaned[-1] == "0":
            cleaned = cleaned.rstrip("0").rstrip(".") or "0"
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            pass
        else:
            if value.is_finite():
                return value
    flags.append(f"invalid_number:{name}")
    return None


def _date(raw: str | None, name: str, flags: list[str]) -> date | None:
    if not raw:
        return None
    text = raw.strip()
    if not text:
        return None
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    # "2021-09-30-05:00" (xs:date with a zone offset, seen in real filings), "9/30/2021".
    match = _DASH_DATE.match(text)
    if match is not None:
        parts = match.groups()
    else:
        match = _SLASH_DATE.match(text)
        parts = (match.group(3), match.group(1), match.group(2)) if match else None
    if parts is not None:
        try:
            return date(int(parts[0]), int(parts[1]), int(parts[2]))
        except ValueError:
            pass
    flags.append(f"invalid_date:{name}")
    return None


def _bool(raw: str | None) -> bool | None:
    if raw is None:
        return None
    text = raw.strip()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None  # empty or unreadable: unknown, not False


def _upper(raw: str | None) -> str | None:
    if not raw:
        return None
    text = raw.strip()
    return text.upper() if text else None


def _clean(raw: str | None) -> str | None:
    if not raw:
        return None
    text = raw.strip()
    if not text:
        return None
    if "  " in text or "\n" in text or "\t" in text or "\r" in text:
        text = " ".join(text.split())
    return text


def _itertext(el: etree._Element) -> str | None:
    # Full text including child markup: `.text` stops at the first child element (parser-anchors E1).
    text = " ".join("".join(el.itertext()).split()) if len(el) else _clean(el.text)
    return text or None


def _strip_namespaces(root: etree._Element) -> None:
    for el in root.iter():
        tag = el.tag
        if isinstance(tag, str) and tag[:1] == "{":
            try:
                el.tag = tag.split("}", 1)[1]
            except ValueError:
                # Recover mode keeps malformed qualified names (`<b:>`, `<:/x>`) that lxml refuses to
                # set back. Such an element keeps its namespace: like any unknown element it matches no
                # field, and its text still counts where text is gathered whole (remarks, footnotes).
                pass
    etree.cleanup_namespaces(root)
