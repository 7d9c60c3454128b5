// Charts of the performance page: reads the JSON data island (#performance-data), no data logic here.
(function () {
  "use strict";
  var island = document.getElementById("performance-data");
  if (!island || typeof Plotly === "undefined") return;
  var data = JSON.parse(island.textContent);
  var config = { displaylogo: false, responsive: true };

  function pct(x) { return (x * 100).toFixed(1) + "%"; }

  function drawHistogram(horizon) {
    var el = document.getElementById("hist-chart");
    var hist = data.histograms.find(function (h) { return h.horizon === horizon; });
    if (!el || !hist) return;
    var labels = [], counts = [];
    labels.push("< " + pct(hist.edges[0])); counts.push(hist.below);
    for (var i = 0; i < hist.counts.length; i++) {
      labels.push(pct(hist.edges[i]) + " to " + pct(hist.edges[i + 1]));
      counts.push(hist.counts[i]);
    }
    labels.push("≥ " + pct(hist.edges[hist.edges.length - 1])); counts.push(hist.above);
    var colors = labels.map(function (_, k) { return k <= hist.counts.length / 2 ? "#b42318" : "#13803a"; });
    Plotly.react(el, [{ type: "bar", x: labels, y: counts, marker: { color: colors } }], {
      margin: { t: 10, r: 10, b: 90, l: 50 }, height: 320,
      xaxis: { title: "Excess return over SPY (" + horizon + ")", tickangle: -45 },
      yaxis: { title: "Clusters" }
    }, config);
  }

  function drawPortfolio() {
    var el = document.getElementById("portfolio-chart");
    var p = data.portfolio;
    if (!el || !p.dates.length) return;
    Plotly.react(el, [
      { type: "scatter", mode: "lines", name: "Cluster portfolio", x: p.dates, y: p.port_cum, line: { color: "#1f5fbf" } },
      { type: "scatter", mode: "lines", name: "SPY, same days", x: p.dates, y: p.spy_cum, line: { color: "#5b6475" } }
    ], {
      margin: { t: 10, r: 10, b: 40, l: 60 }, height: 360,
      yaxis: { title: "Cumulative return", tickformat: ".0%" }, legend: { orientation: "h" }
    }, config);
  }

  var select = document.getElementById("hist-horizon");
  if (select) select.addEventListener("change", function () { drawHistogram(select.value); });
  drawHistogram(data.h);
  drawPortfolio();
})();
