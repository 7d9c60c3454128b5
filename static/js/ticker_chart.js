// The ticker dashboard chart: reads the JSON data island (#ticker-data) and builds one plotly figure:
// price line or candles, volume, insider trade markers, 8-K/news markers and range buttons.
// All numbers come from the server; this file only draws them.
(function () {
  "use strict";
  var island = document.getElementById("ticker-data");
  var chart = document.getElementById("chart");
  if (!island || !chart || typeof window.Plotly === "undefined") return;
  var data = JSON.parse(island.textContent);
  var series = data.series;
  if (!series || !series.dates.length) return;

  var GREEN = "#13803a", RED = "#b42318", BROWN = "#8a6d3b", BLUE = "#1f5fbf";
  var GROUPS = {
    buy: { name: "Purchases", color: GREEN, symbol: "triangle-up", opacity: 0.85, visible: true },
    sell: { name: "Discretionary sales", color: RED, symbol: "triangle-down", opacity: 0.85, visible: true },
    sell_plan: { name: "10b5-1 plan sales", color: RED, symbol: "triangle-down-open", opacity: 0.5, visible: true },
    // Tax withholding, dispositions to the issuer and exercises say little: hidden until asked for.
    tax_exercise: { name: "Tax / exercise", color: BROWN, symbol: "x", opacity: 0.6, visible: "legendonly" },
  };
  var ORDER = ["buy", "sell", "sell_plan", "tax_exercise"];
  var x = series.dates;

  function esc(v) {
    return String(v == null ? "" : v).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function fmt(v, digits) {
    return Number(v).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  function money(v) { return v == null ? "—" : "$" + fmt(v, 0); }
  function price(v) { return v == null ? "—" : "$" + fmt(v, Math.abs(Number(v)) < 1 ? 4 : 2); }
  function shares(v) { return v == null ? "—" : Number(v).toLocaleString("en-US", { maximumFractionDigits: 4 }); }
  function short(text, n) { text = String(text || ""); return text.length > n ? text.slice(0, n - 1) + "…" : text; }

  function tradeText(m) {
    var p = price(m.price);
    if (m.n_rows > 1) p += " avg of " + m.n_rows + " rows";
    if (m.price_low != null && m.price_high != null) p += " (" + price(m.price_low) + "–" + price(m.price_high) + ")";
    var lines = [
      "<b>" + esc(m.label) + "</b> " + esc(m.date),
      esc(m.insider) + (m.role_text ? " (" + esc(m.role_text) + ")" : ""),
      shares(m.shares) + " shares @ " + p + " as filed",
      "Value " + money(m.value),
      "Code " + esc(m.code) + ": " + esc(short(data.markers.codes[m.code], 60)),
    ];
    if (m.is_10b5_1) lines.push("Under a Rule 10b5-1 plan");
    if (m.y_from === "close") lines.push("<i>plotted at the day's close</i>");
    return lines.join("<br>");
  }

  function newsText(e) {
    var lines = ["<b>" + esc(e.form_type || e.source) + "</b> " + esc(e.date)];
    e.items.forEach(function (i) { lines.push(esc(i.code) + " " + esc(short(i.text, 70))); });
    if (e.title) lines.push(esc(short(e.title, 90)));
    return lines.join("<br>");
  }

  var traces = [
    {
      type: "scatter", mode: "lines", name: "Close", x: x, y: series.close, yaxis: "y",
      line: { color: "#1d2330", width: 1.3 }, showlegend: false,
      hovertemplate: "%{x|%Y-%m-%d}<br>Close $%{y:,.2f}<extra></extra>",
    },
    {
      type: "candlestick", name: "OHLC", x: x, open: series.open, high: series.high, low: series.low,
      close: series.close, yaxis: "y", visible: false, showlegend: false,
      increasing: { line: { color: GREEN } }, decreasing: { line: { color: RED } },
    },
    {
      type: "bar", name: "Volume", x: x, y: series.volume, yaxis: "y2", showlegend: false,
      marker: { color: "#c5cbd6" }, hovertemplate: "%{x|%Y-%m-%d}<br>Volume %{y:,}<extra></extra>",
    },
  ];

  var trades = data.markers.trades;
  var maxValue = 0;
  trades.forEach(function (m) { if (m.kind !== "tax_exercise" && m.value != null) maxValue = Math.max(maxValue, Number(m.value)); });
  function size(m) {
    // Marker area grows with dollars: 7 px for a tiny trade, 30 px for the page's biggest.
    if (m.value == null || !maxValue || m.kind === "tax_exercise") return 8;
    return 7 + 23 * Math.sqrt(Number(m.value) / maxValue);
  }
  var traceOf = { close: 0, candles: 1 };
  ORDER.forEach(function (kind) {
    var g = GROUPS[kind];
    var ms = trades.filter(function (m) { return m.kind === kind && m.y != null; });
    traceOf[kind] = traces.length;
    traces.push({
      type: "scatter", mode: "markers", name: g.name, meta: kind, yaxis: "y", visible: g.visible,
      x: ms.map(function (m) { return m.date; }),
      y: ms.map(function (m) { return m.y; }),
      text: ms.map(tradeText),
      customdata: ms.map(function (m) { return m.accession; }),
      hovertemplate: "%{text}<extra></extra>",
      marker: {
        symbol: g.symbol, color: g.color, opacity: g.opacity, size: ms.map(size),
        line: { width: 1, color: g.color },
      },
    });
  });

  var news = data.markers.news;
  traceOf.news = traces.length;
  traces.push({
    type: "scatter", mode: "markers", name: "8-K / news", meta: "news", yaxis: "y3",
    x: news.map(function (e) { return e.date; }),
    y: news.map(function (e) { return e.source === "8-K" ? 0 : 0.5; }),
    text: news.map(newsText),
    hovertemplate: "%{text}<extra></extra>",
    marker: {
      symbol: news.map(function (e) { return e.source === "8-K" ? "diamond" : "circle"; }),
      color: BLUE, size: 9, opacity: 0.8,
    },
  });

  function iso(d) { return d.toISOString().slice(0, 10); }
  function rangeFor(period) {
    if (period === "all") return null;
    var end = new Date(x[x.length - 1] + "T00:00:00Z");
    var start = new Date(end.getTime());
    if (period === "3m") start.setUTCMonth(start.getUTCMonth() - 3);
    else start.setUTCFullYear(start.getUTCFullYear() - (period === "5y" ? 5 : 1));
    return [iso(start), iso(end)];
  }

  function fit(range) {
    // Plotly keeps the y range of the whole series when the x range changes: refit to what is in view.
    var a = range ? String(range[0]).slice(0, 10) : x[0];
    var b = range ? String(range[1]).slice(0, 10) : x[x.length - 1];
    var lo = Infinity, hi = -Infinity, vol = 0;
    for (var i = 0; i < x.length; i++) {
      if (x[i] < a || x[i] > b) continue;
      var l = series.low[i] == null ? series.close[i] : series.low[i];
      var h = series.high[i] == null ? series.close[i] : series.high[i];
      if (l < lo) lo = l;
      if (h > hi) hi = h;
      if (series.volume[i] > vol) vol = series.volume[i];
    }
    trades.forEach(function (m) {
      if (m.kind === "tax_exercise" || m.y == null || m.date < a || m.date > b) return;
      if (m.y < lo) lo = m.y;
      if (m.y > hi) hi = m.y;
    });
    if (!isFinite(lo)) return {};
    var pad = (hi - lo) * 0.06 || hi * 0.05 || 1;
    return { "yaxis.range": [Math.max(0, lo - pad), hi + pad], "yaxis2.range": [0, (vol || 1) * 1.05] };
  }

  var initial = rangeFor(data.period);
  var layout = {
    height: 580,
    margin: { l: 64, r: 16, t: 44, b: 36 },
    hovermode: "closest",
    hoverlabel: { align: "left" },
    legend: { orientation: "h", x: 0, y: -0.07, yanchor: "top" },
    xaxis: {
      type: "date", anchor: "y2", rangeslider: { visible: false },
      rangeselector: {
        x: 0, y: 1.02, xanchor: "left", yanchor: "bottom",
        buttons: [
          { count: 3, label: "3m", step: "month", stepmode: "backward" },
          { count: 1, label: "1y", step: "year", stepmode: "backward" },
          { count: 5, label: "5y", step: "year", stepmode: "backward" },
          { step: "all", label: "all" },
        ],
      },
    },
    yaxis: { domain: [0.3, 1], tickprefix: "$", title: { text: "Price (split-adjusted)" } },
    yaxis3: { domain: [0.22, 0.28], range: [-1, 1.5], showticklabels: false, showgrid: false, zeroline: false, fixedrange: true },
    yaxis2: { domain: [0, 0.2], showgrid: false, fixedrange: true, title: { text: "Volume" } },
  };
  if (initial) layout.xaxis.range = initial;
  var fitted = fit(initial);
  if (fitted["yaxis.range"]) {
    layout.yaxis.range = fitted["yaxis.range"];
    layout.yaxis2.range = fitted["yaxis2.range"];
  }

  var config = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  window.Plotly.newPlot(chart, traces, layout, config).then(function () {
    chart.on("plotly_relayout", function (ev) {
      var range = null;
      if (ev["xaxis.range[0]"] !== undefined) range = [ev["xaxis.range[0]"], ev["xaxis.range[1]"]];
      else if (ev["xaxis.range"]) range = ev["xaxis.range"];
      else if (!ev["xaxis.autorange"]) return;
      window.Plotly.relayout(chart, fit(range));
    });
    chart.on("plotly_click", function (ev) {
      var point = ev.points && ev.points[0];
      if (point && point.data.yaxis === "y" && typeof point.customdata === "string") {
        window.location.href = "/filing/" + encodeURIComponent(point.customdata);
      }
    });
    chart.setAttribute("data-ready", "true");
  });

  function toggle(id, handler) {
    var box = document.getElementById(id);
    if (box) box.addEventListener("change", function () { handler(box.checked); });
  }
  toggle("toggle-candles", function (on) {
    window.Plotly.restyle(chart, { visible: [!on, on] }, [traceOf.close, traceOf.candles]);
  });
  toggle("toggle-tax", function (on) {
    window.Plotly.restyle(chart, { visible: on ? true : "legendonly" }, [traceOf.tax_exercise]);
  });
  toggle("toggle-plan", function (on) {
    window.Plotly.restyle(chart, { visible: on ? true : "legendonly" }, [traceOf.sell_plan]);
  });
  toggle("toggle-news", function (on) { window.Plotly.restyle(chart, { visible: on }, [traceOf.news]); });
})();
