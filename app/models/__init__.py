"""ORM models; importing this package registers every table on Base.metadata (Alembic needs that)."""

from app.models.cluster import Cluster, ClusterAlias, ClusterMember
from app.models.dashboard import DashboardSnapshot
from app.models.filing import Filing, FilingDocument, Footnote, IngestError
from app.models.insider import FilingOwner, ReportingOwner
from app.models.issuer import Issuer
from app.models.ops import BackfillDay, IngestCheckpoint, JobRun
from app.models.performance import ClusterReturn, StoredPerformanceView
from app.models.price import PriceBar, PriceSeriesState, StockSplit
from app.models.purchase import BuyerMonth, BuyerSince, EligiblePurchase, PurchaseMonth, PurchasesSince
from app.models.reference import IssuerTicker, NewsEvent
from app.models.transaction import Holding, InsiderTransaction

__all__ = [
    "BackfillDay",
    "BuyerMonth",
    "BuyerSince",
    "ClusterReturn",
    "DashboardSnapshot",
    "EligiblePurchase",
    "IngestCheckpoint",
    "IssuerTicker",
    "JobRun",
    "NewsEvent",
    "PriceBar",
    "PriceSeriesState",
    "PurchaseMonth",
    "PurchasesSince",
    "StockSplit",
    "StoredPerformanceView",
    "Cluster",
    "ClusterAlias",
    "ClusterMember",
    "Filing",
    "FilingDocument",
    "FilingOwner",
    "Footnote",
    "Holding",
    "IngestError",
    "InsiderTransaction",
    "Issuer",
    "ReportingOwner",
]
