"""The screener in a real browser: filters update the URL and the table; a cluster opens."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.web.test_screener import loaded  # noqa: F401  (fixture: filings written for the tests)

pytestmark = pytest.mark.browser


def test_changing_a_filter_updates_url_and_table(page, live_server: str, loaded: Engine) -> None:  # noqa: F811
    page.goto(f"{live_server}/?from=2024-03-01&to=2024-03-31")
    rows = page.locator("table#screener tbody tr")
    assert rows.count() == 3
    with page.expect_navigation():
        page.select_option("select[name=role]", "ceo_cfo")
    assert "role=ceo_cfo" in page.url
    assert "from=2024-03-01" in page.url
    assert page.locator("table#screener tbody tr").count() == 1
    assert page.locator("table#screener tbody tr td.ticker a").first.inner_text() == "EXMP"


def test_sorting_by_a_column_header(page, live_server: str, loaded: Engine) -> None:  # noqa: F811
    page.goto(f"{live_server}/?from=2024-03-01&to=2024-03-31")
    with page.expect_navigation():
        page.click("table#screener th >> text=Ticker")
    tickers = page.locator("table#screener tbody td.ticker > a:first-child").all_inner_texts()
    assert tickers == sorted(tickers, reverse=True)
    assert "sort=ticker" in page.url


def test_opening_a_cluster_from_the_screener(page, live_server: str, loaded: Engine) -> None:  # noqa: F811
    page.goto(f"{live_server}/?from=2024-03-01&to=2024-03-31&clusters_only=true")
    with page.expect_navigation() as navigation:
        page.click("table#screener a.badge.cluster")
    assert navigation.value.status == 200
    assert page.url.endswith("/cluster/0000001234-2024-03-04")
    assert "EXMP" in page.locator("h1").inner_text()
