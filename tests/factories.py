"""Build Form 4 documents for tests: ownership XML and full-submission envelopes around it.

The documents follow the real X0508 layout (see ../shared/edgar-samples/form4/) so they travel the
same parse -> store path as filings from EDGAR.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

EASTERN = ZoneInfo("America/New_York")


@dataclass
class Owner:
    cik: str
    name: str = "DOE JANE"
    director: bool = False
    officer: bool = False
    title: str | None = None
    ten_percent: bool = False
    other: bool = False
    other_text: str | None = None


@dataclass
class Tx:
    code: str = "P"
    shares: str | None = "1000"
    price: str | None = "10.00"
    trade_date: str = "2024-03-04"
    acquired_disposed: str = "A"
    after: str | None = "5000"
    direct: str = "D"
    nature: str | None = None
    table: str = "non_derivative"
    security: str = "Common Stock"
    price_footnote: str | None = None  # footnote id on the price
    equity_swap: bool = False
    timeliness: str | None = None
    underlying_shares: str = "1000"


@dataclass
class Hold:
    shares: str = "100"
    direct: str = "I"
    nature: str | None = "By trust"
    security: str = "Common Stock"


@dataclass
class Doc:
    issuer_cik: str = "0000001234"
    issuer_name: str = "EXAMPLE CORP"
    ticker: str | None = "EXMP"
    owners: list[Owner] = field(default_factory=lambda: [Owner("0000000101")])
    transactions: list[Tx] = field(default_factory=list)
    holdings: list[Hold] = field(default_factory=list)
    document_type: str = "4"
    period: str = "2024-03-04"
    original_date: str | None = None
    aff10b5one: str | None = "0"
    footnotes: dict[str, str] = field(default_factory=dict)
    remarks: str | None = None


def _flag(v: bool) -> str:
    return "1" if v else "0"


def _value(tag: str, v: str | None, footnote: str | None = None) -> str:
    inner = f"<value>{escape(v)}</value>" if v is not None else ""
    if footnote:
        inner += f'<footnoteId id="{footnote}"/>'
    return f"<{tag}>{inner}</{tag}>"


def _tx_xml(tx: Tx) -> str:
    ownership = _value("directOrIndirectOwnership", tx.direct)
    if tx.nature:
        ownership += _value("natureOfOwnership", tx.nature)
    coding = (
        f"<transactionCoding><transactionFormType>4</transactionFormType>"
        f"<transactionCode>{tx.code}</transactionCode>"
        f"<equitySwapInvolved>{_flag(tx.equity_swap)}</equitySwapInvolved></transactionCoding>"
    )
    timeliness = _value("transactionTimeliness", tx.timeliness) if tx.timeliness else ""
    amounts = (
        f"<transactionAmounts>{_value('transactionShares', tx.shares)}"
        f"{_value('transactionPricePerShare', tx.price, tx.price_footnote)}"
        f"{_value('transactionAcquiredDisposedCode', tx.acquired_disposed)}</transactionAmounts>"
    )
    after = _value("sharesOwnedFollowingTransaction", tx.after)
    post = f"<postTransactionAmounts>{after}</postTransactionAmounts>"
    if tx.table == "derivative":
        return (
            f"<derivativeTransaction>{_value('securityTitle', 'Call Option')}"
            f"{_value('conversionOrExercisePrice', '12.00')}{_value('transactionDate', tx.trade_date)}"
            f"{coding}{timeliness}{amounts}{_value('exerciseDate', '2024-01-01')}"
            f"{_value('expirationDate', '2026-01-01')}<underlyingSecurity>"
            f"{_value('underlyingSecurityTitle', 'Common Stock')}"
            f"{_value('underlyingSecurityShares', tx.underlying_shares)}</underlyingSecurity>"
            f"{post}<ownershipNature>{ownership}</ownershipNature></derivativeTransaction>"
        )
    return (
        f"<nonDerivativeTransaction>{_value('securityTitle', tx.security)}"
        f"{_value('transactionDate', tx.trade_date)}{coding}{timeliness}{amounts}{post}"
        f"<ownershipNature>{ownership}</ownershipNature></nonDerivativeTransaction>"
    )


def form4_xml(doc: Doc) -> bytes:
    """Serialize `doc` as an ownershipDocument (X0508 layout)."""
    owners = "".join(
        f"<reportingOwner><reportingOwnerId><rptOwnerCik>{o.cik}</rptOwnerCik>"
        f"<rptOwnerName>{escape(o.name)}</rptOwnerName></reportingOwnerId>"
        f"<reportingOwnerRelationship><isDirector>{_flag(o.director)}</isDirector>"
        f"<isOfficer>{_flag(o.officer)}</isOfficer><isTenPercentOwner>{_flag(o.ten_percent)}</isTenPercentOwner>"
        f"<isOther>{_flag(o.other)}</isOther>"
        + (f"<officerTitle>{escape(o.title)}</officerTitle>" if o.title else "")
        + (f"<otherText>{escape(o.other_text)}</otherText>" if o.other_text else "")
        + "</reportingOwnerRelationship></reportingOwner>"
        for o in doc.owners
    )
    nd_tx = "".join(_tx_xml(t) for t in doc.transactions if t.table == "non_derivative")
    nd_hold = "".join(
        f"<nonDerivativeHolding>{_value('securityTitle', h.security)}<postTransactionAmounts>"
        f"{_value('sharesOwnedFollowingTransaction', h.shares)}</postTransactionAmounts><ownershipNature>"
        f"{_value('directOrIndirectOwnership', h.direct)}"
        + (_value("natureOfOwnership", h.nature) if h.nature else "")
        + "</ownershipNature></nonDerivativeHolding>"
        for h in doc.holdings
    )
    d_tx = "".join(_tx_xml(t) for t in doc.transactions if t.table == "derivative")
    footnotes = "".join(f'<footnote id="{k}">{escape(v)}</footnote>' for k, v in doc.footnotes.items())
    parts = [
        '<?xml version="1.0"?>\n<ownershipDocument>',
        "<schemaVersion>X0508</schemaVersion>",
        f"<documentType>{doc.document_type}</documentType>",
        f"<periodOfReport>{doc.period}</periodOfReport>",
        f"<dateOfOriginalSubmission>{doc.original_date}</dateOfOriginalSubmission>"
        if doc.original_date
        else "",
        f"<issuer><issuerCik>{doc.issuer_cik}</issuerCik><issuerName>{escape(doc.issuer_name)}</issuerName>"
        f"<issuerTradingSymbol>{escape(doc.ticker or 'NONE')}</issuerTradingSymbol></issuer>",
        owners,
        f"<aff10b5One>{doc.aff10b5one}</aff10b5One>" if doc.aff10b5one is not None else "",
        f"<nonDerivativeTable>{nd_tx}{nd_hold}</nonDerivativeTable>" if nd_tx or nd_hold else "",
        f"<derivativeTable>{d_tx}</derivativeTable>" if d_tx else "",
        f"<footnotes>{footnotes}</footnotes>" if footnotes else "",
        f"<remarks>{escape(doc.remarks)}</remarks>" if doc.remarks else "",
        "<ownerSignature><signatureName>/s/ Jane Doe</signatureName>"
        f"<signatureDate>{doc.period}</signatureDate></ownerSignature>",
        "</ownershipDocument>",
    ]
    return "".join(parts).encode()


def submission_txt(
    xml: bytes,
    *,
    accession: str,
    accepted_at_et: datetime | str,
    form_type: str = "4",
    filed_date: date | None = None,
) -> bytes:
    """Wrap ownership XML in a full-submission envelope with an SGML header, as EDGAR serves it."""
    if isinstance(accepted_at_et, str):
        accepted_at_et = datetime.fromisoformat(accepted_at_et)
    local = (
        accepted_at_et.replace(tzinfo=None)
        if accepted_at_et.tzinfo is None
        else (accepted_at_et.astimezone(EASTERN).replace(tzinfo=None))
    )
    filed = filed_date or local.date()
    header = (
        f"<SEC-DOCUMENT>{accession}.txt : {filed:%Y%m%d}\n"
        f"<SEC-HEADER>{accession}.hdr.sgml : {filed:%Y%m%d}\n"
        f"<ACCEPTANCE-DATETIME>{local:%Y%m%d%H%M%S}\n"
        f"ACCESSION NUMBER:\t\t{accession}\n"
        f"CONFORMED SUBMISSION TYPE:\t{form_type}\n"
        "PUBLIC DOCUMENT COUNT:\t\t1\n"
        f"FILED AS OF DATE:\t\t{filed:%Y%m%d}\n"
        "</SEC-HEADER>\n<DOCUMENT>\n"
        f"<TYPE>{form_type}\n<SEQUENCE>1\n<FILENAME>form4.xml\n<DESCRIPTION>PRIMARY DOCUMENT\n<TEXT>\n<XML>\n"
    )
    return header.encode() + xml + b"\n</XML>\n</TEXT>\n</DOCUMENT>\n</SEC-DOCUMENT>\n"


def purchase_filing(
    accession: str,
    accepted_at_et: str,
    *,
    owners: list[Owner],
    trade_date: str,
    shares: str = "1000",
    price: str = "10.00",
    issuer_cik: str = "0000001234",
    ticker: str = "EXMP",
    **doc_kw: object,
) -> bytes:
    """One full submission carrying a single open-market purchase."""
    doc = Doc(
        issuer_cik=issuer_cik,
        ticker=ticker,
        owners=owners,
        period=trade_date,
        transactions=[Tx(shares=shares, price=price, trade_date=trade_date)],
        **doc_kw,
    )  # type: ignore[arg-type]
    return submission_txt(form4_xml(doc), accession=accession, accepted_at_et=accepted_at_et)


def ingest_submissions(engine: Engine, folder: Path, files: dict[str, bytes]) -> None:
    """Write these submissions to `folder` and ingest them through the real path; none may be rejected."""
    from app.ingest.files import ingest_files

    paths = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    report = ingest_files(paths, engine=engine, max_bytes=5_000_000)
    assert report.rejected == 0, report.rejections


RANDOM_ISSUERS = ("0000007001", "0000007002", "0000007003")
RANDOM_START = date(2024, 1, 2)


def random_purchase_filings(seed: int) -> dict[str, bytes]:
    """Per issuer ~45 purchases over ~10 months by 7 insiders and a fund filing jointly with its GP;
    some filings are late, some buyers file the same block twice (a chain), trades bunch into bursts."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {}
    for k, issuer in enumerate(RANDOM_ISSUERS):
        people = [
            Owner(
                f"00000{k}{j:04d}", f"INSIDER {k}-{j}", officer=j % 3 == 0, director=j % 3 != 0, title="CFO"
            )
            for j in range(7)
        ]
        fund = Owner(f"00000{k}9001", f"FUND {k} LP", ten_percent=True)
        gp = Owner(f"00000{k}9002", f"FUND {k} GP LLC", ten_percent=True)
        day = RANDOM_START
        for i in range(45):
            day += timedelta(days=rng.choice([0, 1, 2, 3, 5, 8, 13, 21, 34, 55]))
            who = rng.random()
            owners = (
                [fund, gp] if who < 0.12 else [rng.choice([fund, gp])] if who < 0.2 else [rng.choice(people)]
            )
            shares, price = str(rng.randint(1, 50) * 100), f"{rng.randint(500, 3000) / 100:.2f}"
            copies = [owners] + ([[gp]] if owners == [fund] and rng.random() < 0.5 else [])
            for c, filers in enumerate(copies):
                accepted = datetime.combine(day, datetime.min.time()) + timedelta(
                    days=rng.choice([1, 1, 2, 2, 3, 9, 30]), hours=rng.randint(6, 20), minutes=c
                )
                doc = Doc(
                    issuer_cik=issuer,
                    ticker=f"RND{k}",
                    owners=filers,
                    period=day.isoformat(),
                    transactions=[Tx(shares=shares, price=price, trade_date=day.isoformat())],
                )
                accession = f"00000{k}{i:04d}-24-{c:06d}"
                files[f"{accession}.txt"] = submission_txt(
                    form4_xml(doc), accession=accession, accepted_at_et=accepted.strftime("%Y-%m-%dT%H:%M:%S")
                )
    return files


