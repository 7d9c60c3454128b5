"""Parse SEC ownership documents (Forms 3, 4, 5 and amendments) into ``ParsedForm4``.

Pure: bytes in, dataclasses out, no I/O. Accepts bare ownership XML or a full EDGAR submission (.txt).
Every amount is a ``Decimal``; a value the filer left out stays ``None`` (never 0); footnote ids are kept
per field; suspicious values are flagged, never rewritten. Spec: parser-anchors §0 and §1 B–H.

This module is the entry point and assembles the document; the work is split by stage:
``safe_xml`` (hardened lxml parse) -> ``form4_walk`` (one walk over the tree, raw texts) ->
``form4_rows`` (table rows) and ``form4_values`` (cell values: numbers, dates, CIKs, tickers, price
ranges).
"""

from __future__ import annotations

import dataclasses

from lxml import etree

from app.ingest import safe_xml, sgml
from app.ingest.form4_rows import RowContext, to_holding, to_transaction
from app.ingest.form4_values import (
    MIN_PLAUSIBLE_DATE,
    TRUE_TEXTS,
    clean_text,
    normalize_cik,
    normalize_ticker,
    parse_price_range,
    to_bool,
    to_date,
)
from app.ingest.form4_walk import CODE_SLOT, DATE_SLOT, SHARES_SLOT, Texts, strip_namespaces, walk_tree
from app.schemas.form4 import (
    Form4ParseError,
    ParsedForm4,
    ParsedHolding,
    ParsedIssuer,
    ParsedOwner,
    ParsedSignature,
    ParsedTransaction,
    SubmissionHeader,
)

__all__ = [
    "KNOWN_DOCUMENT_TYPES",
    "KNOWN_SCHEMAS",
    "PARSER_VERSION",
    "normalize_cik",
    "normalize_ticker",
    "parse",
    "parse_price_range",
]

PARSER_VERSION = "1"
# fmt: off
KNOWN_SCHEMAS = frozenset({
    "X0101", "X0201", "X0202", "X0203", "X0204", "X0205", "X0206", "X0301", "X0302", "X0303", "X0304",
    "X0305", "X0306", "X0407", "X0508", "X0609",
})
# fmt: on
KNOWN_DOCUMENT_TYPES = frozenset({"3", "3/A", "4", "4/A", "5", "5/A"})


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
            strip_namespaces(root)
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


def _document(
    root: etree._Element,
    xml: bytes,
    header: SubmissionHeader | None,
    accession: str | None,
    warnings: list[str],
) -> ParsedForm4:
    walk = walk_tree(root)
    doc = walk.doc
    if walk.legacy:
        warnings.append("legacy X0101 layout (nonDerivativeSecurity/derivativeSecurity rows)")

    schema_version = clean_text(doc.get("schemaVersion"))
    if schema_version is not None and schema_version not in KNOWN_SCHEMAS:
        warnings.append(f"unseen schemaVersion {schema_version!r}")
    document_type = clean_text(doc.get("documentType"))
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
    period = to_date(doc.get("periodOfReport"), "period_of_report", doc_flags)
    original = to_date(doc.get("dateOfOriginalSubmission"), "date_of_original_submission", doc_flags)
    if period is not None and period < MIN_PLAUSIBLE_DATE:
        doc_flags.append("implausible_period_of_report")

    # The issuer named in the XML is the authority, whatever CIK surfaced the filing (parser-anchors A2).
    issuer_cik = normalize_cik(doc.get("issuerCik"))
    if issuer_cik is None:
        raise Form4ParseError("issuer has no issuerCik")
    raw_symbol = clean_text(doc.get("issuerTradingSymbol"))
    issuer = ParsedIssuer(
        issuer_cik, clean_text(doc.get("issuerName")), normalize_ticker(raw_symbol), raw_symbol
    )
    if not walk.owners:
        raise Form4ParseError("no reportingOwner in the ownership document")
    owners = [_owner(texts) for texts in walk.owners]
    signatures = [
        ParsedSignature(
            clean_text(sig.get("signatureName")),
            to_date(sig.get("signatureDate"), "signature_date", doc_flags),
        )
        for sig in walk.signatures
    ]

    # A trade cannot postdate its own filing; the acceptance day is the tighter bound when known.
    filed = header.filed_date if header is not None else None
    if header is not None and header.accepted_at is not None:
        accepted_day = header.accepted_at.date()
        filed = accepted_day if filed is None or accepted_day > filed else filed
    ctx = RowContext(walk.footnotes, period, filed)
    transactions: list[ParsedTransaction] = []
    holdings: list[ParsedHolding] = []
    counts = {"non_derivative": [0, 0], "derivative": [0, 0]}  # [transactions, holdings] per table
    for tag, table, texts, notes in walk.rows:
        if tag[-1] == "n":  # …Transaction
            is_transaction = True
        elif tag[-1] == "g":  # …Holding
            is_transaction = False
        else:  # X0101 …Security: a row with a date, a code or an amount is a transaction
            is_transaction = bool(texts[DATE_SLOT] or texts[CODE_SLOT] or texts[SHARES_SLOT])
        count = counts[table]
        if is_transaction:
            transactions.append(to_transaction(texts, notes, table, count[0], ctx))
            count[0] += 1
        else:
            holdings.append(to_holding(texts, notes, table, count[1], warnings))
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
        to_bool(doc.get("aff10b5One")),
        to_bool(doc.get("notSubjectToSection16")),
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
    # An absent relationship flag means "not checked" (edgar-protocol §7.1): `to_bool(raw) is True`, inline.
    get = texts.get
    director, officer, ten_percent, other = (
        get("isDirector"),
        get("isOfficer"),
        get("isTenPercentOwner"),
        get("isOther"),
    )
    return ParsedOwner(  # positional, in field order (pinned by _check_field_order)
        cik,
        clean_text(get("rptOwnerName")),
        director is not None and director.strip() in TRUE_TEXTS,
        officer is not None and officer.strip() in TRUE_TEXTS,
        clean_text(get("officerTitle")),
        ten_percent is not None and ten_percent.strip() in TRUE_TEXTS,
        other is not None and other.strip() in TRUE_TEXTS,
        clean_text(get("otherText")),
    )


def _check_field_order() -> None:
    """Fail at import if the contract's field order no longer matches the positional calls (here and in
    form4_rows)."""
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
            raise RuntimeError(
                f"{cls.__name__} fields changed order; update form4_parser/form4_rows: {actual}"
            )


_check_field_order()
