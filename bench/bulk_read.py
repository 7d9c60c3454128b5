"""Benchmark iter_dataset_filings on a synthetic full quarter of SEC Form 3/4/5 data set TSVs.

The generated files copy the shapes of the real partial files in edgar-samples/bulk (headers, DD-MON-YYYY
dates, "4802.0" amounts, "F1, F2" footnote ids, CSV-quoted titles, joint owners). Generated once per size
into the temp folder and reused: `.venv/bin/python bench/bulk_read.py [--filings 30000] [--zip]`.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path

from app.ingest.bulk_datasets import iter_dataset_filings
from app.ingest.bulk_tsv import BulkRowError, DatasetSummary

GENERATOR_VERSION = 2
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

HEADERS = {
    table: tuple(columns.split())
    for table, columns in {
        "SUBMISSION": """
        ACCESSION_NUMBER FILING_DATE PERIOD_OF_REPORT DATE_OF_ORIG_SUB NO_SECURITIES_OWNED
        NOT_SUBJECT_SEC16 FORM3_HOLDINGS_REPORTED FORM4_TRANS_REPORTED DOCUMENT_TYPE ISSUERCIK ISSUERNAME
        ISSUERTRADINGSYMBOL REMARKS AFF10B5ONE""",
        "REPORTINGOWNER": """
        ACCESSION_NUMBER RPTOWNERCIK RPTOWNERNAME RPTOWNER_RELATIONSHIP RPTOWNER_TITLE
        RPTOWNER_TXT RPTOWNER_STREET1 RPTOWNER_STREET2 RPTOWNER_CITY RPTOWNER_STATE RPTOWNER_ZIPCODE
        RPTOWNER_STATE_DESC FILE_NUMBER""",
        "NONDERIV_TRANS": """
        ACCESSION_NUMBER NONDERIV_TRANS_SK SECURITY_TITLE SECURITY_TITLE_FN TRANS_DATE
        TRANS_DATE_FN DEEMED_EXECUTION_DATE DEEMED_EXECUTION_DATE_FN TRANS_FORM_TYPE TRANS_CODE
        EQUITY_SWAP_INVOLVED EQUITY_SWAP_TRANS_CD_FN TRANS_TIMELINESS TRANS_TIMELINESS_FN TRANS_SHARES
        TRANS_SHARES_FN TRANS_PRICEPERSHARE TRANS_PRICEPERSHARE_FN TRANS_ACQUIRED_DISP_CD
        TRANS_ACQUIRED_DISP_CD_FN SHRS_OWND_FOLWNG_TRANS SHRS_OWND_FOLWNG_TRANS_FN VALU_OWND_FOLWNG_TRANS
        VALU_OWND_FOLWNG_TRANS_FN DIRECT_INDIRECT_OWNERSHIP DIRECT_INDIRECT_OWNERSHIP_FN NATURE_OF_OWNERSHIP
        NATURE_OF_OWNERSHIP_FN""",
        "NONDERIV_HOLDING": """
        ACCESSION_NUMBER NONDERIV_HOLDING_SK SECURITY_TITLE SECURITY_TITLE_FN
        TRANS_FORM_TYPE TRANS_FORM_TYPE_FN SHRS_OWND_FOLWNG_TRANS SHRS_OWND_FOLWNG_TRANS_FN
        VALU_OWND_FOLWNG_TRANS VALU_OWND_FOLWNG_TRANS_FN DIRECT_INDIRECT_OWNERSHIP
        DIRECT_INDIRECT_OWNERSHIP_FN NATURE_OF_OWNERSHIP NATURE_OF_OWNERSHIP_FN""",
        "DERIV_TRANS": """
        ACCESSION_NUMBER DERIV_TRANS_SK SECURITY_TITLE SECURITY_TITLE_FN CONV_EXERCISE_PRICE
        CONV_EXERCISE_PRICE_FN TRANS_DATE TRANS_DATE_FN DEEMED_EXECUTION_DATE DEEMED_EXECUTION_DATE_FN
        TRANS_FORM_TYPE TRANS_CODE EQUITY_SWAP_INVOLVED EQUITY_SWAP_TRANS_CD_FN TRANS_TIMELINESS
        TRANS_TIMELINESS_FN TRANS_SHARES TRANS_SHARES_FN TRANS_TOTAL_VALUE TRANS_TOTAL_VALUE_FN
        TRANS_PRICEPERSHARE TRANS_PRICEPERSHARE_FN TRANS_ACQUIRED_DISP_CD TRANS_ACQUIRED_DISP_CD_FN
        EXCERCISE_DATE EXCERCISE_DATE_FN EXPIRATION_DATE EXPIRATION_DATE_FN UNDLYNG_SEC_TITLE
        UNDLYNG_SEC_TITLE_FN UNDLYNG_SEC_SHARES UNDLYNG_SEC_SHARES_FN UNDLYNG_SEC_VALUE UNDLYNG_SEC_VALUE_FN
        SHRS_OWND_FOLWNG_TRANS SHRS_OWND_FOLWNG_TRANS_FN VALU_OWND_FOLWNG_TRANS VALU_OWND_FOLWNG_TRANS_FN
        DIRECT_INDIRECT_OWNERSHIP DIRECT_INDIRECT_OWNERSHIP_FN NATURE_OF_OWNERSHIP NATURE_OF_OWNERSHIP_FN""",
        "DERIV_HOLDING": """
        ACCESSION_NUMBER DERIV_HOLDING_SK SECURITY_TITLE SECURITY_TITLE_FN CONV_EXERCISE_PRICE
        CONV_EXERCISE_PRICE_FN TRANS_FORM_TYPE TRANS_FORM_TYPE_FN EXERCISE_DATE EXERCISE_DATE_FN
        EXPIRATION_DATE EXPIRATION_DATE_FN UNDLYNG_SEC_TITLE UNDLYNG_SEC_TITLE_FN UNDLYNG_SEC_SHARES
        UNDLYNG_SEC_SHARES_FN UNDLYNG_SEC_VALUE UNDLYNG_SEC_VALUE_FN SHRS_OWND_FOLWNG_TRANS
        SHRS_OWND_FOLWNG_TRANS_FN VALU_OWND_FOLWNG_TRANS VALU_OWND_FOLWNG_TRANS_FN DIRECT_INDIRECT_OWNERSHIP
        DIRECT_INDIRECT_OWNERSHIP_FN NATURE_OF_OWNERSHIP NATURE_OF_OWNERSHIP_FN""",
        "FOOTNOTES": "ACCESSION_NUMBER FOOTNOTE_ID FOOTNOTE_TXT",
        "OWNER_SIGNATURE": "ACCESSION_NUMBER OWNERSIGNATURENAME OWNERSIGNATUREDATE",
    }.items()
}
TITLES = (
    "Common Stock",
    "Class A Common Stock",
    '"Class ""A"" shares"',
    "Common Shares",
    "Common Stock, par value $0.01",
)
CODES = "S" * 25 + "A" * 10 + "M" * 7 + "F" * 7 + "P" * 5 + "G" * 2 + "J"  # 2026q3 mix (protocol §6.4)
RELATIONSHIPS = (
    "Director",
    "Officer",
    "Director,Officer",
    "TenPercentOwner",
    "Other",
    "Director,TenPercentOwner",
)
NAMES = ("Smith John", "Müller Jörg", "DOE JANE")


def sec_date(day: date) -> str:
    return f"{day.day:02d}-{MONTHS[day.month - 1]}-{day.year}"


def amount(rng: random.Random, integer: bool) -> str:
    # The export prints whole numbers as "4802.0" and keeps at most two decimals.
    return f"{rng.randint(1, 500_000)}.0" if integer else f"{rng.randint(1, 90_000) / 100:.2f}".rstrip("0")


def fn(rng: random.Random, p: float) -> str:
    if rng.random() >= p:
        return ""
    return ", ".join(f"F{i}" for i in sorted(rng.sample(range(1, 9), rng.choice((1, 1, 1, 2, 3)))))


def tsv_row(table: str, **values: str) -> str:
    return "\t".join(values.get(column, "") for column in HEADERS[table])


def generate(folder: Path, filings: int, tx_rows: int, seed: int = 7) -> None:
    """Write the eight TSVs for a synthetic quarter of `filings` accessions and ~`tx_rows` Table I rows."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {table: ["\t".join(columns)] for table, columns in HEADERS.items()}
    sk = dict.fromkeys(HEADERS, 1_000_000)
    quarter_start = date(2025, 4, 1)
    per_filing = tx_rows / filings
    for n in range(filings):
        acc = f"{rng.choice((899243, 1209191, 1127602, 1415889)):010d}-25-{n:06d}"
        filed = quarter_start + timedelta(days=rng.randint(0, 90))
        period = filed - timedelta(days=rng.randint(0, 3))
        doc = rng.choices(("4", "4/A", "3", "5"), weights=(88, 4, 6, 2))[0]
        out["SUBMISSION"].append(
            tsv_row(
                "SUBMISSION",
                ACCESSION_NUMBER=acc,
                FILING_DATE=sec_date(filed),
                PERIOD_OF_REPORT=sec_date(period),
                DATE_OF_ORIG_SUB=sec_date(period) if doc.endswith("/A") else "",
                NOT_SUBJECT_SEC16="0",
                DOCUMENT_TYPE=doc,
                ISSUERCIK=str(rng.randint(1000, 2_000_000)),
                ISSUERNAME="Acme Widgets, Inc.",
                ISSUERTRADINGSYMBOL=rng.choice(("ACME", "NONE", "XYZ", "BRK.A", "ABC.OB")),
                REMARKS="See Exhibit 24" if rng.random() < 0.1 else "",
                AFF10B5ONE=rng.choice(("0", "1", "false", "")),
            )
        )
        for k in range(2 if rng.random() < 0.1 else 1):  # ~10% joint filings
            rel = rng.choice(RELATIONSHIPS)
            out["REPORTINGOWNER"].append(
                tsv_row(
                    "REPORTINGOWNER",
                    ACCESSION_NUMBER=acc,
                    RPTOWNERCIK=str(rng.randint(1_000_000, 2_000_000) + k),
                    RPTOWNERNAME=rng.choice(NAMES),
                    RPTOWNER_RELATIONSHIP=rel,
                    RPTOWNER_TITLE="Chief Executive Officer" if "Officer" in rel else "",
                    RPTOWNER_TXT="Former 10% owner" if rel == "Other" else "",
                    RPTOWNER_STREET1="1 Main St",
                    RPTOWNER_CITY="Springfield",
                    RPTOWNER_STATE="IL",
                    RPTOWNER_ZIPCODE="62701",
                    RPTOWNER_STATE_DESC="ILLINOIS",
                )
            )
        for _ in range(int(per_filing) + (rng.random() < per_filing % 1)):
            sk["NONDERIV_TRANS"] += rng.randint(1, 50)
            code = rng.choice(CODES)
            out["NONDERIV_TRANS"].append(
                tsv_row(
                    "NONDERIV_TRANS",
                    ACCESSION_NUMBER=acc,
                    NONDERIV_TRANS_SK=str(sk["NONDERIV_TRANS"]),
                    SECURITY_TITLE=rng.choice(TITLES),
                    SECURITY_TITLE_FN=fn(rng, 0.03),
                    TRANS_DATE=sec_date(period),
                    TRANS_DATE_FN=fn(rng, 0.01),
                    TRANS_FORM_TYPE="4",
                    TRANS_CODE=code,
                    EQUITY_SWAP_INVOLVED="0" if rng.random() < 0.8 else "false",
                    EQUITY_SWAP_TRANS_CD_FN=fn(rng, 0.05),
                    TRANS_SHARES=amount(rng, rng.random() < 0.9),
                    TRANS_SHARES_FN=fn(rng, 0.05),
                    TRANS_PRICEPERSHARE=amount(rng, False) if code in "PS" else "0.0",
                    TRANS_PRICEPERSHARE_FN=fn(rng, 0.3),
                    TRANS_ACQUIRED_DISP_CD="A" if code in "PAMG" else "D",
                    SHRS_OWND_FOLWNG_TRANS=amount(rng, True),
                    SHRS_OWND_FOLWNG_TRANS_FN=fn(rng, 0.1),
                    DIRECT_INDIRECT_OWNERSHIP=rng.choice("DDDI"),
                    NATURE_OF_OWNERSHIP_FN=fn(rng, 0.1),
                )
            )
        for _ in range(rng.choice((0, 0, 1))):
            sk["NONDERIV_HOLDING"] += rng.randint(1, 50)
            out["NONDERIV_HOLDING"].append(
                tsv_row(
                    "NONDERIV_HOLDING",
                    ACCESSION_NUMBER=acc,
                    NONDERIV_HOLDING_SK=str(sk["NONDERIV_HOLDING"]),
                    SECURITY_TITLE=rng.choice(TITLES),
                    SHRS_OWND_FOLWNG_TRANS=amount(rng, True),
                    SHRS_OWND_FOLWNG_TRANS_FN=fn(rng, 0.2),
                    DIRECT_INDIRECT_OWNERSHIP="I",
                    NATURE_OF_OWNERSHIP="By Trust",
                    NATURE_OF_OWNERSHIP_FN=fn(rng, 0.4),
                )
            )
        if rng.random() < 0.45:
            sk["DERIV_TRANS"] += rng.randint(1, 50)
            out["DERIV_TRANS"].append(
                tsv_row(
                    "DERIV_TRANS",
                    ACCESSION_NUMBER=acc,
                    DERIV_TRANS_SK=str(sk["DERIV_TRANS"]),
                    SECURITY_TITLE="Stock Option (Right to Buy)",
                    CONV_EXERCISE_PRICE=amount(rng, False),
                    CONV_EXERCISE_PRICE_FN=fn(rng, 0.5),
                    TRANS_DATE=sec_date(period),
                    TRANS_FORM_TYPE="4",
                    TRANS_CODE="M",
                    EQUITY_SWAP_INVOLVED="0",
                    TRANS_SHARES=amount(rng, True),
                    TRANS_PRICEPERSHARE="0.0",
                    TRANS_ACQUIRED_DISP_CD="D",
                    EXCERCISE_DATE_FN="F2",
                    EXPIRATION_DATE=sec_date(period + timedelta(days=3650)),
                    UNDLYNG_SEC_TITLE="Common Stock",
                    UNDLYNG_SEC_SHARES=amount(rng, True),
                    SHRS_OWND_FOLWNG_TRANS=amount(rng, True),
                    DIRECT_INDIRECT_OWNERSHIP="D",
                )
            )
        if rng.random() < 0.3:
            sk["DERIV_HOLDING"] += rng.randint(1, 50)
            out["DERIV_HOLDING"].append(
                tsv_row(
                    "DERIV_HOLDING",
                    ACCESSION_NUMBER=acc,
                    DERIV_HOLDING_SK=str(sk["DERIV_HOLDING"]),
                    SECURITY_TITLE="Restricted Stock Units",
                    SECURITY_TITLE_FN="F1",
                    CONV_EXERCISE_PRICE="0.0",
                    EXERCISE_DATE_FN="F4",
                    EXPIRATION_DATE_FN="F4",
                    UNDLYNG_SEC_TITLE="Common Stock",
                    UNDLYNG_SEC_SHARES=amount(rng, True),
                    SHRS_OWND_FOLWNG_TRANS=amount(rng, True),
                    DIRECT_INDIRECT_OWNERSHIP="D",
                )
            )
        for i in range(1, rng.choice((1, 2, 3, 4)) + 1):
            text = (
                "The price reported is a weighted average price. These shares were sold in multiple "
                f"transactions at prices ranging from ${i}.10 to ${i}.90, inclusive."
            )
            out["FOOTNOTES"].append(
                tsv_row("FOOTNOTES", ACCESSION_NUMBER=acc, FOOTNOTE_ID=f"F{i}", FOOTNOTE_TXT=text)
            )
        out["OWNER_SIGNATURE"].append(
            tsv_row(
                "OWNER_SIGNATURE",
                ACCESSION_NUMBER=acc,
                OWNERSIGNATURENAME="/s/ Jane Roe, Attorney-in-Fact",
                OWNERSIGNATUREDATE=sec_date(filed),
            )
        )
    for table, lines in out.items():
        (folder / f"{table}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "VERSION").write_text(f"{GENERATOR_VERSION} {filings} {tx_rows}\n")


def dataset_folder(filings: int, tx_rows: int) -> Path:
    """Return the cached synthetic quarter for this size, generating it on first use."""
    folder = Path(tempfile.gettempdir()) / f"clusterbuy-bench-form345-{filings}-{tx_rows}"
    marker = folder / "VERSION"
    if not marker.exists() or marker.read_text().split()[0] != str(GENERATOR_VERSION):
        started = time.perf_counter()
        generate(folder, filings, tx_rows)
        print(f"generated {folder} in {time.perf_counter() - started:.1f}s")
    return folder


def zipped(folder: Path) -> Path:
    target = folder.with_suffix(".zip")
    if not target.exists() or target.stat().st_mtime < (folder / "VERSION").stat().st_mtime:
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(folder.glob("*.tsv")):
                zf.write(path, path.name)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--filings", type=int, default=30_000)
    parser.add_argument("--rows", type=int, default=100_000, help="non-derivative transaction rows")
    parser.add_argument("--zip", action="store_true", help="read the zipped quarter instead of the folder")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    source = dataset_folder(args.filings, args.rows)
    if args.zip:
        source = zipped(source)
    best = best_cpu = float("inf")
    for _ in range(args.repeat):
        summary = DatasetSummary()
        started, started_cpu = time.perf_counter(), time.process_time()
        filings = errors = 0
        for item in iter_dataset_filings(source, summary=summary):
            if isinstance(item, BulkRowError):
                errors += 1
            else:
                filings += 1
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - started_cpu)  # steadier on a shared machine
    rows = sum(summary.rows.values())
    nd = summary.rows.get("NONDERIV_TRANS", 0)
    print(f"source: {source}")
    print(f"rows per table: {summary.rows}")
    print(
        f"filings: {filings}  errors: {errors}  best of {args.repeat}: {best:.2f}s wall, {best_cpu:.2f}s cpu"
    )
    print(
        f"{rows / best:,.0f} rows/s (all tables)  {nd / best:,.0f} NONDERIV_TRANS rows/s  "
        f"{filings / best:,.0f} filings/s  (wall clock)"
    )


if __name__ == "__main__":
    main()
