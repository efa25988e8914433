// The progress bar of a file import: polls the import's progress and shows the result page
// when it ends. Without scripts the page still works (reload it to see how far it got).
"use strict";

(function () {
  var card = document.getElementById("progress-card");
  if (!card) return;
  var url = card.getAttribute("data-progress-url");
  var bar = document.getElementById("import-progress");
  var text = document.getElementById("import-progress-text");
  var failures = 0;

  function show(state) {
    if (state.total > 0) {
      bar.max = state.total;
      bar.value = state.done;
      var percent = Math.floor((state.done * 100) / state.total);
      text.textContent = "已处理 " + state.done + " / " + state.total + " 行（" + percent + "%）";
    } else {
      bar.removeAttribute("value");
      text.textContent = "正在读取文件…";
    }
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (answer) {
        if (!answer.ok) throw new Error("HTTP " + answer.status);
        return answer.json();
      })
      .then(function (state) {
        failures = 0;
        show(state);
        if (state.status === "queued" || state.status === "running") {
          window.setTimeout(poll, 700);
        } else {
          window.location.reload();
        }
      })
      .catch(function () {
        failures += 1;
        text.textContent = "暂时无法获取进度，正在重试…";
        window.setTimeout(poll, Math.min(10000, 1000 * failures));
      });
  }

  window.setTimeout(poll, 400);
})();
