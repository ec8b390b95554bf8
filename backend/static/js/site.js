// The pages' one script (no inline script anywhere: the CSP allows scripts from this site
// only). It draws the charts: every <canvas data-chart="..." data-src="..."> is drawn with
// the vendored Chart.js from the JSON its data-src answers (one fetch per address), and a
// plain table of the same figures is written beside it for screen readers and for
// anyone who wants the numbers. A drawn canvas gets data-drawn="true".
(function () {
  "use strict";

  var PALETTE = ["#0b5a2a", "#0a4f8a", "#b35900", "#6b2d8c", "#8a1010", "#2f6f6f", "#5a3b0b", "#445566"];

  function kg(grams) { return Math.round(grams / 10) / 100; }

  function table(target, head, rows) {
    if (!target) { return; }
    var t = document.createElement("table");
    var tr = document.createElement("tr");
    head.forEach(function (h) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = h;
      tr.appendChild(th);
    });
    var thead = document.createElement("thead");
    thead.appendChild(tr);
    t.appendChild(thead);
    var tbody = document.createElement("tbody");
    rows.forEach(function (r) {
      var row = document.createElement("tr");
      r.forEach(function (v, i) {
        var td = document.createElement("td");
        td.textContent = typeof v === "number" ? v.toLocaleString("zh-CN") : v;
        if (i > 0) { td.className = "num"; }
        row.appendChild(td);
      });
      tbody.appendChild(row);
    });
    t.appendChild(tbody);
    target.replaceChildren(t);
  }

  function columns(labels, datasets) {
    return labels.map(function (label, i) {
      return [label].concat(datasets.map(function (d) { return d.data[i]; }));
    });
  }

  function dataset(label, data, i, extra) {
    var d = { label: label, data: data, backgroundColor: PALETTE[i % PALETTE.length],
              borderColor: PALETTE[i % PALETTE.length], borderWidth: 2 };
    Object.keys(extra || {}).forEach(function (k) { d[k] = extra[k]; });
    return d;
  }

  // Each kind of chart: (json) -> {type, labels, datasets, stacked, unit}
  var KINDS = {
    "credited-by-month": function (j) {
      return { type: "bar", labels: j.months, stacked: true, unit: "kg CO2e",
        datasets: j.reductions_credited_g.map(function (s, i) {
          return dataset(s.scenario_code + " " + s.scenario_title, s.values.map(kg), i);
        }) };
    },
    "points-by-month": function (j) {
      return { type: "bar", labels: j.months, unit: "积分 points",
        datasets: [dataset("发放 Issued", j.points_issued, 0), dataset("兑换 Redeemed", j.points_redeemed, 1)] };
    },
    "retired-by-month": function (j) {
      return { type: "bar", labels: j.months, stacked: true, unit: "kg CO2e",
        datasets: [dataset("核销 Retired", j.reductions_retired_g.map(kg), 2),
                   dataset("注销 Cancelled", j.reductions_cancelled_g.map(kg), 4)] };
    },
    "credited-by-scenario": function (j) {
      var items = j.items.filter(function (s) { return s.reductions_credited_g > 0; });
      return { type: "bar", horizontal: true, unit: "kg CO2e",
        labels: items.map(function (s) { return s.scenario_code; }),
        datasets: [dataset("累计入账 Credited", items.map(function (s) { return kg(s.reductions_credited_g); }), 0)] };
    },
    "reconciliation-history": function (j) {
      return { type: "line", labels: j.days, unit: "",
        datasets: [
          dataset("流通积分 Points outstanding", j.points_outstanding, 1, { yAxisID: "y" }),
          dataset("积分背书 Backing (g)", j.points_backing_g, 0, { yAxisID: "y", borderDash: [6, 4] }),
          dataset("异常项 Offending checks", j.failed_checks, 4, { yAxisID: "y1", type: "bar" })
        ],
        axes: { y1: { position: "right", beginAtZero: true, ticks: { precision: 0 }, grid: { drawOnChartArea: false } } } };
    }
  };

  function draw(canvas, json) {
    var kind = KINDS[canvas.dataset.chart];
    if (!kind || !window.Chart) { return; }
    var spec = kind(json);
    var scales = {
      x: { stacked: !!spec.stacked },
      y: { stacked: !!spec.stacked, beginAtZero: true, title: { display: !!spec.unit, text: spec.unit } }
    };
    Object.keys(spec.axes || {}).forEach(function (k) { scales[k] = spec.axes[k]; });
    new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        indexAxis: spec.horizontal ? "y" : "x",
        plugins: { legend: { position: "bottom" } },
        scales: spec.horizontal ? { x: { beginAtZero: true, title: { display: true, text: spec.unit } } } : scales
      }
    });
    table(document.querySelector('[data-table-for="' + canvas.id + '"]'),
          [canvas.dataset.head || ""].concat(spec.datasets.map(function (d) { return d.label; })),
          columns(spec.labels, spec.datasets));
    canvas.dataset.drawn = "true";
  }

  function charts() {
    var bySource = {};
    document.querySelectorAll("canvas[data-chart][data-src]").forEach(function (c) {
      (bySource[c.dataset.src] = bySource[c.dataset.src] || []).push(c);
    });
    Object.keys(bySource).forEach(function (src) {
      fetch(src, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(src + ": " + r.status); } return r.json(); })
        .then(function (json) { bySource[src].forEach(function (c) { draw(c, json); }); })
        .catch(function (err) {
          bySource[src].forEach(function (c) {
            c.dataset.drawn = "failed";
            var note = document.createElement("p");
            note.className = "notice bad";
            note.textContent = "图表数据无法载入 · Chart data could not be loaded (" + err.message + ")";
            c.parentNode.appendChild(note);
          });
        });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", charts);
  } else {
    charts();
  }
})();
