"""Read the data sets' TSV files: open the zip or folder, decode, split records, project and group rows.

Also the types a pass over a data set reports in: BulkDatasetError (unreadable), BulkRowError (a row
or accession dropped) and DatasetSummary.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter
from pathlib import Path, PurePosixPath

from app.ingest.bulk_columns import ALIASES, DERIV_ONLY, TABLES

_ROW_START = re.compile(r"\d{10}-\d{2}-\d{6}\t")  # every record starts with an accession number
_CONTINUATION = re.compile(r"\n(?!\d{10}-\d{2}-\d{6}\t)")
ACCESSION = re.compile(r"\d{10}-\d{2}-\d{6}")

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


def iter_table(path: Path, table: str) -> Iterator[dict[str, str] | BulkRowError]:
    """Yield one table's rows as {header: text} dicts (unquoted, decoded), or errors for broken rows."""
    table = table.upper().removesuffix(".TSV")
    summary = DatasetSummary()
    with open_source(path) as members:
        reader = members.get(table)
        if reader is None:
            raise BulkDatasetError(f"{table}.tsv not found in {path}")
        header, records = _records(table, reader(), summary)
    for record in records:
        yield record if isinstance(record, BulkRowError) else dict(zip(header, record[1], strict=True))


@contextmanager
def open_source(path: Path) -> Iterator[dict[str, Callable[[], bytes]]]:
    """Map table name -> a function returning the raw bytes of that table's TSV (zip or folder)."""
    path = Path(path)
    if path.is_dir():
        files = {p.name.upper(): p for p in path.iterdir() if p.is_file()}
        yield {t: files[f"{t}.TSV"].read_bytes for t in TABLES if f"{t}.TSV" in files}
    elif path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            # Match by base name, case-insensitively: some zips nest the files in a folder.
            names = {PurePosixPath(n).name.upper(): n for n in zf.namelist() if not n.endswith("/")}
            yield {t: partial(zf.read, names[f"{t}.TSV"]) for t in TABLES if f"{t}.TSV" in names}
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
            match = ACCESSION.match(record)  # name the filing that loses this row, when we can
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
        for alias in ALIASES.get(real, ()):
            pos = pos if pos is not None else index.get(alias)
        if pos is None:
            positions.append(len(header))
            missing.append(real)
        else:
            positions.append(pos)
    nonderiv = table.startswith("NONDERIV_")
    reported = [m for m in missing if not (nonderiv and m.startswith(DERIV_ONLY))]
    if reported:
        summary.missing_columns[table] = reported
    known = {sk_name if w == "SK" else w for w in wanted}
    known |= {a for w in known for a in ALIASES.get(w, ())}
    extra = [h for h in header if h not in known and not h.startswith(("CONTACT_", "NOTIFICATION_"))]
    if extra:
        summary.extra_columns[table] = extra
    getter = itemgetter(*positions)
    return getter, bool(missing)


def read_grouped(
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
