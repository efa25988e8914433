// Keyboard shortcuts of the 标注 queue: j/k move, 1/2/3 label the current item, x selects it,
// Shift+1/2/3 label the selected batch. Plain form posts underneath, so it works without JS.
(function () {
  "use strict";
  var form = document.getElementById("labelling-form");
  if (!form) return;
  var items = Array.prototype.slice.call(form.querySelectorAll(".queue-item"));
  var labels = { "1": "negative", "2": "neutral", "3": "positive", "!": "negative", "@": "neutral", "#": "positive" };
  var current = 0;
  function focus(i) {
    if (!items.length) return;
    current = Math.max(0, Math.min(items.length - 1, i));
    items.forEach(function (el, n) { el.classList.toggle("current", n === current); });
    items[current].focus({ preventScroll: false });
  }
  function press(selector) {
    var button = form.querySelector(selector);
    if (button) button.click();
  }
  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" && event.target.type !== "checkbox") return;
    if (tag === "textarea" || tag === "select" || event.ctrlKey || event.metaKey || event.altKey) return;
    var key = event.key;
    if (key === "j") { focus(current + 1); event.preventDefault(); return; }
    if (key === "k") { focus(current - 1); event.preventDefault(); return; }
    if (key === "x") {
      var box = items[current] && items[current].querySelector("input[type=checkbox]");
      if (box) box.checked = !box.checked;
      event.preventDefault();
      return;
    }
    var label = labels[key];
    if (!label) return;
    event.preventDefault();
    if (event.shiftKey) {
      press('.batch-bar button[value="' + label + '"]');
    } else if (items[current]) {
      press('.queue-item[data-mention="' + items[current].dataset.mention + '"] button[data-label="' + label + '"]');
    }
  });
  items.forEach(function (el, n) { el.addEventListener("click", function () { focus(n); }); });
  focus(0);
})();
