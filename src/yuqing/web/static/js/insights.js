// The analysis page (分析): fetch /api/v1/analysis with the page's filters, draw the charts
// with ECharts and fill the tables. Every chart part leads to 信息流 with the page's filters
// narrowed to what was clicked; each chart saves itself as a PNG (toolbox, top right).
"use strict";

(function () {
  const { COLORS, PALETTE, AXIS, toolbox } = window.yuqingCharts;
  const { charts, chart, empty } = window.yuqingCharts.registry();
  let data = null;

  // Links to 信息流: the page's own filters with ``extra`` laid over them.
  function streamHref(extra) {
    const merged = Object.assign({}, data.stream, extra || {});
    delete merged.page;
    if (merged.range !== "custom") {
      delete merged.start;
      delete merged.end;
    }
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(merged)) {
      if (value !== null && value !== undefined && value !== "") query.set(key, String(value));
    }
    const text = query.toString();
    return text ? `/?${text}` : "/";
  }

  function go(href) {
    window.location.assign(href);
  }

  function stepOf(id, event) {
    // A click anywhere over a step of the trend (not only on its bar) opens that step.
    const point = [event.offsetX, event.offsetY];
    if (!chart(id).containPixel("grid", point)) return null;
    const value = Math.round(chart(id).convertFromPixel({ gridIndex: 0 }, point)[0]);
    return value >= 0 && value < data.trend.queries.length ? value : null;
  }

  function volume(id) {
    const trend = data.trend;
    const totals = trend.labels.map((_, i) =>
      data.sentiments.reduce((sum, s) => sum + trend.series[s.key][i], 0));
    chart(id).setOption({
      animation: false,
      toolbox: toolbox(id),
      tooltip: { trigger: "axis" },
      grid: { left: 44, right: 16, top: 28, bottom: 44 },
      xAxis: Object.assign({ type: "category", data: trend.labels, name: "",
                             axisTick: { alignWithLabel: true } }, AXIS),
      yAxis: Object.assign({ type: "value", minInterval: 1, name: "条数",
                             nameTextStyle: { color: "#6b7280" } }, AXIS),
      dataZoom: trend.labels.length > 48 ? [{ type: "inside" }] : [],
      series: [{ name: "信息量", type: "bar", data: totals, itemStyle: { color: "#1d5fbf" },
                 barMaxWidth: 28, emphasis: { focus: "series" } }],
    }, true);
    chart(id).getZr().on("click", (event) => {
      const step = stepOf(id, event);
      if (step !== null) go(streamHref(trend.queries[step]));
    });
  }

  function sentimentShare(id) {
    const trend = data.trend;
    const totals = trend.labels.map((_, i) =>
      data.sentiments.reduce((sum, s) => sum + trend.series[s.key][i], 0));
    const share = (n, i) => (totals[i] ? Math.round((n / totals[i]) * 1000) / 10 : 0);
    chart(id).setOption({
      animation: false,
      color: data.sentiments.map((s) => COLORS[s.key]),
      toolbox: toolbox(id),
      legend: { top: 0, left: 0 },
      tooltip: {
        trigger: "axis",
        formatter: (rows) => [rows[0].axisValueLabel].concat(rows.map((r) =>
          `${r.marker}${r.seriesName} ${r.value}%（${trend.series[data.sentiments[r.seriesIndex].key][r.dataIndex]} 条）`)).join("<br>"),
      },
      grid: { left: 44, right: 16, top: 36, bottom: 44 },
      xAxis: Object.assign({ type: "category", data: trend.labels }, AXIS),
      yAxis: Object.assign({ type: "value", max: 100, axisLabel: { formatter: "{value}%", color: "#4b5563" } }),
      series: data.sentiments.map((s) => ({
        name: s.label, type: "bar", stack: "share", barMaxWidth: 28,
        data: trend.series[s.key].map(share),
      })),
    }, true);
    chart(id).on("click", (params) => {
      const sentiment = data.sentiments[params.seriesIndex];
      go(streamHref(Object.assign({}, trend.queries[params.dataIndex], sentiment.query || {})));
    });
  }

  function pie(id, rows, colors) {
    if (!rows.some((r) => r.count)) return empty(id);
    chart(id).setOption({
      animation: false,
      color: colors,
      toolbox: toolbox(id),
      tooltip: { trigger: "item", formatter: "{b}：{c} 条（{d}%）" },
      legend: { bottom: 0, type: "scroll" },
      series: [{ type: "pie", radius: ["35%", "62%"], center: ["50%", "46%"],
                 label: { formatter: "{b}\n{d}%" },
                 data: rows.filter((r) => r.count).map((r) => ({ name: r.label, value: r.count, row: r })) }],
    }, true);
    chart(id).on("click", (params) => {
      const row = params.data && params.data.row;
      if (row) go(streamHref(row.query || {}));
    });
  }

  function bars(id, rows, color, onClick) {
    if (!rows.length) return empty(id);
    chart(id).setOption({
      animation: false,
      toolbox: toolbox(id),
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 8, right: 40, top: 24, bottom: 8, containLabel: true },
      xAxis: Object.assign({ type: "value", minInterval: 1 }, AXIS),
      yAxis: Object.assign({ type: "category", inverse: true, data: rows.map((r) => r.label),
                             axisLabel: { color: "#1f2937", width: 110, overflow: "truncate", interval: 0 } }),
      series: [{ type: "bar", data: rows.map((r) => r.count), itemStyle: { color: color },
                 barMaxWidth: 18, label: { show: true, position: "right", color: "#4b5563" } }],
    }, true);
    chart(id).on("click", (params) => onClick(rows[params.dataIndex]));
  }

  function text(id, value) {
    document.getElementById(id).textContent = String(value);
  }

  function cell(row, value, href) {
    const shown = value === null || value === undefined || value === "" ? "—" : String(value);
    return window.yuqingCharts.cell(row, shown, href);
  }


  function nothing(body, columns, message) {
    const tr = document.createElement("tr");
    const td = cell(tr, message);
    td.colSpan = columns;
    td.className = "empty";
    body.appendChild(tr);
  }

  function places() {
    const body = document.getElementById("places");
    body.replaceChildren();
    if (!data.places.length) return nothing(body, 4, "暂无数据：所选信息中没有识别出地名");
    const most = data.places[0].count;
    data.places.forEach((p, i) => {
      const tr = document.createElement("tr");
      cell(tr, i + 1);
      cell(tr, p.label, streamHref(p.query));
      const count = cell(tr, p.count);
      const bar = document.createElement("span");
      bar.className = "rank-bar";
      bar.style.width = `${Math.max(2, Math.round((p.count / most) * 100))}%`;
      count.appendChild(bar);
      cell(tr, data.total ? `${((p.count / data.total) * 100).toFixed(1)}%` : "—");
      body.appendChild(tr);
    });
  }

  function items(id, rows, columns, message) {
    const body = document.getElementById(id);
    body.replaceChildren();
    if (!rows.length) return nothing(body, columns.length + 1, message);
    for (const r of rows) {
      const tr = document.createElement("tr");
      cell(tr, r.title, r.href).className = "title-cell";
      for (const name of columns) cell(tr, r[name]);
      body.appendChild(tr);
    }
  }

  function draw() {
    const negative = data.sentiments.find((s) => s.key === "negative").count;
    text("n-total", data.total);
    text("n-negative", negative);
    text("n-negative-share", data.total ? `${((negative / data.total) * 100).toFixed(1)}%` : "—");
    text("n-platforms", data.platforms.length);
    text("words-note", `按本范围最新 ${data.hot_word_sample} 条信息的标题和正文开头统计；点击热词搜索。`);
    document.getElementById("negative-link").href = streamHref({ sentiment: "negative", sort: "risk" });
    places();
    items("top-items", data.top_items, ["platform", "source", "published", "reposts", "comments", "likes", "heat"],
          "暂无数据：所选信息都没有转发、评论或点赞数");
    items("negative-items", data.negative_items, ["risk", "platform", "source", "published", "heat"],
          "所选范围内没有负面信息");
    if (!window.echarts) return;
    if (data.total) {
      volume("chart-volume");
      sentimentShare("chart-sentiment-share");
    } else {
      empty("chart-volume");
      empty("chart-sentiment-share");
    }
    pie("chart-sentiments", data.sentiments, data.sentiments.map((s) => COLORS[s.key]));
    pie("chart-platforms", data.platforms, PALETTE);
    bars("chart-sources", data.sources, "#1a9bb0", (r) => go(streamHref(r.query)));
    bars("chart-words", data.hot_words.map((w) => ({ label: w.term, count: w.count, href: w.href })),
         "#7b61c4", (r) => go(r.href));
  }

  function load() {
    const { pathname, search } = window.location;
    window.yuqingCharts.load(document.getElementById("insights"),
                             document.getElementById("insights-status"), {
      failure: "分析数据读取失败",
      next: pathname + search,
      draw: (answer) => {
        data = answer;
        draw();
        const unit = data.range.unit === "hour" ? "小时" : "天";
        return `统计于 ${data.generated_at}，${data.range.start} 至 ${data.range.end}，按${unit}分段。`;
      },
    });
  }

  document.addEventListener("DOMContentLoaded", load);
  window.yuqingInsights = { charts: charts, streamHref: (extra) => streamHref(extra) };
})();
