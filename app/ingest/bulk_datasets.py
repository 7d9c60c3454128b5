"""Read SEC's quarterly Insider Transactions Data Sets (Form 3/4/5 TSVs) into ParsedForm4 documents.

Pure apart from reading the zip or folder: each SUBMISSION row becomes one ParsedForm4 assembled from
the other seven tables (joined on ACCESSION_NUMBER), so bulk history takes the XML storage path.
"""

from __future__ import annotations

import gc
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from operator import itemgetter
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from app.ingest.form4_parser import KNOWN_DOCUMENT_TYPES, normalize_cik, normalize_ticker, parse_price_range
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

__all__ = [
    "TABLES",
    "BulkDatasetError",
    "BulkRowError",
    "DatasetSummary",
    "iter_dataset_filings",
    "iter_table",
    "known_at_estimate",
]

EASTERN = ZoneInfo("America/New_York")

TABLES = (
    "SUBMISSION",
    "REPORTINGOWNER",
    "NONDERIV_TRANS",
    "NONDERIV_HOLDING",
    "DERIV_TRANS",
    "DERIV_HOLDING",
    "FOOTNOTES",
    "OWNER_SIGNATURE",
)

# Physical headers as shipped (checked against real 2006q1/2024q4/2025q2 files and FORM_345_metadata.json).
# The metadata also lists CONTACT_* / NOTIFICATION_EMAIL_ADDRESS for SUBMISSION, absent from real files.
_SUBMISSION_COLS = tuple(
    """
    ACCESSION_NUMBER FILING_DATE PERIOD_OF_REPORT DATE_OF_ORIG_SUB NO_SECURITIES_OWNED NOT_SUBJECT_SEC16
    FORM3_HOLDINGS_REPORTED FORM4_TRANS_REPORTED DOCUMENT_TYPE ISSUERCIK ISSUERNAME ISSUERTRADINGSYMBOL
    REMARKS AFF10B5ONE
""".split()
)
_OWNER_COLS = tuple(
    """
    ACCESSION_NUMBER RPTOWNERCIK RPTOWNERNAME RPTOWNER_RELATIONSHIP RPTOWNER_TITLE RPTOWNER_TXT
    RPTOWNER_STREET1 RPTOWNER_STREET2 RPTOWNER_CITY RPTOWNER_STATE RPTOWNER_ZIPCODE RPTOWNER_STATE_DESC
    FILE_NUMBER
""".split()
)
# DERIV_TRANS's header, a superset of NONDERIV_TRANS's: one projection serves both ("SK" = <table>_SK).
_TX_COLS = tuple(
    """
    ACCESSION_NUMBER SK SECURITY_TITLE SECURITY_TITLE_FN CONV_EXERCISE_PRICE CONV_EXERCISE_PRICE_FN
    TRANS_DATE TRANS_DATE_FN DEEMED_EXECUTION_DATE DEEMED_EXECUTION_DATE_FN TRANS_FORM_TYPE TRANS_CODE
    EQUITY_SWAP_INVOLVED EQUITY_SWAP_TRANS_CD_FN TRANS_TIMELINESS TRANS_TIMELINESS_FN TRANS_SHARES
    TRANS_SHARES_FN TRANS_TOTAL_VALUE TRANS_TOTAL_VALUE_FN TRANS_PRICEPERSHARE TRANS_PRICEPERSHARE_FN
    TRANS_ACQUIRED_DISP_CD TRANS_ACQUIRED_DISP_CD_FN EXCERCISE_DATE EXCERCISE_DATE_FN EXPIRATION_DATE
    EXPIRATION_DATE_FN UNDLYNG_SEC_TITLE UNDLYNG_SEC_TITLE_FN UNDLYNG_SEC_SHARES UNDLYNG_SEC_SHARES_FN
    UNDLYNG_SEC_VALUE UNDLYNG_SEC_VALUE_FN SHRS_OWND_FOLWNG_TRANS SHRS_OWND_FOLWNG_TRANS_FN
    VALU_OWND_FOLWNG_TRANS VALU_OWND_FOLWNG_TRANS_FN DIRECT_INDIRECT_OWNERSHIP
    DIRECT_INDIRECT_OWNERSHIP_FN NATURE_OF_OWNERSHIP NATURE_OF_OWNERSHIP_FN
""".split()
)
# DERIV_HOLDING's header, likewise a superset of NONDERIV_HOLDING's.
_HOLDING_COLS = tuple(
    """
    ACCESSION_NUMBER SK SECURITY_TITLE SECURITY_TITLE_FN CONV_EXERCISE_PRICE CONV_EXERCISE_PRICE_FN
    TRANS_FORM_TYPE TRANS_FORM_TYPE_FN EXERCISE_DATE EXERCISE_DATE_FN EXPIRATION_DATE EXPIRATION_DATE_FN
    UNDLYNG_SEC_TITLE UNDLYNG_SEC_TITLE_FN UNDLYNG_SEC_SHARES UNDLYNG_SEC_SHARES_FN UNDLYNG_SEC_VALUE
    UNDLYNG_SEC_VALUE_FN SHRS_OWND_FOLWNG_TRANS SHRS_OWND_FOLWNG_TRANS_FN VALU_OWND_FOLWNG_TRANS
    VALU_OWND_FOLWNG_TRANS_FN DIRECT_INDIRECT_OWNERSHIP DIRECT_INDIRECT_OWNERSHIP_FN NATURE_OF_OWNERSHIP
    NATURE_OF_OWNERSHIP_FN
""".split()
)
# Column prefixes the NONDERIV_* tables legitimately lack.
_DERIV_ONLY = (
    "CONV_EXERCISE_PRICE",
    "TRANS_TOTAL_VALUE",
    "EXCERCISE_DATE",
    "EXERCISE_DATE",
    "EXPIRATION_DATE",
    "UNDLYNG_SEC_",
)
_FOOTNOTE_COLS = ("ACCESSION_NUMBER", "FOOTNOTE_ID", "FOOTNOTE_TXT")
_SIGNATURE_COLS = ("ACCESSION_NUMBER", "OWNERSIGNATURENAME", "OWNERSIGNATUREDATE")

