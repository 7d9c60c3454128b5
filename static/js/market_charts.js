// Charts of the market pulse: reads the JSON data island (#market-data), no data logic here.
(function () {
  "use strict";
  var island = document.getElementById("market-data");
  if (!island || typeof Plotly === "undefined") return;
  var d = JSON.parse(island.textContent);
  if (!d.period.length) return;
  var config = { displaylogo: false, responsive: true };
  var layout = function (extra) {
    return Object.assign({ margin: { t: 10, r: 50, b: 40, l: 60 }, height: 320, legend: { orientation: "h" } }, extra);
  };
  var first = d.period[0], last = d.period[d.period.length - 1];

  function flat(value, name) {
    return { type: "scatter", mode: "lines", name: name, x: [first, last], y: [value, value],
      line: { dash: "dot", color: "#5b6475" }, hoverinfo: "skip" };
  }

  var el = document.getElementById("ratio-chart");
  if (el) {
    var traces = [
      { type: "scatter", mode: "lines", name: "All insiders", x: d.period, y: d.ratio, line: { color: "#1f5fbf" } },
      { type: "scatter", mode: "lines", name: "CEOs only", x: d.period, y: d.ceo_ratio, line: { color: "#13803a", width: 1 } }
    ];
    if (d.long_term_average.ratio !== null) traces.push(flat(d.long_term_average.ratio, "Long-term average"));
    Plotly.react(el, traces, layout({ yaxis: { title: "Buying ÷ selling pairs", type: "log" } }), config);
  }

  el = document.getElementById("dollar-chart");
  if (el) {
    var dollars = d.dollar_ratio.map(function (v) { return v !== null && v > 0 ? v : null; });
    Plotly.react(el, [
      { type: "scatter", mode: "lines", name: "$ bought ÷ $ sold", x: d.period, y: dollars, line: { color: "#7a4b00" } }
    ], layout({ yaxis: { title: "$ ratio", type: "log" } }), config);
  }

  el = document.getElementById("npr-chart");
  if (el) {
    Plotly.react(el, [
      { type: "bar", name: "Net purchase ratio", x: d.period, y: d.net_purchase_ratio, marker: { color: "#1f5fbf" } },
      { type: "scatter", mode: "lines", name: "Ratio percentile, trailing 60 months", x: d.period, y: d.ratio_pctile,
        yaxis: "y2", line: { color: "#b42318", width: 1 } }
    ], layout({
      yaxis: { title: "(P − S) ÷ (P + S)", range: [-1, 1] },
      yaxis2: { title: "Percentile", overlaying: "y", side: "right", range: [0, 100] }
    }), config);
  }
})();
