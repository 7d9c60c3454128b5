"""Reference data from EDGAR: the ticker/CIK/exchange map, issuer metadata and 8-K events from the
submissions JSON, the SIC → sector table and 8-K item descriptions. Parsers are pure; fetchers are thin.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from app.errors import EdgarNotFound
from app.ingest.urls import EdgarUrls, cik10

if TYPE_CHECKING:
    from app.ingest.sec_client import EdgarClient

EIGHT_K_FORMS = ("8-K", "8-K/A")


@dataclass(frozen=True, slots=True)
class TickerRow:
    cik: str  # 10 digits, zero padded
    name: str
    ticker: str
    exchange: str | None  # "Nasdaq", "NYSE", "OTC", "CBOE" or None


@dataclass(frozen=True, slots=True)
class EightKFiling:
    accession: str
    form: str  # "8-K" or "8-K/A"
    filed_date: date
    # As published. SEC writes "Z" but for some filers the value is really New York time (protocol §2.4):
    # good for a timeline marker, never for point-in-time performance.
    accepted_at: datetime | None
    items: list[str]  # ["2.02", "9.01"]
    primary_document: str | None
    url: str | None  # the primary document in the filing folder


@dataclass(frozen=True, slots=True)
class IssuerMetadata:
    cik: str  # 10 digits, zero padded
    name: str
    sic: int | None
    sic_description: str | None
    exchanges: list[str]
    tickers: list[str]
    state: str | None  # state (or country code) of incorporation
    eight_k: list[EightKFiling]
    more_pages: list[str] = field(default_factory=list)  # overflow pages: CIK##########-submissions-001.json

    @property
    def sector(self) -> str:
        """Sector derived from the SIC code (see SIC_SECTORS)."""
        return sic_to_sector(self.sic)


class ReferenceDataError(ValueError):
    """A reference file does not have the expected shape."""


# --- company_tickers_exchange.json -----------------------------------------------------------------
def parse_company_tickers_exchange(json_bytes: bytes) -> list[TickerRow]:
    """Parse `{"fields": ["cik", "name", "ticker", "exchange"], "data": [[...]]}` into rows, in order."""
    doc = _load(json_bytes)
    fields, data = doc.get("fields"), doc.get("data")
    if not isinstance(fields, list) or not isinstance(data, list):
        raise ReferenceDataError("expected an object with 'fields' and 'data' lists")
    # Address columns by name, not position, in case SEC reorders or adds fields.
    try:
        i_cik, i_name, i_ticker = fields.index("cik"), fields.index("name"), fields.index("ticker")
    except ValueError as exc:
        raise ReferenceDataError(f"missing column: {exc}") from exc
    i_exchange = fields.index("exchange") if "exchange" in fields else None

    rows: list[TickerRow] = []
    for record in data:
        if not isinstance(record, list) or len(record) < len(fields):
            continue
        cik, ticker = record[i_cik], record[i_ticker]
        if cik in (None, "") or not ticker:
            continue
        exchange = record[i_exchange] if i_exchange is not None else None
        rows.append(
            TickerRow(
                cik=cik10(cik),
                name=str(record[i_name] or "").strip(),
                ticker=str(ticker).strip().upper(),
                exchange=str(exchange).strip() if exchange else None,
            )
        )
    return rows


# --- submissions JSON ------------------------------------------------------------------------------
def parse_submissions(json_bytes: bytes, urls: EdgarUrls | None = None) -> IssuerMetadata:
    """Parse an EDGAR submissions JSON (data host) into issuer metadata and its recent 8-K filings."""
    doc = _load(json_bytes)
    if "cik" not in doc or "filings" not in doc:
        raise ReferenceDataError("not a submissions document (no 'cik' / 'filings')")
    cik = cik10(doc["cik"])  # "0000320193" in the API, "320193" in older copies
    filings = doc.get("filings") or {}
    recent = filings.get("recent") or {}
    sic_raw = str(doc.get("sic") or "").strip()
    return IssuerMetadata(
        cik=cik,
        name=str(doc.get("name") or "").strip(),
        sic=int(sic_raw) if sic_raw.isdigit() else None,  # "" for individuals
        sic_description=(doc.get("sicDescription") or "").strip() or None,
        exchanges=[str(x) for x in doc.get("exchanges") or [] if x],
        tickers=[str(x) for x in doc.get("tickers") or [] if x],
        state=(doc.get("stateOfIncorporation") or "").strip() or None,
        eight_k=_eight_k_rows(recent, cik, urls or EdgarUrls()),
        more_pages=[
            str(f["name"]) for f in (filings.get("files") or []) if isinstance(f, dict) and f.get("name")
        ],
    )


def parse_submissions_page(
    json_bytes: bytes, cik: int | str, urls: EdgarUrls | None = None
) -> list[EightKFiling]:
    """Parse an overflow page (`CIK##########-submissions-001.json`: the bare parallel arrays) for 8-Ks."""
    return _eight_k_rows(_load(json_bytes), cik10(cik), urls or EdgarUrls())


def fetch_submissions(client: EdgarClient, cik: int | str) -> IssuerMetadata | None:
    """Fetch and parse one entity's submissions JSON; None when the CIK is unknown to EDGAR."""
    try:
        body = client.get_bytes(client.urls.submissions(cik))
    except EdgarNotFound:
        return None
    return parse_submissions(body, client.urls)


