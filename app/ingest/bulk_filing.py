"""Assemble one ParsedForm4 from the data set rows that share an accession number.

The same row checks and flags as app.ingest.form4_parser, so bulk history takes the XML storage path.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from app.ingest.bulk_columns import HOLDING_FN_GET, HOLDING_FN_NAMES, TX_FN_GET, TX_FN_NAMES
from app.ingest.bulk_tsv import ACCESSION, BulkRowError, Row, Rows
from app.ingest.bulk_values import Converter, clean, footnote_ids, natural_key
from app.ingest.form4_parser import KNOWN_DOCUMENT_TYPES, normalize_cik, normalize_ticker, parse_price_range
from app.ingest.form4_rows import days_after
from app.schemas.form4 import (
    Form4ParseError,
    ParsedForm4,
    ParsedHolding,
    ParsedIssuer,
    ParsedOwner,
    ParsedSignature,
    ParsedTransaction,
    TableName,
)

_MIN_PLAUSIBLE = date(1990, 1, 1)
_ONE_YEAR = timedelta(days=366)
_ONE_DAY = timedelta(days=1)


def _sk_order(rows: Rows) -> Rows:
    """Order rows by surrogate key, which follows document order within a filing (checked against XML)."""
    if len(rows) < 2:
        return rows

    def key(item: tuple[int, Row]) -> tuple[int, int]:
        sk = item[1][1].strip()
        return (int(sk), item[0]) if sk.isdigit() else (1 << 62, item[0])

    return sorted(rows, key=key)


class _Filing:
    """Per-filing context the row builders share: converter, dates for plausibility, footnote ranges."""

    __slots__ = ("conv", "period", "filed", "footnotes", "ranges")

    def __init__(
        self, conv: Converter, period: date | None, filed: date | None, footnotes: dict[str, str]
    ) -> None:
        self.conv = conv
        self.period = period
        self.filed = filed
        self.footnotes = footnotes
        self.ranges: dict[str, list[tuple[Decimal, Decimal]]] = {}


def build_filing(
    conv: Converter,
    accession: str,
    line: int,
    sub: Row,
    owner_rows: Rows,
    nd_tx: Rows,
    d_tx: Rows,
    nd_hold: Rows,
    d_hold: Rows,
    footnote_rows: Rows,
    signature_rows: Rows,
    has_footnotes: bool,
) -> ParsedForm4 | BulkRowError:
    """Assemble one ParsedForm4 from the rows of every table that share its accession number."""
    (
        _,
        filing_date,
        period,
        orig_sub,
        _no_securities,
        not_sec16,
        _f3_reported,
        _f4_reported,
        doc_type,
        issuer_cik,
        issuer_name,
        issuer_symbol,
        remarks,
        aff10b5one,
    ) = sub
    document_type = doc_type.strip().upper().replace(" ", "")
    if not document_type:
        return BulkRowError("SUBMISSION", line, accession, "empty DOCUMENT_TYPE")
    try:
        cik = normalize_cik(issuer_cik)
    except Form4ParseError as exc:
        return BulkRowError("SUBMISSION", line, accession, f"ISSUERCIK: {exc}")
    if cik is None:
        return BulkRowError("SUBMISSION", line, accession, "empty ISSUERCIK")
    warnings = conv.warnings
    if not ACCESSION.fullmatch(accession):
        warnings.append(f"SUBMISSION.tsv line {line}: unusual ACCESSION_NUMBER {accession!r}")
    if document_type not in KNOWN_DOCUMENT_TYPES:
        warnings.append(f"unexpected documentType {document_type!r}")

    conv.at("SUBMISSION", line)
    doc_flags: list[str] = []
    filed = conv.day(filing_date, "filed_date", doc_flags)
    period_date = conv.day(period, "period_of_report", doc_flags)
    original = conv.day(orig_sub, "date_of_original_submission", doc_flags)
    if period_date is not None and period_date < _MIN_PLAUSIBLE:
        doc_flags.append("implausible_period_of_report")
    symbol_raw = clean(issuer_symbol)
    notes = _footnotes(conv, footnote_rows)
    ctx = _Filing(conv, period_date, filed, notes)
    owners = _owners(conv, owner_rows)
    if not owners:
        warnings.append("no REPORTINGOWNER rows for this accession")
    filing = ParsedForm4(
        accession=accession,
        accepted_at=None,  # the data sets carry no acceptance time (protocol §6.2); see known_at_estimate
        filed_date=filed,
        document_type=document_type,
        schema_version=None,
        period_of_report=period_date,
        date_of_original_submission=original,
        aff10b5one=conv.flag(aff10b5one, "AFF10B5ONE"),  # column absent before 2023 -> "" -> None
        not_subject_to_section16=conv.flag(not_sec16, "NOT_SUBJECT_SEC16"),
        issuer=ParsedIssuer(
            cik=cik,
            name=clean(issuer_name),
            trading_symbol=normalize_ticker(symbol_raw),
            trading_symbol_raw=symbol_raw,
        ),
        reporting_owners=owners,
        transactions=[
            *_transactions(ctx, "non_derivative", "NONDERIV_TRANS", nd_tx),
            *_transactions(ctx, "derivative", "DERIV_TRANS", d_tx),
        ],
        holdings=[
            *_holdings(ctx, "non_derivative", "NONDERIV_HOLDING", nd_hold),
            *_holdings(ctx, "derivative", "DERIV_HOLDING", d_hold),
        ],
        footnotes=notes,
        remarks=clean(remarks),
        signatures=_signatures(conv, signature_rows, doc_flags),
        warnings=warnings,
    )
    warnings.extend(f"document: {flag}" for flag in doc_flags)
    if has_footnotes:
        rows: tuple[ParsedTransaction | ParsedHolding, ...] = (*filing.transactions, *filing.holdings)
        referenced = {i for row in rows for ids in row.footnotes.values() for i in ids}
        for missing in sorted(referenced - notes.keys(), key=natural_key):
            warnings.append(f"footnote {missing} referenced but not in FOOTNOTES.tsv")
    return filing


def _owners(conv: Converter, rows: Rows) -> list[ParsedOwner]:
    owners: list[ParsedOwner] = []
    seen: set[str] = set()
    for line, (_, owner_cik, name, relationship, title, other_text, *_address) in rows:
        conv.at("REPORTINGOWNER", line)
        try:
            cik = normalize_cik(owner_cik) or ""
        except Form4ParseError:
            conv.bad("RPTOWNERCIK", owner_cik, "not a CIK")
            cik = owner_cik.strip()
        if cik in seen:  # (ACCESSION_NUMBER, RPTOWNERCIK) is the table's key
            conv.warnings.append(f"REPORTINGOWNER.tsv line {line}: duplicate owner {cik}; first row kept")
            continue
        seen.add(cik)
        owner = ParsedOwner(
            cik=cik, name=clean(name), officer_title=clean(title), other_text=clean(other_text)
        )
        # A comma list such as "Director,Officer,TenPercentOwner,Other" (readme: OFFICER, DIRECTOR, ...).
        for token in relationship.split(","):
            key = token.strip().upper().replace(" ", "").replace("_", "")
            if key == "DIRECTOR":
                owner.is_director = True
            elif key == "OFFICER":
                owner.is_officer = True
            elif key in ("TENPERCENTOWNER", "10%OWNER", "10PERCENTOWNER"):
                owner.is_ten_percent_owner = True
            elif key == "OTHER":
                owner.is_other = True
            elif key:
                conv.bad("RPTOWNER_RELATIONSHIP", token, "unknown relationship")
        owners.append(owner)
    return owners


def _footnote_map(values: tuple[str, ...], names: tuple[str, ...]) -> dict[str, list[str]]:
    if not any(values):  # most rows carry no footnote at all
        return {}
    return {
        name: ids for name, value in zip(names, values, strict=True) if value and (ids := footnote_ids(value))
    }


def _upper(value: str) -> str | None:
    return value.strip().upper() or None


def _transactions(ctx: _Filing, kind: TableName, table: str, rows: Rows) -> list[ParsedTransaction]:
    conv = ctx.conv
    num, day = conv.num, conv.day
    out: list[ParsedTransaction] = []
    for index, (line, row) in enumerate(_sk_order(rows)):
        conv.at(table, line)
        (
            _,
            _,
            title,
            _,
            conv_price,
            _,
            trans_date,
            _,
            deemed,
            _,
            form_type,
            code_raw,
            swap,
            _,
            timely,
            _,
            shares_raw,
            _,
            total,
            _,
            price_raw,
            _,
            acq_disp,
            _,
            exercise,
            _,
            expiration,
            _,
            u_title,
            _,
            u_shares,
            _,
            u_value,
            _,
            owned_after,
            _,
            value_after,
            _,
            direct,
            _,
            nature,
            _,
        ) = row
        flags: list[str] = []
        notes = _footnote_map(TX_FN_GET(row), TX_FN_NAMES)
        code, acquired_disposed = _upper(code_raw), _upper(acq_disp)
        shares = num(shares_raw, "shares", flags)
        price = num(price_raw, "price", flags)
        trade_date = day(trans_date, "transaction_date", flags)
        timeliness, direct_indirect = _upper(timely), _upper(direct)
        # The same row checks as form4_parser._transaction: flag, never rewrite (parser-anchors D1-D3, H3).
        if code is None:
            flags.append("missing_transaction_code")
        elif (code == "P" and acquired_disposed == "D") or (code == "S" and acquired_disposed == "A"):
            flags.append("code_direction_mismatch")
        if acquired_disposed is not None and acquired_disposed not in ("A", "D"):
            flags.append("invalid_acquired_disposed")
        if shares is not None and shares < 0:
            flags.append("negative_shares")
        if price is not None and price < 0:
            flags.append("negative_price")
        if trade_date is None:
            if not trans_date.strip():
                flags.append("missing_transaction_date")
        elif (
            trade_date < _MIN_PLAUSIBLE
            or (ctx.period is not None and trade_date > days_after(ctx.period, _ONE_YEAR))
            or (ctx.filed is not None and trade_date > days_after(ctx.filed, _ONE_DAY))
        ):
            flags.append("implausible_transaction_date")
        low = high = None
        if "price" in notes:
            low, high = _price_range(ctx, notes["price"], price)
            if low is not None:
                flags.append("price_range_from_footnote")
        if timeliness is not None and timeliness not in ("E", "L"):
            flags.append("invalid_timeliness")
        if direct_indirect is not None and direct_indirect not in ("D", "I"):
            flags.append("invalid_direct_indirect")
        # Positional, in contract order (~3x cheaper than 27 keywords); form4_parser, imported above,
        # fails at import if that order ever changes (_check_field_order).
        out.append(
            ParsedTransaction(
                kind,
                index,
                clean(title),
                trade_date,
                day(deemed, "deemed_execution_date", flags) if deemed else None,
                form_type.strip() or None,
                code,
                acquired_disposed,
                shares,
                num(total, "total_value", flags) if total else None,
                price,
                low,
                high,
                num(owned_after, "shares_owned_after", flags) if owned_after else None,
                num(value_after, "value_owned_after", flags) if value_after else None,
                direct_indirect,
                clean(nature) if nature else None,
                conv.flag(swap, "EQUITY_SWAP_INVOLVED"),
                timeliness,  # readme §6.1: E early, L late, empty on time
                num(conv_price, "conversion_or_exercise_price", flags) if conv_price else None,
                day(exercise, "exercise_date", flags) if exercise else None,
                day(expiration, "expiration_date", flags) if expiration else None,
                clean(u_title) if u_title else None,
                num(u_shares, "underlying_shares", flags) if u_shares else None,
                num(u_value, "underlying_value", flags) if u_value else None,
                notes,
                flags,
            )
        )
    return out


def _price_range(
    ctx: _Filing, ids: list[str], price: Decimal | None
) -> tuple[Decimal | None, Decimal | None]:
    """Pick the footnoted low/high range that brackets the price (or the only one), as the XML parser."""
    candidates: list[tuple[Decimal, Decimal]] = []
    for ref in ids:
        ranges = ctx.ranges.get(ref)
        if ranges is None:
            text = ctx.footnotes.get(ref)
            ranges = ctx.ranges[ref] = parse_price_range(text) if text else []
        candidates.extend(ranges)
    if not candidates:
        return None, None
    if price is None:
        return candidates[0] if len(set(candidates)) == 1 else (None, None)
    for low, high in candidates:
        if low <= price <= high:
            return low, high
    return None, None


def _holdings(ctx: _Filing, kind: TableName, table: str, rows: Rows) -> list[ParsedHolding]:
    conv = ctx.conv
    num, day = conv.num, conv.day
    out: list[ParsedHolding] = []
    for index, (line, row) in enumerate(_sk_order(rows)):
        conv.at(table, line)
        (
            _,
            _,
            title,
            _,
            conv_price,
            _,
            _form_type,
            _,
            exercise,
            _,
            expiration,
            _,
            u_title,
            _,
            u_shares,
            _,
            u_value,
            _,
            owned,
            _,
            value_owned,
            _,
            direct,
            _,
            nature,
            _,
        ) = row
        flags: list[str] = []
        out.append(
            ParsedHolding(
                table=kind,
                index=index,
                security_title=clean(title),
                shares_owned=num(owned, "shares_owned", flags),
                value_owned=num(value_owned, "value_owned", flags),
                direct_indirect=_upper(direct),
                nature_of_ownership=clean(nature),
                conversion_or_exercise_price=num(conv_price, "conversion_or_exercise_price", flags),
                exercise_date=day(exercise, "exercise_date", flags),
                expiration_date=day(expiration, "expiration_date", flags),
                underlying_security_title=clean(u_title),
                underlying_shares=num(u_shares, "underlying_shares", flags),
                underlying_value=num(u_value, "underlying_value", flags),
                footnotes=_footnote_map(HOLDING_FN_GET(row), HOLDING_FN_NAMES),
            )
        )
        # Holdings have no flags field; the XML parser surfaces their problems as warnings, so do we.
        conv.warnings.extend(f"{kind} holding {index}: {flag}" for flag in flags)
    return out


def _signatures(conv: Converter, rows: Rows, doc_flags: list[str]) -> list[ParsedSignature]:
    out: list[ParsedSignature] = []
    for line, (_, name, signed) in rows:
        conv.at("OWNER_SIGNATURE", line)
        out.append(ParsedSignature(name=clean(name), date=conv.day(signed, "signature_date", doc_flags)))
    return out


def _footnotes(conv: Converter, rows: Rows) -> dict[str, str]:
    notes: dict[str, str] = {}
    for line, (_, footnote_id, text) in rows:
        fid = footnote_id.strip()
        if not fid:
            conv.at("FOOTNOTES", line).bad("FOOTNOTE_ID", footnote_id, "empty footnote id")
            continue
        notes.setdefault(fid, " ".join(text.split()))  # the XML parser collapses footnote whitespace too
    # File order is arbitrary; F1, F2, ..., F10 is the order the document lists them in.
    return {fid: notes[fid] for fid in sorted(notes, key=natural_key)}
