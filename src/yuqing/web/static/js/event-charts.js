// The event page's charts: fetch /api/v1/events/{id}/charts and draw the hourly trend with the
// first post marked, sentiment per hour (stacked), sources, platforms and the repost tree with
// ECharts (served by the desk). Each chart saves itself as a PNG (toolbox, top right).
"use strict";

(function () {
  const { COLORS, PALETTE, AXIS, toolbox } = window.yuqingCharts;
  const { charts, chart, empty } = window.yuqingCharts.registry();

  function trend(id, data) {
    const c = chart(id);
    if (!c) return;
    if (!data.trend.counts.length) return empty(id);
    const t = data.trend;
    const series = { name: "信息数", type: "line", data: t.counts, smooth: false, showSymbol: t.counts.length <= 48,
                     itemStyle: { color: "#1d5fbf" }, areaStyle: { color: "rgba(29,95,191,0.12)" } };
    if (t.first !== null) {
      const label = `首发 ${t.first_at}`;
      series.markLine = { symbol: "none", lineStyle: { color: "#d64545", type: "dashed" },
                          label: { show: false },  // the pin says 首发; the time is in the tooltip and below
                          data: [{ xAxis: t.first }] };
      series.markPoint = { symbol: "pin", symbolSize: 36, itemStyle: { color: "#d64545" },
                           label: { formatter: "首发", fontSize: 10 },
                           tooltip: { formatter: label },
                           data: [{ name: label, coord: [t.first, t.counts[t.first]] }] };
    }
    c.setOption({
      animation: false,
      toolbox: toolbox(id),
      tooltip: { trigger: "axis" },
      grid: { left: 60, right: 48, top: 44, bottom: 40 },
      xAxis: Object.assign({ type: "category", data: t.labels, name: "时间", boundaryGap: false,
                             nameTextStyle: { color: "#6b7280" } }, AXIS),
      // The axis name beside the axis: on top the 首发 pin would hide it.
      yAxis: Object.assign({ type: "value", minInterval: 1, name: "条数", nameLocation: "middle",
                             nameGap: 36, nameTextStyle: { color: "#6b7280" } }, AXIS),
      dataZoom: t.labels.length > 72 ? [{ type: "inside" }, { type: "slider", height: 14, bottom: 4 }] : [],
      series: [series],
    }, true);
    c.on("click", (params) => {
      if (params.componentType === "markPoint" && t.first_mention_id) {
        window.location.assign(`/mentions/${t.first_mention_id}`);
      }
    });
  }

  function sentiment(id, data) {
    const c = chart(id);
    if (!c) return;
    if (!data.trend.counts.length) return empty(id);
    c.setOption({
      animation: false,
      color: data.sentiment.series.map((s) => COLORS[s.key]),
      toolbox: toolbox(id),
      legend: { top: 0, left: 0 },
      tooltip: { trigger: "axis" },
      grid: { left: 48, right: 24, top: 36, bottom: 40 },
      xAxis: Object.assign({ type: "category", data: data.trend.labels, boundaryGap: false }, AXIS),
      yAxis: Object.assign({ type: "value", minInterval: 1, name: "条数",
                             nameTextStyle: { color: "#6b7280" } }, AXIS),
      dataZoom: data.trend.labels.length > 72 ? [{ type: "inside" }] : [],
      series: data.sentiment.series.map((s) => ({
        name: s.label, type: "line", stack: "sentiment", showSymbol: false,
        areaStyle: {}, lineStyle: { width: 1 }, data: s.counts,
      })),
    }, true);
  }

  function bars(id, rows, color) {
    const c = chart(id);
    if (!c) return;
    if (!rows.length) return empty(id);
    c.setOption({
      animation: false,
      toolbox: toolbox(id),
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 8, right: 40, top: 28, bottom: 8, containLabel: true },
      xAxis: Object.assign({ type: "value", minInterval: 1 }, AXIS),
      yAxis: Object.assign({ type: "category", inverse: true, data: rows.map((r) => r.label),
                             axisLabel: { color: "#1f2937", width: 120, overflow: "truncate" } }),
      series: [{ type: "bar", data: rows.map((r) => r.count), itemStyle: { color: color },
                 barMaxWidth: 18, label: { show: true, position: "right", color: "#4b5563" } }],
    }, true);
  }

  function pie(id, rows) {
    const c = chart(id);
    if (!c) return;
    if (!rows.length) return empty(id);
    c.setOption({
      animation: false,
      color: PALETTE,
      toolbox: toolbox(id),
      tooltip: { trigger: "item", formatter: "{b}：{c} 条（{d}%）" },
      legend: { bottom: 0, type: "scroll" },
      series: [{ type: "pie", radius: ["35%", "62%"], center: ["50%", "46%"],
                 label: { formatter: "{b} {d}%" },
                 data: rows.map((r) => ({ name: r.label, value: r.count })) }],
    }, true);
  }

  function leaves(node) {
    if (!node.children || !node.children.length) return 1;
    return node.children.reduce((sum, child) => sum + leaves(child), 0);
  }

  function tree(id, data) {
    const element = document.getElementById(id);
    const c = chart(id);
    if (!c) return;
    const note = document.getElementById("ev-tree-note");
    const t = data.tree;
    if (note) {
      const parts = [`画出 ${t.drawn} 条`];
      if (t.reposts) parts.push(`其中 ${t.reposts} 条转发或评论了本事件中的信息`);
      if (t.hidden) parts.push(`另有 ${t.hidden} 条未画出，见右侧转发链和下方信息列表`);
      note.textContent = `${parts.join("，")}。`;
    }
    if (!t.drawn) return empty(id);
    // Tall enough for one line per leaf, so titles do not overlap.
    element.style.height = `${Math.min(2400, Math.max(360, leaves(t.root) * 20 + 60))}px`;
    t.root.label = { position: "bottom", distance: 6 };
    // Room on the right for the leaves' titles: half of a phone's width, 270 px on a desk.
    const room = Math.min(270, Math.round(element.clientWidth * 0.5));  // the event under its dot, apart from the posts
    c.resize();
    c.setOption({
      animation: false,
      toolbox: toolbox(id),
      tooltip: {
        trigger: "item",
        formatter: (p) => {
          const d = p.data;
          const esc = (s) => String(s || "").replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
          return d.time ? `${esc(d.title)}<br>${esc(d.time)} · ${esc(d.source)}` : esc(d.title);
        },
      },
      series: [{
        type: "tree", data: [t.root], orient: "LR", initialTreeDepth: -1, expandAndCollapse: false,
        top: 24, bottom: 24, left: 24, right: room, symbolSize: 8,
        itemStyle: { color: "#1d5fbf", borderColor: "#1d5fbf" },
        lineStyle: { color: "#9ca3af", width: 1, curveness: 0.5 },
        // Inner posts carry their label above the dot, leaves to the right: no overlaps.
        label: { position: "top", align: "center", distance: 4, fontSize: 11, color: "#1f2937",
                 backgroundColor: "rgba(255,255,255,0.85)",
                 formatter: (p) => p.data.time ? `${p.data.time.slice(5)} ${p.name}` : p.name },
        leaves: { label: { position: "right", verticalAlign: "middle", align: "left",
                           width: room - 12, overflow: "truncate" } },
      }],
    }, true);
    c.on("click", (params) => {
      if (params.data && params.data.href) window.location.assign(params.data.href);
    });
  }

  function draw(data) {
    if (!window.echarts) return;
    trend("ev-chart-trend", data);
    sentiment("ev-chart-sentiment", data);
    bars("ev-chart-sources", data.sources, "#1a9bb0");
    pie("ev-chart-platforms", data.platforms);
    tree("ev-chart-tree", data);
  }

  function load() {
    const root = document.getElementById("event-charts");
    if (!root) return;
    window.yuqingCharts.load(root, document.getElementById("event-charts-status"), {
      failure: "图表数据读取失败",
      next: window.location.pathname,
      draw: (data) => {
        draw(data);
        return "点击趋势图上的“首发”标记或转发树中的信息可打开该信息；图表右上角可保存为图片。";
      },
    });
  }

  document.addEventListener("DOMContentLoaded", load);
  window.yuqingEventCharts = { charts: charts };
})();