def fetch_company_tickers_exchange(client: EdgarClient) -> list[TickerRow]:
    """Fetch and parse today's ticker/CIK/exchange map (a current snapshot, not point in time)."""
    return parse_company_tickers_exchange(client.get_bytes(client.urls.company_tickers_exchange()))


def _eight_k_rows(columns: Mapping[str, Any], cik: str, urls: EdgarUrls) -> list[EightKFiling]:
    forms: Sequence[str] = columns.get("form") or []
    n = len(forms)

    def col(name: str) -> Sequence[Any]:
        values = columns.get(name) or []
        # Parallel arrays should match in length; pad defensively rather than misalign rows.
        return values if len(values) >= n else [*values, *([None] * (n - len(values)))]

    accessions, filed, accepted = col("accessionNumber"), col("filingDate"), col("acceptanceDateTime")
    items, documents = col("items"), col("primaryDocument")
    out: list[EightKFiling] = []
    for i, form in enumerate(forms):
        if form not in EIGHT_K_FORMS or not accessions[i] or not filed[i]:
            continue
        doc = (documents[i] or "").strip() or None
        out.append(
            EightKFiling(
                accession=accessions[i],
                form=form,
                filed_date=date.fromisoformat(filed[i]),
                accepted_at=_parse_acceptance(accepted[i]),
                items=[x.strip() for x in (items[i] or "").split(",") if x.strip()],
                primary_document=doc,
                url=urls.filing_document(cik, accessions[i], doc) if doc else None,
            )
        )
    return out