# Spellings that differ between the readme, the metadata JSON and the physical files: the files say
# EQUITY_SWAP_TRANS_CD_FN (metadata: EQUITY_SWAP_INVOLVED_FN), EXCERCISE_DATE in DERIV_TRANS but
# EXERCISE_DATE in DERIV_HOLDING, FORM3_HOLDINGS_REPORTED (readme: FORM3_HOLDING_REPORTED).
_ALIASES: dict[str, tuple[str, ...]] = {
    "EQUITY_SWAP_TRANS_CD_FN": ("EQUITY_SWAP_INVOLVED_FN",),
    "EXCERCISE_DATE": ("EXERCISE_DATE",),
    "EXCERCISE_DATE_FN": ("EXERCISE_DATE_FN",),
    "EXERCISE_DATE": ("EXCERCISE_DATE",),
    "EXERCISE_DATE_FN": ("EXCERCISE_DATE_FN",),
    "FORM3_HOLDINGS_REPORTED": ("FORM3_HOLDING_REPORTED",),
    "OWNERSIGNATURENAME": ("SIGNATURE_NAME",),
    "OWNERSIGNATUREDATE": ("SIGNATURE_DATE",),
}

# *_FN column -> the field name the XML parser uses in ParsedTransaction/ParsedHolding.footnotes.
# EQUITY_SWAP_TRANS_CD_FN is the footnote on <transactionCoding> (it explains J codes), hence "code".
_FN_FIELDS = {
    "SECURITY_TITLE_FN": "security_title",
    "CONV_EXERCISE_PRICE_FN": "conversion_or_exercise_price",
    "TRANS_DATE_FN": "transaction_date",
    "DEEMED_EXECUTION_DATE_FN": "deemed_execution_date",
    "EQUITY_SWAP_TRANS_CD_FN": "code",
    "TRANS_TIMELINESS_FN": "timeliness",
    "TRANS_SHARES_FN": "shares",
    "TRANS_TOTAL_VALUE_FN": "total_value",
    "TRANS_PRICEPERSHARE_FN": "price",
    "TRANS_ACQUIRED_DISP_CD_FN": "acquired_disposed",
    "EXCERCISE_DATE_FN": "exercise_date",
    "EXERCISE_DATE_FN": "exercise_date",
    "EXPIRATION_DATE_FN": "expiration_date",
    "UNDLYNG_SEC_TITLE_FN": "underlying_security_title",
    "UNDLYNG_SEC_SHARES_FN": "underlying_shares",
    "UNDLYNG_SEC_VALUE_FN": "underlying_value",
    "SHRS_OWND_FOLWNG_TRANS_FN": "shares_owned_after",
    "VALU_OWND_FOLWNG_TRANS_FN": "value_owned_after",
    "DIRECT_INDIRECT_OWNERSHIP_FN": "direct_indirect",
    "NATURE_OF_OWNERSHIP_FN": "nature_of_ownership",
    "TRANS_FORM_TYPE_FN": "form_type",
}
# Holdings file their position footnotes under the ParsedHolding field names (form4_parser._HOLDING_RENAME).
_HOLDING_FN_FIELDS = {
    **_FN_FIELDS,
    "SHRS_OWND_FOLWNG_TRANS_FN": "shares_owned",
    "VALU_OWND_FOLWNG_TRANS_FN": "value_owned",
}
_TX_FN_GET = itemgetter(*(i for i, c in enumerate(_TX_COLS) if c.endswith("_FN")))
_TX_FN_NAMES = tuple(_FN_FIELDS[c] for c in _TX_COLS if c.endswith("_FN"))
_HOLDING_FN_GET = itemgetter(*(i for i, c in enumerate(_HOLDING_COLS) if c.endswith("_FN")))
_HOLDING_FN_NAMES = tuple(_HOLDING_FN_FIELDS[c] for c in _HOLDING_COLS if c.endswith("_FN"))

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}
# The XML parser's boolean spellings (parser-anchors B7); anything else reads as unknown (None).
_TRUE = frozenset({"1", "true", "True", "TRUE", "Y", "y", "yes", "Yes", "YES", "T", "t"})
_FALSE = frozenset({"0", "false", "False", "FALSE", "N", "n", "no", "No", "NO", "F", "f"})
_ROW_START = re.compile(r"\d{10}-\d{2}-\d{6}\t")  # every record starts with an accession number
_CONTINUATION = re.compile(r"\n(?!\d{10}-\d{2}-\d{6}\t)")
_ACCESSION = re.compile(r"\d{10}-\d{2}-\d{6}")

