"""The ticker dashboard in a real browser: the plotly chart holds buy and sell markers, hovering a marker
shows the trade, range buttons and toggles change the figure; screenshots as artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.browser.conftest import ARTIFACTS
from tests.web.test_ticker_page import load_dashboard

pytestmark = pytest.mark.browser

TRACES = """() => document.getElementById('chart').data.map(t => ({
  name: t.name, type: t.type, meta: t.meta || null, x: t.x || [], y: t.y || [],
  visible: t.visible === undefined ? true : t.visible }))"""
RANGE = "() => document.getElementById('chart').layout.xaxis.range.map(v => String(v).slice(0, 10))"
POINT = """([meta, day]) => {
  const gd = document.getElementById('chart');
  const t = gd.data.findIndex(d => d.meta === meta);
  const i = gd.data[t].x.indexOf(day);
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
  return { x: box.left + xa._offset + xa.d2p(gd.data[t].x[i]),
           y: box.top + ya._offset + ya.d2p(gd.data[t].y[i]) };
}"""


@pytest.fixture
def dashboard(clean_engine: Engine, tmp_path: Path) -> Engine:
    load_dashboard(clean_engine, tmp_path)
    return clean_engine


def _open(page, url: str) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_selector("#chart[data-ready=true]", timeout=20_000)
    assert errors == []


def test_chart_has_markers_and_hover_shows_the_trade(page, live_server: str, dashboard: Engine) -> None:  # type: ignore[no-untyped-def]
    _open(page, f"{live_server}/ticker/AAPL?period=all")
    traces = {t["meta"] or t["name"]: t for t in page.evaluate(TRACES)}
    assert traces["Close"]["type"] == "scatter"
    assert len(traces["Close"]["x"]) == 1259
    assert traces["OHLC"]["visible"] is False
    buy, sell, plan = traces["buy"], traces["sell"], traces["sell_plan"]
    assert buy["x"] == ["2018-12-24", "2018-12-26", "2018-12-28", "2019-06-03", "2020-03-23"]
    assert buy["y"][3] == pytest.approx(43.325)  # the pre-split buy sits on the 2019 line
    assert sell["x"] == ["2020-02-03", "2021-05-03", "2021-05-07", "2021-05-12"]
    assert plan["x"] == ["2021-05-10", "2022-02-01"]
    assert traces["tax_exercise"]["visible"] == "legendonly"  # hidden until asked for
    assert traces["news"]["x"] == ["2019-01-02", "2021-05-10"]
    # Drawn, not just configured: marker paths exist in the SVG.
    assert page.locator("#chart .scatterlayer .trace .points path").count() >= 11

    # Point at the marker a few pixels off its centre: a trade at the day's close sits on the price line,
    # and exactly on the line plotly reports the line.
    point = page.evaluate(POINT, ["buy", "2019-06-03"])
    page.mouse.move(point["x"], point["y"] + 4)
    label = page.locator("#chart .hoverlayer .hovertext").first
    label.wait_for(timeout=5_000)
    text = label.text_content() or ""
    assert "Purchase" in text
    assert "ALICE A" in text
    assert "CEO, Officer" in text
    assert "1,000 shares @ $173.30 as filed" in text
    assert "Value $173,300" in text
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#chart").screenshot(path=str(ARTIFACTS / "ticker_chart_hover.png"))

    # May 2021 is crowded at this zoom (four sellers in ten days): zoom in first, as a reader would.
    page.evaluate("() => Plotly.relayout('chart', {'xaxis.range': ['2021-04-26', '2021-05-19']})")
    page.wait_for_function("() => String(document.getElementById('chart').layout.xaxis.range[0]) >= '2021'")
    point = page.evaluate(POINT, ["sell_plan", "2021-05-10"])
    page.mouse.move(point["x"], point["y"] - 4)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#chart .hoverlayer .hovertext')]"
        ".some(e => e.textContent.includes('HEIDI'))"
    )
    text = page.locator("#chart .hoverlayer .hovertext").first.text_content() or ""
    assert "Sale (10b5-1 plan)" in text
    assert "Under a Rule 10b5-1 plan" in text


def test_range_buttons_and_toggles(page, live_server: str, dashboard: Engine) -> None:  # type: ignore[no-untyped-def]
    _open(page, f"{live_server}/ticker/AAPL")
    # The chart opens on the page's period (1y), ending at the last stored bar.
    assert page.evaluate(RANGE) == ["2022-04-14", "2023-04-14"]
    page.locator("#chart g.rangeselector g.button", has_text="3m").click()
    page.wait_for_function(
        "() => String(document.getElementById('chart').layout.xaxis.range[0]) >= '2023-01'"
    )
    assert page.evaluate(RANGE) == ["2023-01-14", "2023-04-14"]
    # The price axis is refitted to what is in view (AAPL traded between ~$134 and ~$166 then).
    low, high = page.evaluate("() => document.getElementById('chart').layout.yaxis.range")
    assert 125 < low < 134
    assert 166 < high < 175

    page.locator("#chart g.rangeselector g.button", has_text="all").click()
    page.wait_for_function("() => String(document.getElementById('chart').layout.xaxis.range[0]) < '2019'")
    start, end = page.evaluate(RANGE)
    assert start <= "2018-04-16"
    assert end >= "2023-04-14"

    page.locator("#chart g.rangeselector g.button", has_text="5y").click()
    page.wait_for_function(
        "() => String(document.getElementById('chart').layout.xaxis.range[0]).startsWith('2018-04-14')"
    )

    # Nothing pushes the page wider than the window.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1280

    page.check("#toggle-tax")
    traces = {t["meta"] or t["name"]: t for t in page.evaluate(TRACES)}
    assert traces["tax_exercise"]["visible"] is True
    page.check("#toggle-candles")
    traces = {t["meta"] or t["name"]: t for t in page.evaluate(TRACES)}
    assert (traces["OHLC"]["visible"], traces["Close"]["visible"]) == (True, False)
