// Phones: each cell of a list table gets its column's header as data-label, so css/cards.css
// can show a row as a card ("状态  处置中"). Tables opt out with class "no-cards".
"use strict";

(function () {
  function label(table) {
    if (table.classList.contains("no-cards") || !table.tHead) return;
    var heads = table.tHead.rows[table.tHead.rows.length - 1];
    if (!heads) return;
    var names = [];
    Array.prototype.forEach.call(heads.cells, function (cell) {
      var span = cell.colSpan || 1;
      for (var i = 0; i < span; i++) names.push(cell.textContent.trim());
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          var name = names[column];
          if (name && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", name);
          column += cell.colSpan || 1;
        });
      });
    });
    table.classList.add("cards");
  }

  function labelAll(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("main table").forEach(label);
  }

  document.addEventListener("DOMContentLoaded", function () { labelAll(document); });
  document.addEventListener("htmx:afterSwap", function () { labelAll(document); });
})();