Row = tuple[str, ...]
Rows = Sequence[tuple[int, Row]]


class BulkDatasetError(ValueError):
    """A data set that cannot be read at all (no SUBMISSION.tsv, not a zip or folder)."""


@dataclass(frozen=True, slots=True)
class BulkRowError:
    """A row (or a whole accession) that could not be turned into part of a ParsedForm4."""

    table: str  # e.g. "NONDERIV_TRANS"
    line: int | None  # 1-based physical line in the TSV (the header is line 1)
    accession: str | None
    reason: str


@dataclass(slots=True)
class DatasetSummary:
    """What a pass over one data set saw; filled in while iter_dataset_filings runs."""

    source: str = ""
    rows: dict[str, int] = field(default_factory=dict)  # data rows read per table
    missing_files: list[str] = field(default_factory=list)
    missing_columns: dict[str, list[str]] = field(default_factory=dict)
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    decode_fallback_lines: int = 0  # lines that were not UTF-8 (decoded as cp1252/latin-1)
    filings: int = 0
    row_errors: int = 0
    orphan_accessions: int = 0  # accessions in child tables with no SUBMISSION row


def known_at_estimate(filed_date: date) -> datetime:
    """Return 22:00 ET on the filing date as UTC: the latest a Form 3/4/5 can be accepted that day."""
    return datetime.combine(filed_date, time(22, 0), tzinfo=EASTERN).astimezone(UTC)


