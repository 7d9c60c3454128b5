"""Published figures on insider and cluster buying (reference/evidence.md, quoted as given), each
beside our comparable number."""

from __future__ import annotations

from app.schemas.performance import PerformanceView, PublishedFigure

PUBLISHED: list[dict[str, str]] = [
    {
        "study": "Alldredge & Blank (2019), J. Financial Research 42(2):331–360",
        "definition": "Daily US insider trades; purchases clustered with colleagues' purchases",
        "figure": "Clustered purchases earn abnormal returns of more than 2% in the following month.",
        "status": "V",
        "source": "https://papers.ssrn.com/sol3/papers.cfm?abstract_id=2781761",
        "compare": "summary:1m:mean",
    },
    {
        "study": "Kang, Kim & Wang (2018), cluster trades of insiders",
        "definition": "US insider trades; several insiders trading the same direction on the same or "
        "consecutive days",
        "figure": "Cluster purchases +3.8% over 21 trading days vs +2.0% for non-cluster",
        "status": "S",
        "source": "https://www.earningsfeed.com/blog/insider-trading-playbook-form4-patterns",
        "compare": "summary:1m:mean",
    },
    {
        "study": "Portfolio Lab (UK research lab)",
        "definition": "About 12,700 cluster events (≥2 owners buying in the same week); benchmark IWM",
        "figure": "About +1.5% one month once public (post-filing); t ≈ 8.6",
        "status": "P",
        "source": "https://portfolio-lab.co.uk/research-lab/signals/insider-cluster",
        "compare": "summary:1m:mean",
    },
    {
        "study": "Portfolio Lab (UK research lab)",
        "definition": "The same events measured from the trade",
        "figure": "+2.7% one month measured from the trade (not tradable)",
        "status": "P",
        "source": "https://portfolio-lab.co.uk/research-lab/signals/insider-cluster",
        "compare": "insider:1m:mean",
    },
    {
        "study": "Reddit backtest (reposted by buzzberg), Jan 2023–Mar 2026",
        "definition": "Cluster = ≥2 distinct insiders within 5 trading days (C-suite buys ≥$100k); entry at "
        "the next trading day's open after the filing date; excess over SPY minus 10 bp",
        "figure": "Clusters (N=820): +2.02% / +2.41% / +2.29% at 5/10/30d vs single buys (N=1,997) "
        "+0.62% / +0.50% / −0.20%",
        "status": "P",
        "source": "https://buzzberg.ai/video/reddit_1srl7qn/backtested-3-years-of-sec-form-4-data-insider-"
        "buying-is-a-10-day-signal-not-a-long-term-one",
        "compare": "summary:1w:mean",
    },
    {
        "study": "Form4API, Oct 2023–Feb 2026",
        "definition": "45,046 P buys (all buys, not only clusters); absolute split-adjusted returns from the "
        "first close on or after the filing date",
        "figure": "3m +8.6% (median +3.0%, hit rate 58%)",
        "status": "P",
        "source": "https://www.form4api.com/guides/insider-buying-returns-study",
        "compare": "summary:3m:share_positive",
    },
    {
        "study": "BuySideBrief (pre-registered), Apr 2025–Apr 2026",
        "definition": "N=3,537 filings; cluster = several insiders buying in the same week; cluster vs solo "
        "spread at 90d",
        "figure": "Clusters of 5+ underperformed by about 7 pp at 90d (p<0.0001)",
        "status": "P",
        "source": "https://www.buysidebrief.com/research/cluster-buy-signal-2026-05",
        "compare": "buyers=5+:3m:mean",
    },
    {
        "study": "StockFit (2018–2024)",
        "definition": "503 S&P 500 tickers; ≥3 distinct insiders in a rolling 30-day window → 45 clusters; "
        "vs SPY adjusted close",
        "figure": "Excess return peaks near +9.5% around day 270 and falls to +3.1% by day 365; mean "
        "positive, median slightly negative",
        "status": "P",
        "source": "https://developer.stockfit.io/blog/insider-cluster-buys-sp500",
        "compare": "summary:1y:mean",
    },
    {
        "study": "Jeng, Metrick & Zeckhauser (2003), REStat 85(2):453",
        "definition": "All reported insider trades 1975–1996; value-weighted calendar-time purchase "
        "portfolios",
        "figure": "Purchases earn abnormal returns of more than 6%/yr",
        "status": "V",
        "source": "https://direct.mit.edu/rest/article-abstract/85/2/453/57400/",
        "compare": "summary:1y:mean",
    },
    {
        "study": "Lakonishok & Lee (2001), RFS 14",
        "definition": "All NYSE/AMEX/Nasdaq firms, 1975–1995",
        "figure": "Stocks intensively bought by insiders beat the market by >7 pp/yr",
        "status": "S",
        "source": "https://www.insidermonkey.com/insider-trading/education-center/academic-studies-on-"
        "insider-trading",
        "compare": "summary:1y:mean",
    },
    {
        "study": "Lakonishok & Lee (2001), RFS 14",
        "definition": "All NYSE/AMEX/Nasdaq firms, 1975–1995",
        "figure": "10% owners show no abnormal returns",
        "status": "S",
        "source": "https://www.insidermonkey.com/insider-trading/education-center/academic-studies-on-"
        "insider-trading",
        "compare": "role_mix=ten_percent_only:1y:mean",
    },
    {
        "study": "Seyhun (1998), Investment Intelligence from Insider Trading",
        "definition": "US insider trades, 1975–1994; secondary sources quote conflicting numbers",
        "figure": "About 4–9% one-year outperformance after insider buying",
        "status": "S",
        "source": "https://www.secform4.com/training/what-do-the-researchers-say",
        "compare": "summary:1y:mean",
    },
]


def _ours(view: PerformanceView, compare: str) -> tuple[float | None, int | None]:
    where, horizon, stat = compare.split(":")
    if where == "summary":
        summaries = view.summaries
    elif where == "insider":
        summaries = view.insider
    else:
        dim, key = where.split("=")
        groups = next((b.groups for b in view.breakdowns if b.key == dim), [])
        summaries = next((g.summaries for g in groups if g.key == key), [])
    s = next((x for x in summaries if x.horizon == horizon), None)
    return (getattr(s, stat), s.n) if s else (None, None)


def published_figures(view: PerformanceView) -> list[PublishedFigure]:
    """The published figures of evidence.md §1 with our comparable number beside each."""
    out = []
    for item in PUBLISHED:
        ours, n = _ours(view, item["compare"])
        out.append(PublishedFigure(**item, ours=ours, ours_n=n))
    return out
