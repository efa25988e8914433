// What the desk's chart pages (事件, 分析, 大屏) share: the colours, one ECharts instance per element
// (resized with the window), the save-as-PNG toolbox (top right), the 暂无数据 state, and
// reading the page's JSON, where a lapsed login goes to the login page.
"use strict";

window.yuqingCharts = (function () {
  const COLORS = { positive: "#2f9e6a", neutral: "#8a9bb3", negative: "#d64545", "": "#c9ced6" };
  const PALETTE = ["#1d5fbf", "#e08a1e", "#2f9e6a", "#d64545", "#7b61c4", "#1a9bb0",
                   "#b85c9e", "#8a6d3b", "#5b7083", "#a3b81f", "#c9ced6", "#4b5563", "#e0a100"];
  const AXIS = { axisLabel: { color: "#4b5563" }, axisLine: { lineStyle: { color: "#c9ced6" } } };

  function toolbox(id) {
    const name = document.getElementById(id).dataset.title || "图表";
    return {
      right: 4, top: 0, itemSize: 14,
      feature: { saveAsImage: { title: "保存为图片", name: name, pixelRatio: 2,
                                backgroundColor: "#ffffff" } },
    };
  }

  // The charts of one page by element id: ``chart(id)`` makes or finds one (null when the page
  // has no such element), ``empty(id)`` shows 暂无数据 in it.
  function registry() {
    const charts = {};

    function chart(id) {
      const element = document.getElementById(id);
      if (!element) return null;
      if (!charts[id]) charts[id] = window.echarts.init(element, null, { renderer: "canvas" });
      return charts[id];
    }

    function empty(id) {
      const c = chart(id);
      if (!c) return;
      c.setOption({
        title: { text: "暂无数据", left: "center", top: "middle",
                 textStyle: { color: "#6b7280", fontSize: 14, fontWeight: "normal" } },
        toolbox: toolbox(id), series: [],
      }, true);
    }

    window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
    return { charts: charts, chart: chart, empty: empty };
  }

  // Fetch ``root.dataset.api`` and give the answer to ``draw``, which returns the status line;
  // a failure is said in ``status`` (``failure`` names what could not be read).
  async function load(root, status, { failure, next, draw }) {
    try {
      const answer = await fetch(root.dataset.api, {
        headers: { Accept: "application/json" }, credentials: "same-origin",
      });
      if (answer.status === 401) {
        window.location.href = `/login?next=${encodeURIComponent(next)}`;
        return;
      }
      if (!answer.ok) throw new Error(`${failure}（${answer.status}）`);
      status.textContent = draw(await answer.json());
      root.dataset.loaded = "true";
    } catch (error) {
      status.textContent = `${error.message}，请稍后刷新页面重试。`;
      status.classList.add("error");
    }
  }

  // A table cell showing ``text``, as a link when ``href`` is given, added to ``row``.
  function cell(row, text, href) {
    const td = document.createElement("td");
    if (href) {
      const a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
    return td;
  }

  return { COLORS: COLORS, PALETTE: PALETTE, AXIS: AXIS, toolbox: toolbox, registry: registry,
           load: load, cell: cell };
})();