def iter_table(path: Path, table: str) -> Iterator[dict[str, str] | BulkRowError]:
    """Yield one table's rows as {header: text} dicts (unquoted, decoded), or errors for broken rows."""
    table = table.upper().removesuffix(".TSV")
    summary = DatasetSummary()
    with _open_source(path) as members:
        reader = members.get(table)
        if reader is None:
            raise BulkDatasetError(f"{table}.tsv not found in {path}")
        header, records = _records(table, reader(), summary)
    for record in records:
        yield record if isinstance(record, BulkRowError) else dict(zip(header, record[1], strict=True))


def iter_dataset_filings(
    path: Path, *, summary: DatasetSummary | None = None
) -> Iterator[ParsedForm4 | BulkRowError]:
    """Yield one ParsedForm4 per SUBMISSION row of a quarterly data set (zip or folder), plus row errors."""
    summary = summary if summary is not None else DatasetSummary()
    summary.source = str(path)
    errors: list[BulkRowError] = []
    # Reading builds ~10^6 small tuples that live until the end; cyclic GC passes over them cost ~40% of
    # the read and can free nothing, so pause it for this phase only (not across yields).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with _open_source(path) as members:
            if "SUBMISSION" not in members:
                raise BulkDatasetError(f"SUBMISSION.tsv not found in {path}")
            summary.missing_files = [f"{t}.tsv" for t in TABLES if t not in members]
            read = partial(_read_grouped, members=members, summary=summary, errors=errors)
            submissions = read("SUBMISSION", wanted=_SUBMISSION_COLS, unique=True)
            owners = read("REPORTINGOWNER", wanted=_OWNER_COLS)
            nd_tx = read("NONDERIV_TRANS", wanted=_TX_COLS)
            d_tx = read("DERIV_TRANS", wanted=_TX_COLS)
            nd_hold = read("NONDERIV_HOLDING", wanted=_HOLDING_COLS)
            d_hold = read("DERIV_HOLDING", wanted=_HOLDING_COLS)
            footnotes = read("FOOTNOTES", wanted=_FOOTNOTE_COLS)
            signatures = read("OWNER_SIGNATURE", wanted=_SIGNATURE_COLS)
    finally:
        if gc_was_enabled:
            gc.enable()
    has_footnotes = "FOOTNOTES" in members

    summary.row_errors += len(errors)
    yield from errors
    dropped: dict[str, list[str]] = {}  # the filing keeps a note of each of its rows that was dropped
    for e in errors:
        if e.accession is not None:
            dropped.setdefault(e.accession, []).append(f"{e.table}.tsv line {e.line}: {e.reason}")

    children = {
        "REPORTINGOWNER": owners,
        "NONDERIV_TRANS": nd_tx,
        "DERIV_TRANS": d_tx,
        "NONDERIV_HOLDING": nd_hold,
        "DERIV_HOLDING": d_hold,
        "FOOTNOTES": footnotes,
        "OWNER_SIGNATURE": signatures,
    }
    for accession, rows in submissions.items():
        conv = _Converter()
        line, sub = rows[0]
        result = _build_filing(
            conv,
            accession,
            line,
            sub,
            owners.pop(accession, ()),
            nd_tx.pop(accession, ()),
            d_tx.pop(accession, ()),
            nd_hold.pop(accession, ()),
            d_hold.pop(accession, ()),
            footnotes.pop(accession, ()),
            signatures.pop(accession, ()),
            has_footnotes,
        )
        if isinstance(result, BulkRowError):
            summary.row_errors += 1
        else:
            summary.filings += 1
            result.warnings.extend(f"row dropped: {note}" for note in dropped.get(accession, ()))
        yield result

    # Whatever is left in the child tables has no SUBMISSION row (popped above as consumed).
    orphans: dict[str, list[str]] = {}
    for table, grouped in children.items():
        for accession, rows in grouped.items():
            orphans.setdefault(accession, []).append(f"{table} ({len(rows)})")
    summary.orphan_accessions = len(orphans)
    summary.row_errors += len(orphans)
    for accession, where in orphans.items():
        reason = f"rows in {', '.join(where)} but no SUBMISSION row"
        yield BulkRowError("SUBMISSION", None, accession, reason)


