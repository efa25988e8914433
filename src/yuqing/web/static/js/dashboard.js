// The dashboard (大屏): fetch /api/v1/dashboard and draw it with ECharts, again every 30 s.
"use strict";

(function () {
  const COLORS = { positive: "#4cc38a", neutral: "#6ea8fe", negative: "#f26d6d", "": "#8a94a6" };
  const TEXT = { color: "#e6edf7" };
  const AXIS = { axisLabel: { color: "#9fb0cc" }, axisLine: { lineStyle: { color: "#3a4f78" } },
                 splitLine: { lineStyle: { color: "#1f3050" } } };
  const charts = {};

  function chart(id) {
    if (!charts[id]) {
      charts[id] = window.echarts.init(document.getElementById(id), null, { renderer: "canvas" });
    }
    return charts[id];
  }

  function trend(id, data, sentiments) {
    chart(id).setOption({
      animation: false,
      color: sentiments.map((s) => COLORS[s.key]),
      tooltip: { trigger: "axis" },
      legend: { textStyle: TEXT, top: 0 },
      grid: { left: 48, right: 16, top: 32, bottom: 28 },
      xAxis: Object.assign({ type: "category", data: data.labels, boundaryGap: false }, AXIS),
      yAxis: Object.assign({ type: "value", minInterval: 1 }, AXIS),
      series: sentiments.map((s) => ({
        name: s.label, type: "line", stack: "total", areaStyle: { opacity: 0.35 },
        symbol: "none", data: data.series[s.key],
      })),
    }, true);
  }

  function bars(id, names, values, color, horizontal) {
    const category = Object.assign({ type: "category", data: names }, AXIS);
    const value = Object.assign({ type: "value", minInterval: 1 }, AXIS);
    if (horizontal) {
      category.inverse = true;
      category.axisLabel = { color: "#e6edf7", width: 150, overflow: "truncate" };
    }
    chart(id).setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      grid: { left: horizontal ? 160 : 48, right: 16, top: 16, bottom: horizontal ? 20 : 48 },
      xAxis: horizontal ? value : Object.assign(category, { axisLabel: { color: "#9fb0cc", rotate: 45 } }),
      yAxis: horizontal ? category : value,
      series: [{ type: "bar", data: values, itemStyle: { color: color } }],
    }, true);
  }

  function pie(id, rows) {
    chart(id).setOption({
      animation: false,
      tooltip: { trigger: "item" },
      legend: { textStyle: TEXT, bottom: 0 },
      series: [{ type: "pie", radius: ["35%", "65%"], label: { color: "#e6edf7" },
                 data: rows.map((r) => ({ name: r.label, value: r.count })) }],
    }, true);
  }

  // A panel with nothing to draw says 暂无数据 instead of an empty frame.
  function empty(id, none) {
    const box = document.getElementById(id);
    box.classList.toggle("is-empty", none);
    const note = box.parentElement.querySelector(".no-data");
    if (note) note.hidden = !none;
    return none;
  }

  function nothing(values) {
    return !values.some((v) => Number(v) > 0);
  }

  function flat(series) {
    return Object.values(series || {}).flat();
  }

  function text(id, value) {
    document.getElementById(id).textContent = String(value);
  }

  function left(seconds) {
    if (seconds === null) return "—";
    const late = seconds < 0;
    const minutes = Math.floor(Math.abs(seconds) / 60);
    const span = minutes >= 60 ? `${Math.floor(minutes / 60)} 小时 ${minutes % 60} 分` : `${minutes} 分`;
    return late ? `超时 ${span}` : span;
  }

  function cell(row, value, href) {
    const td = window.yuqingCharts.cell(row, value, href);
    td.title = value;
    return td;
  }


  function cases(board) {
    const body = document.getElementById("cases");
    body.replaceChildren();
    if (!board.rows.length) {
      const tr = document.createElement("tr");
      cell(tr, board.allowed ? "暂无数据（没有待办的处置案件）" : "您的账号不能查看舆情处置").colSpan = 6;
      tr.firstChild.className = "empty";
      body.appendChild(tr);
      return;
    }
    for (const r of board.rows) {
      const tr = document.createElement("tr");
      cell(tr, r.title, r.url);
      cell(tr, r.grade);
      cell(tr, r.status);
      cell(tr, r.unit || "—");
      cell(tr, r.clock || "—");
      const due = cell(tr, left(r.seconds_left));
      if (r.overdue) due.className = "overdue";
      body.appendChild(tr);
    }
  }

  function draw(data) {
    text("generated", (data.generated_at || "").replace("T", " "));
    text("n-today", data.totals.today);
    text("n-negative", data.totals.today_negative);
    text("n-period", data.totals.period);
    text("n-alerts", data.alerts.total);
    const urgent = data.alerts.levels.find((l) => l.level === "urgent");
    text("n-urgent", urgent ? urgent.count : 0);
    text("n-cases", data.cases.total);
    text("n-overdue", data.cases.overdue);
    cases(data.cases);
    const none = {
      "chart-hourly": empty("chart-hourly", nothing(flat(data.hourly.series))),
      "chart-daily": empty("chart-daily", nothing(flat(data.daily.series))),
      "chart-kinds": empty("chart-kinds", nothing(data.kinds.map((k) => k.count))),
      "chart-provinces": empty("chart-provinces", nothing(data.provinces.map((p) => p.count))),
      "chart-events": empty("chart-events", !data.events.length),
      "chart-words": empty("chart-words", nothing(data.hot_words.map((w) => w.count))),
      "chart-alerts": empty("chart-alerts", nothing(data.alerts.levels.map((l) => l.count))),
    };
    if (!window.echarts) {
      Object.keys(none).forEach((id) => empty(id, true));  // no chart library: nothing drawn
      return;
    }
    trend("chart-hourly", data.hourly, data.sentiments);
    trend("chart-daily", data.daily, data.sentiments);
    pie("chart-kinds", data.kinds);
    bars("chart-provinces", data.provinces.map((p) => p.name), data.provinces.map((p) => p.count), "#6ea8fe");
    bars("chart-events", data.events.map((e) => e.title), data.events.map((e) => e.heat), "#f2a365", true);
    bars("chart-words", data.hot_words.map((w) => w.term), data.hot_words.map((w) => w.count), "#b68cf2", true);
    bars("chart-alerts", data.alerts.levels.map((l) => l.label), data.alerts.levels.map((l) => l.count), "#f26d6d");
  }

  async function refresh() {
    const api = document.body.dataset.api;
    try {
      const answer = await fetch(api, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (answer.status === 401) {
        window.location.href = "/login?next=/dashboard";
        return;
      }
      if (!answer.ok) throw new Error(`大屏数据读取失败（${answer.status}）`);
      draw(await answer.json());
      document.body.dataset.loaded = "true";
    } catch (error) {
      text("generated", `${error.message}，稍后重试`);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    refresh();
    window.setInterval(refresh, Number(document.body.dataset.refresh) || 30000);
    window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  });
  window.yuqingDashboard = { charts: charts, refresh: refresh };
})();
