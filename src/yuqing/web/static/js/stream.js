// 信息流: the 筛选 toggle on narrow screens, and selection for the batch actions. The list
// is replaced by HTMX (filters, polling); polling pauses while something is selected.
"use strict";

(function () {
  function picks() {
    return Array.prototype.slice.call(document.querySelectorAll("#stream-list .pick"));
  }

  function refresh() {
    var boxes = picks();
    var chosen = boxes.filter(function (box) { return box.checked; }).length;
    var count = document.querySelector("#stream-list .selected-count b");
    if (count) count.textContent = String(chosen);
    document.querySelectorAll("#stream-list .batch-action").forEach(function (button) {
      button.disabled = chosen === 0;
    });
    var bar = document.querySelector("#stream-list .batch-bar");
    if (bar) bar.classList.toggle("has-selection", chosen > 0);
    var all = document.querySelector("#stream-list .select-all-box");
    if (all) {
      all.checked = chosen > 0 && chosen === boxes.length;
      all.indeterminate = chosen > 0 && chosen < boxes.length;
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLInputElement)) return;
    if (target.classList.contains("select-all-box")) {
      picks().forEach(function (box) { box.checked = target.checked; });
    }
    if (target.classList.contains("pick") || target.classList.contains("select-all-box")) refresh();
    if (target.type === "date" && target.form && target.form.id === "stream-filters") {
      var custom = target.form.querySelector("input[name=range][value=custom]");
      if (custom) custom.checked = true;
    }
  });

  document.addEventListener("click", function (event) {
    var toggle = event.target instanceof Element ? event.target.closest(".filter-toggle") : null;
    if (!toggle) return;
    var form = document.getElementById(toggle.getAttribute("aria-controls") || "");
    if (!form) return;
    var open = form.classList.toggle("is-open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });

  // The batch form posts back to the page as it is now (filters pushed by HTMX included).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.id !== "batch-form") return;
    var next = form.querySelector("input[name=next]");
    if (next) next.value = window.location.pathname + window.location.search;
  }, true);

  // Polling would drop the selection: skip it while something is selected.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail && event.detail.elt;
    if (source && source.id === "stream-list" && picks().some(function (box) { return box.checked; })) {
      event.preventDefault();
    }
  });

  document.addEventListener("htmx:afterSwap", refresh);
  document.addEventListener("DOMContentLoaded", refresh);
})();