# --- reading -----------------------------------------------------------------------------------------


@contextmanager
def _open_source(path: Path) -> Iterator[dict[str, Callable[[], bytes]]]:
    """Map table name -> a function returning the raw bytes of that table's TSV (zip or folder)."""
    path = Path(path)
    if path.is_dir():
        files = {p.name.upper(): p for p in path.iterdir() if p.is_file()}
        yield {t: files[f"{t}.TSV"].read_bytes for t in TABLES if f"{t}.TSV" in files}
    elif path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            # Match by base name, case-insensitively: some zips nest the files in a folder.
            names = {PurePosixPath(n).name.upper(): n for n in zf.namelist() if not n.endswith("/")}
            yield {t: (lambda n=names[f"{t}.TSV"]: zf.read(n)) for t in TABLES if f"{t}.TSV" in names}
    else:
        raise BulkDatasetError(f"not a data set zip or folder: {path}")


def _decode_text(data: bytes, summary: DatasetSummary) -> str:
    """Decode a TSV: UTF-8 per the readme, falling back per line (cp1252, latin-1) for legacy bytes."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        lines = []
        for raw in data.split(b"\n"):
            try:
                lines.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                summary.decode_fallback_lines += 1
                try:
                    lines.append(raw.decode("cp1252"))
                except UnicodeDecodeError:
                    lines.append(raw.decode("latin-1"))
        text = "\n".join(lines)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return text.rstrip("\n")


def _split_quoted(record: str) -> list[str]:
    """Split a record whose fields may be CSV-quoted ("Class ""A"" shares"); unterminated -> literal."""
    fields: list[str] = []
    i, n = 0, len(record)
    while True:
        if i < n and record[i] == '"':
            parts: list[str] = []
            j = i + 1
            while True:
                k = record.find('"', j)
                if k == -1:  # no closing quote: the quote was literal text, not quoting
                    return record.split("\t")
                if record.startswith('""', k):
                    parts.append(record[j : k + 1])
                    j = k + 2
                    continue
                parts.append(record[j:k])
                i = k + 1
                break
            end = record.find("\t", i)
            tail = record[i:] if end == -1 else record[i:end]
            fields.append("".join(parts) + tail)
        else:
            end = record.find("\t", i)
            fields.append(record[i:] if end == -1 else record[i:end])
        if end == -1:
            return fields
        i = end + 1


Record = tuple[int, list[str]]  # (1-based line, fields)


def _records(
    table: str, data: bytes, summary: DatasetSummary
) -> tuple[list[str], Iterator[Record | BulkRowError]]:
    """Return the header and an iterator of (line, fields), or an error, per logical record."""
    text = _decode_text(data, summary)
    if not text.strip():
        return [], iter(())
    lines = text.split("\n")
    header = [h.strip().strip('"').upper() for h in lines[0].split("\t")]
    ncols = len(header)
    # A line that does not start with an accession number continues the previous record: a text field
    # (footnote, remarks) carried a raw or quoted newline. One regex pass decides if any line needs it.
    joining = header[0] == "ACCESSION_NUMBER" and _CONTINUATION.search(text, len(lines[0])) is not None

    def split(line_no: int, record: str) -> Record | BulkRowError:
        fields = _split_quoted(record) if '"' in record else record.split("\t")
        if len(fields) > ncols and not any(f.strip() for f in fields[ncols:]):
            del fields[ncols:]  # stray trailing tabs
        if len(fields) != ncols:
            match = _ACCESSION.match(record)  # name the filing that loses this row, when we can
            return BulkRowError(
                table,
                line_no,
                match.group() if match else None,
                f"expected {ncols} fields, got {len(fields)}",
            )
        return line_no, fields

    def fast() -> Iterator[Record | BulkRowError]:
        for line_no, line in enumerate(lines[1:], start=2):
            if '"' in line:
                yield split(line_no, line)
                continue
            fields = line.split("\t")
            yield (line_no, fields) if len(fields) == ncols else split(line_no, line)

    def joined() -> Iterator[Record | BulkRowError]:
        i, n = 1, len(lines)
        while i < n:
            start, record = i, lines[i]
            i += 1
            while i < n and not _ROW_START.match(lines[i]):
                record += "\n" + lines[i]
                i += 1
            if record.strip():
                yield split(start + 1, record)

    return header, joined() if joining else fast()


def _column_getter(
    table: str, header: list[str], wanted: tuple[str, ...], summary: DatasetSummary
) -> tuple[Callable[[list[str]], Row], bool]:
    """Build an itemgetter projecting `wanted` columns; absent columns point at a padded "" field."""
    index = {name: i for i, name in enumerate(header)}
    sk_name = f"{table}_SK"
    positions: list[int] = []
    missing: list[str] = []
    for name in wanted:
        real = sk_name if name == "SK" else name
        pos = index.get(real)
        for alias in _ALIASES.get(real, ()):
            pos = pos if pos is not None else index.get(alias)
        if pos is None:
            positions.append(len(header))
            missing.append(real)
        else:
            positions.append(pos)
    nonderiv = table.startswith("NONDERIV_")
    reported = [m for m in missing if not (nonderiv and m.startswith(_DERIV_ONLY))]
    if reported:
        summary.missing_columns[table] = reported
    known = {sk_name if w == "SK" else w for w in wanted}
    known |= {a for w in known for a in _ALIASES.get(w, ())}
    extra = [h for h in header if h not in known and not h.startswith(("CONTACT_", "NOTIFICATION_"))]
    if extra:
        summary.extra_columns[table] = extra
    getter = itemgetter(*positions)
    return getter, bool(missing)


def _read_grouped(
    table: str,
    members: dict[str, Callable[[], bytes]],
    wanted: tuple[str, ...],
    summary: DatasetSummary,
    errors: list[BulkRowError],
    *,
    unique: bool = False,
) -> dict[str, list[tuple[int, Row]]]:
    """Read one table once and group its projected rows by accession number, in file order."""
    grouped: dict[str, list[tuple[int, Row]]] = {}
    reader = members.get(table)
    if reader is None:
        return grouped
    header, records = _records(table, reader(), summary)
    if "ACCESSION_NUMBER" not in header:
        if table == "SUBMISSION":
            raise BulkDatasetError(f"{table}.tsv has no ACCESSION_NUMBER column")
        errors.append(BulkRowError(table, 1, None, "no ACCESSION_NUMBER column; table ignored"))
        return grouped
    getter, pad = _column_getter(table, header, wanted, summary)
    count = 0
    for record in records:
        if isinstance(record, BulkRowError):
            errors.append(record)
            continue
        line, fields = record
        count += 1
        if pad:
            fields.append("")
        row = getter(fields)
        accession = row[0].strip()
        if not accession:
            errors.append(BulkRowError(table, line, None, "empty ACCESSION_NUMBER"))
            continue
        rows = grouped.get(accession)
        if rows is None:
            grouped[accession] = [(line, row)]
        elif unique:
            errors.append(BulkRowError(table, line, accession, "duplicate ACCESSION_NUMBER; first row kept"))
        else:
            rows.append((line, row))
    summary.rows[table] = count
    return grouped


# --- converting ----------------------------------------------------------------------------------------
# Values are normalised exactly as app.ingest.form4_parser does for the same XML element (canonical
# Decimals, upper-cased codes, collapsed whitespace, the same row flags), so a filing stored from the
# data set and one parsed from its XML compare equal apart from the data set's 2-decimal rounding.

# Parsed-value caches shared across filings: a quarter holds a few hundred distinct dates.
_CACHE_LIMIT = 200_000
_DATES: dict[str, date] = {}
_DECIMALS: dict[str, Decimal] = {}
_NUMBER_JUNK = str.maketrans("", "", ", $\u00a0\t\r\n_")
_MIN_PLAUSIBLE = date(1990, 1, 1)
_ONE_YEAR = timedelta(days=366)
_ONE_DAY = timedelta(days=1)


class _Converter:
    """Typed value parsing for one filing; a bad value becomes None, a parser-style flag and a warning."""

    __slots__ = ("warnings", "table", "line")

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.table = ""
        self.line = 0

    def at(self, table: str, line: int) -> _Converter:
        self.table, self.line = table, line
        return self

    def bad(self, column: str, value: str, what: str) -> None:
        self.warnings.append(f"{self.table}.tsv line {self.line}: {column}: {what}: {value!r}")

    def num(self, value: str, name: str, flags: list[str]) -> Decimal | None:
        if not value:  # most cells are empty
            return None
        number = _DECIMALS.get(value)
        if number is not None:
            return number
        text = value.strip()
        if not text:
            return None
        # One canonical form, as the XML parser: "4802.0" (the export's integers) -> 4802, "20.50" -> 20.5.
        if text[-1] == "0" and "." in text and "e" not in text and "E" not in text:
            text = text.rstrip("0").rstrip(".") or "0"
        try:
            number = Decimal(text)
        except InvalidOperation:
            cleaned = text.translate(_NUMBER_JUNK)
            try:
                number = Decimal(cleaned) if cleaned else None
            except InvalidOperation:
                number = None
        if number is None or not number.is_finite():
            flags.append(f"invalid_number:{name}")
            self.bad(name, value, "not a number")
            return None
        if "e" in text or "E" in text:
            number = Decimal(format(number, "f"))
        if len(_DECIMALS) < _CACHE_LIMIT:  # amounts repeat a lot ("0.0", round lots); Decimal is immutable
            _DECIMALS[value] = number
        return number

    def day(self, value: str, name: str, flags: list[str]) -> date | None:
        if not value:
            return None
        parsed = _DATES.get(value)
        if parsed is not None:
            return parsed
        if not value.strip():
            return None
        parsed = _parse_date(value.strip())
        if parsed is None:
            flags.append(f"invalid_date:{name}")
            self.bad(name, value, "not a date")
            return None
        if len(_DATES) < _CACHE_LIMIT:
            _DATES[value] = parsed
        return parsed

    def flag(self, value: str, column: str) -> bool | None:
        value = value.strip()
        if not value:
            return None
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        self.bad(column, value, "not a boolean")
        return None


def _parse_date(text: str) -> date | None:
    """Parse DD-MON-YYYY (the data sets' format) or ISO YYYY-MM-DD[...]; None when neither."""
    try:
        if len(text) == 11 and text[2] == "-" and text[6] == "-":
            return date(int(text[7:]), _MONTHS[text[3:6].upper()], int(text[:2]))
        return date.fromisoformat(text[:10])
    except (KeyError, ValueError):
        return None


def _clean(value: str) -> str | None:
    """Strip, collapse inner whitespace runs (as the XML parser does) and map "" to None."""
    text = value.strip()
    if "  " in text or "\n" in text or "\t" in text or "\r" in text:
        text = " ".join(text.split())
    return text or None


def _ids(value: str) -> list[str]:
    """Split a *_FN cell ("F3, F2") into ids in natural order: the data sets do not keep the XML's order."""
    if "," not in value:
        value = value.strip()
        return [value] if value else []
    ids = {part.strip() for part in value.split(",")}
    ids.discard("")
    return sorted(sorted(ids), key=len) if len(ids) > 1 else list(ids)  # F2 before F10


def _natural(footnote_id: str) -> tuple[int, str]:
    digits = "".join(ch for ch in footnote_id if ch.isdigit())
    return (int(digits) if digits else 1 << 30, footnote_id)


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
        self, conv: _Converter, period: date | None, filed: date | None, footnotes: dict[str, str]
    ) -> None:
        self.conv = conv
        self.period = period
        self.filed = filed
        self.footnotes = footnotes
        self.ranges: dict[str, list[tuple[Decimal, Decimal]]] = {}