DELTA_OWN_START = date(2024, 1, 2)


def delta_own_filings(seed: int) -> dict[str, bytes]:
    """14 companies with 1-6 buyers each, 1-4 purchases a buyer. Holdings after each purchase make the
    holding before it 0 (a new position), unknown, or 1, 2 or 4 times the shares bought (equal ratios
    across companies); some buyers file a block twice (a chain), some purchases are filed late."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {}
    for k in range(14):
        issuer = f"00000080{k:02d}"
        for j in range(rng.randint(1, 6)):
            buyer = Owner(f"000009{k:02d}{j:02d}", f"BUYER {k}-{j}", director=j % 2 == 0, officer=j % 2 == 1)
            gp = Owner(f"000009{k:02d}9{j}", f"BUYER {k}-{j} GP", ten_percent=True)
            for i in range(rng.randint(1, 4)):
                day = DELTA_OWN_START + timedelta(days=rng.randint(0, 300))
                shares = rng.choice([100, 200, 500, 1000])
                after = rng.choice([None, shares, 2 * shares, 3 * shares, 5 * shares])
                price = f"{rng.randint(500, 3000) / 100:.2f}"
                copies = [[buyer]] + ([[gp]] if rng.random() < 0.15 else [])
                for c, filers in enumerate(copies):
                    accepted = datetime.combine(day, datetime.min.time()) + timedelta(
                        days=rng.choice([1, 1, 2, 3, 30]), hours=rng.randint(6, 20), minutes=c
                    )
                    doc = Doc(
                        issuer_cik=issuer,
                        ticker=f"DLT{k}",
                        owners=filers,
                        period=day.isoformat(),
                        transactions=[
                            Tx(
                                shares=str(shares),
                                price=price,
                                trade_date=day.isoformat(),
                                after=None if after is None else str(after),
                            )
                        ],
                    )
                    accession = f"000009{k:02d}{j:02d}-24-{i:04d}{c:02d}"
                    files[f"{accession}.txt"] = submission_txt(
                        form4_xml(doc),
                        accession=accession,
                        accepted_at_et=accepted.strftime("%Y-%m-%dT%H:%M:%S"),
                    )
    return files


def edge_case_purchases(issuer_cik: str = "0000007700") -> dict[str, bytes]:
    """One director's purchases where a buyer's first purchase is easy to get wrong:

    - around four month ends, bought on the day before the month's last and filed two business days
      later (in the next month), and bought on the last day and filed that day: a month's first
      purchase is then not the first from that month on (it lies in the next);
    - two bought on one day, filed in the opposite order of their accession numbers: the first is the
      one filed first;
    - and a second director's two purchases, filed at the same instants as two of hers: two buyers'
      totals change at one filing time.
    """
    carol = Owner("0000007701", "CAROL C", director=True)
    dave = Owner("0000007702", "DAVE D", director=True)
    purchases = [  # (accession, traded, filed)
        ("0000007701-24-000900", "2024-03-14", "2024-03-15T18:00:00"),
        ("0000007701-24-000901", "2024-03-14", "2024-03-15T09:00:00"),
    ]
    for k, (early, filed_next_month, last) in enumerate(
        (
            ("2024-01-30", "2024-02-01", "2024-01-31"),
            ("2024-04-29", "2024-05-01", "2024-04-30"),
            ("2024-07-30", "2024-08-01", "2024-07-31"),
            ("2024-10-30", "2024-11-01", "2024-10-31"),
        )
    ):
        purchases.append((f"0000007701-24-{k:04d}00", early, f"{filed_next_month}T17:00:00"))
        purchases.append((f"0000007701-24-{k:04d}01", last, f"{last}T17:00:00"))
    alongside = [
        ("0000007702-24-000001", "2024-03-13", "2024-03-15T18:00:00"),
        ("0000007702-24-000002", "2024-04-28", "2024-05-01T17:00:00"),
    ]
    return {
        f"{accession}.txt": purchase_filing(
            accession,
            filed,
            owners=[carol if accession.startswith("0000007701") else dave],
            trade_date=traded,
            shares=str(1000 + 100 * i),  # a different holding before each
            issuer_cik=issuer_cik,
            ticker="CRL",
        )
        for i, (accession, traded, filed) in enumerate(purchases + alongside)
    }