def _parse_acceptance(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _load(json_bytes: bytes | str) -> dict[str, Any]:
    try:
        doc = json.loads(json_bytes)
    except ValueError as exc:
        raise ReferenceDataError(f"invalid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ReferenceDataError("expected a JSON object")
    return doc


# --- SIC → sector ----------------------------------------------------------------------------------
# SEC's SIC codes grouped into familiar (GICS-like) sectors. Ordered: the first matching range wins, so
# specific carve-outs (pharma inside chemicals, REITs inside finance, software inside business services)
# come before the broad SIC division ranges they sit in.
SIC_SECTORS: tuple[tuple[int, int, str], ...] = (
    # Specific carve-outs
    (1220, 1241, "Energy"),  # coal mining
    (1300, 1389, "Energy"),  # oil & gas extraction, drilling (1311, 1381), field services
    (2833, 2836, "Health Care"),  # medicinals, pharmaceuticals (2834), diagnostics, biologicals
    (2840, 2844, "Consumer Staples"),  # soaps, detergents, perfumes, cosmetics
    (2900, 2999, "Energy"),  # petroleum refining (2911) and related
    (3533, 3533, "Energy"),  # oil & gas field machinery
    (3570, 3579, "Technology"),  # computers and office equipment
    (3630, 3639, "Consumer Discretionary"),  # household appliances
    (3651, 3652, "Consumer Discretionary"),  # household audio & video, records
    (3660, 3679, "Technology"),  # communications equipment, semiconductors (3674)
    (3711, 3716, "Consumer Discretionary"),  # motor vehicles and parts
    (3751, 3751, "Consumer Discretionary"),  # motorcycles, bicycles
    (3812, 3829, "Technology"),  # navigation, measuring and test instruments
    (3840, 3851, "Health Care"),  # medical, surgical, dental, ophthalmic instruments
    (3910, 3915, "Consumer Discretionary"),  # jewelry
    (3940, 3949, "Consumer Discretionary"),  # toys, sporting goods
    (4610, 4619, "Energy"),  # pipelines (except natural gas)
    (4922, 4922, "Energy"),  # natural gas transmission
    (5047, 5047, "Health Care"),  # medical equipment wholesale
    (5122, 5122, "Health Care"),  # drugs wholesale
    (5140, 5149, "Consumer Staples"),  # groceries wholesale
    (5171, 5172, "Energy"),  # petroleum products wholesale
    (5331, 5331, "Consumer Staples"),  # variety stores
    (5400, 5499, "Consumer Staples"),  # food stores
    (5912, 5912, "Consumer Staples"),  # drug stores
    (6500, 6599, "Real Estate"),  # real estate operators, developers, agents
    (6798, 6798, "Real Estate"),  # real estate investment trusts
    (7370, 7379, "Technology"),  # software, data processing, IT services
    (7810, 7849, "Communication Services"),  # motion pictures, video
    (8731, 8731, "Health Care"),  # commercial physical & biological research (mostly biotech)
    # SIC divisions and major groups
    (100, 999, "Consumer Staples"),  # agriculture, forestry, fishing
    (1000, 1499, "Materials"),  # metal and nonmetallic mining
    (1500, 1799, "Industrials"),  # construction
    (2000, 2199, "Consumer Staples"),  # food, beverages, tobacco
    (2200, 2399, "Consumer Discretionary"),  # textiles, apparel
    (2400, 2499, "Materials"),  # lumber and wood
    (2500, 2599, "Consumer Discretionary"),  # furniture
    (2600, 2699, "Materials"),  # paper
    (2700, 2799, "Communication Services"),  # publishing and printing
    (2800, 2899, "Materials"),  # chemicals (other than the carve-outs above)
    (3000, 3099, "Materials"),  # rubber and plastics
    (3100, 3199, "Consumer Discretionary"),  # leather, footwear
    (3200, 3399, "Materials"),  # stone, clay, glass; primary metals
    (3400, 3699, "Industrials"),  # fabricated metal, machinery, electrical equipment
    (3700, 3799, "Industrials"),  # aircraft, ships, rail and other transportation equipment
    (3800, 3899, "Industrials"),  # other instruments
    (3900, 3999, "Industrials"),  # miscellaneous manufacturing
    (4000, 4799, "Industrials"),  # railroads, trucking, water and air transport
    (4800, 4899, "Communication Services"),  # telephone, broadcasting, cable
    (4900, 4999, "Utilities"),  # electric, gas, water, sanitary services
    (5000, 5199, "Industrials"),  # wholesale trade
    (5200, 5999, "Consumer Discretionary"),  # retail trade, restaurants
    (6000, 6799, "Financials"),  # banks, credit, brokers, insurance, holding/investment offices
    (7000, 7299, "Consumer Discretionary"),  # hotels, personal services
    (7300, 7399, "Industrials"),  # business services
    (7500, 7599, "Consumer Discretionary"),  # auto repair and rental
    (7600, 7699, "Industrials"),  # miscellaneous repair
    (7900, 7999, "Consumer Discretionary"),  # amusement and recreation
    (8000, 8099, "Health Care"),  # health services
    (8100, 8199, "Industrials"),  # legal services
    (8200, 8299, "Consumer Discretionary"),  # educational services
    (8700, 8799, "Industrials"),  # engineering, accounting, research, management services
)
SECTORS: tuple[str, ...] = tuple(dict.fromkeys(s for _, _, s in SIC_SECTORS)) + ("Other", "Unknown")


def sic_to_sector(sic: int | str | None) -> str:
    """Map a SIC code to a sector name; "Unknown" without a code, "Other" when no range matches."""
    if sic is None or str(sic).strip() == "":
        return "Unknown"
    try:
        code = int(str(sic).strip())
    except ValueError:
        return "Unknown"
    for lo, hi, sector in SIC_SECTORS:
        if lo <= code <= hi:
            return sector
    return "Other"


# --- 8-K items -------------------------------------------------------------------------------------
# Item numbers of Form 8-K (since the 2004 rewrite), as they appear in the submissions JSON `items`.
EIGHT_K_ITEMS: dict[str, str] = {
    "1.01": "Entry into a Material Definitive Agreement",
    "1.02": "Termination of a Material Definitive Agreement",
    "1.03": "Bankruptcy or Receivership",
    "1.04": "Mine Safety - Reporting of Shutdowns and Patterns of Violations",
    "1.05": "Material Cybersecurity Incidents",
    "2.01": "Completion of Acquisition or Disposition of Assets",
    "2.02": "Results of Operations and Financial Condition",
    "2.03": "Creation of a Direct Financial Obligation or an Off-Balance Sheet Arrangement",
    "2.04": "Triggering Events That Accelerate or Increase a Direct Financial Obligation",
    "2.05": "Costs Associated with Exit or Disposal Activities",
    "2.06": "Material Impairments",
    "3.01": "Notice of Delisting or Failure to Satisfy a Continued Listing Rule; Transfer of Listing",
    "3.02": "Unregistered Sales of Equity Securities",
    "3.03": "Material Modification to Rights of Security Holders",
    "4.01": "Changes in Registrant's Certifying Accountant",
    "4.02": "Non-Reliance on Previously Issued Financial Statements or a Related Audit Report",
    "5.01": "Changes in Control of Registrant",
    "5.02": "Departure or Appointment of Directors or Certain Officers; Compensatory Arrangements",
    "5.03": "Amendments to Articles of Incorporation or Bylaws; Change in Fiscal Year",
    "5.04": "Temporary Suspension of Trading Under Registrant's Employee Benefit Plans",
    "5.05": "Amendments to the Code of Ethics, or Waiver of a Provision of the Code of Ethics",
    "5.06": "Change in Shell Company Status",
    "5.07": "Submission of Matters to a Vote of Security Holders",
    "5.08": "Shareholder Director Nominations",
    "6.01": "ABS Informational and Computational Material",
    "6.02": "Change of Servicer or Trustee",
    "6.03": "Change in Credit Enhancement or Other External Support",
    "6.04": "Failure to Make a Required Distribution",
    "6.05": "Securities Act Updating Disclosure",
    "6.06": "Static Pool",
    "6.10": "Alternative Filings of Asset-Backed Issuers",
    "7.01": "Regulation FD Disclosure",
    "8.01": "Other Events",
    "9.01": "Financial Statements and Exhibits",
}