def _build_filing(
    conv: _Converter,
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
    if not _ACCESSION.fullmatch(accession):
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
    symbol_raw = _clean(issuer_symbol)
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
            name=_clean(issuer_name),
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
        remarks=_clean(remarks),
        signatures=_signatures(conv, signature_rows, doc_flags),
        warnings=warnings,
    )
    warnings.extend(f"document: {flag}" for flag in doc_flags)
    if has_footnotes:
        referenced = {
            i
            for row in (*filing.transactions, *filing.holdings)
            for ids in row.footnotes.values()
            for i in ids
        }
        for missing in sorted(referenced - notes.keys(), key=_natural):
            warnings.append(f"footnote {missing} referenced but not in FOOTNOTES.tsv")
    return filing


def _owners(conv: _Converter, rows: Rows) -> list[ParsedOwner]:
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
            cik=cik, name=_clean(name), officer_title=_clean(title), other_text=_clean(other_text)
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
    return {name: ids for name, value in zip(names, values, strict=True) if value and (ids := _ids(value))}


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
        notes = _footnote_map(_TX_FN_GET(row), _TX_FN_NAMES)
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
            or (ctx.period is not None and trade_date > ctx.period + _ONE_YEAR)
            or (ctx.filed is not None and trade_date > ctx.filed + _ONE_DAY)
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
                _clean(title),
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
                _clean(nature) if nature else None,
                conv.flag(swap, "EQUITY_SWAP_INVOLVED"),
                timeliness,  # readme §6.1: E early, L late, empty on time
                num(conv_price, "conversion_or_exercise_price", flags) if conv_price else None,
                day(exercise, "exercise_date", flags) if exercise else None,
                day(expiration, "expiration_date", flags) if expiration else None,
                _clean(u_title) if u_title else None,
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
                security_title=_clean(title),
                shares_owned=num(owned, "shares_owned", flags),
                value_owned=num(value_owned, "value_owned", flags),
                direct_indirect=_upper(direct),
                nature_of_ownership=_clean(nature),
                conversion_or_exercise_price=num(conv_price, "conversion_or_exercise_price", flags),
                exercise_date=day(exercise, "exercise_date", flags),
                expiration_date=day(expiration, "expiration_date", flags),
                underlying_security_title=_clean(u_title),
                underlying_shares=num(u_shares, "underlying_shares", flags),
                underlying_value=num(u_value, "underlying_value", flags),
                footnotes=_footnote_map(_HOLDING_FN_GET(row), _HOLDING_FN_NAMES),
            )
        )
        # Holdings have no flags field; the XML parser surfaces their problems as warnings, so do we.
        conv.warnings.extend(f"{kind} holding {index}: {flag}" for flag in flags)
    return out


def _signatures(conv: _Converter, rows: Rows, doc_flags: list[str]) -> list[ParsedSignature]:
    out: list[ParsedSignature] = []
    for line, (_, name, signed) in rows:
        conv.at("OWNER_SIGNATURE", line)
        out.append(ParsedSignature(name=_clean(name), date=conv.day(signed, "signature_date", doc_flags)))
    return out


def _footnotes(conv: _Converter, rows: Rows) -> dict[str, str]:
    notes: dict[str, str] = {}
    for line, (_, footnote_id, text) in rows:
        fid = footnote_id.strip()
        if not fid:
            conv.at("FOOTNOTES", line).bad("FOOTNOTE_ID", footnote_id, "empty footnote id")
            continue
        notes.setdefault(fid, " ".join(text.split()))  # the XML parser collapses footnote whitespace too
    # File order is arbitrary; F1, F2, ..., F10 is the order the document lists them in.
    return {fid: notes[fid] for fid in sorted(notes, key=_natural)}
