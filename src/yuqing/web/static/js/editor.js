// The desk's own rich-text editor for submissions: a contenteditable area with a small
// toolbar (headings, lists, bold, link, image). The form still posts the textarea: the
// area's HTML is copied into it on submit; the server sanitises whatever arrives.
(function () {
  "use strict";
  function csrfToken() {
    try {
      var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      var name = Object.keys(headers)[0];
      return name ? [name, headers[name]] : null;
    } catch (e) { return null; }
  }
  function start() {
    var form = document.getElementById("editorial-form");
    var source = document.getElementById("rte-source");
    var area = document.getElementById("rte-area");
    var toolbar = document.getElementById("rte-toolbar");
    var status = document.getElementById("rte-status");
    if (!form || !source || !area || !toolbar) { return; }
    area.innerHTML = source.value;
    source.hidden = true;
    area.hidden = false;
    toolbar.hidden = false;
    toolbar.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-cmd]");
      if (!button) { return; }
      event.preventDefault();
      area.focus();
      var cmd = button.getAttribute("data-cmd");
      var arg = button.getAttribute("data-arg");
      if (cmd === "createLink") {
        arg = window.prompt("链接地址（https://…）", "https://");
        if (!arg || !/^(https?:|mailto:)/.test(arg)) { return; }
      }
      document.execCommand(cmd, false, arg);
    });
    var file = document.getElementById("rte-image");
    if (file) {
      file.addEventListener("change", function () {
        if (!file.files || !file.files[0]) { return; }
        var data = new FormData();
        data.append("file", file.files[0]);
        var token = csrfToken();
        var headers = { "Accept": "application/json" };
        if (token) { headers[token[0]] = token[1]; }
        status.textContent = "正在上传…";
        fetch("/editorial/images", { method: "POST", body: data, headers: headers, credentials: "same-origin" })
          .then(function (answer) { return answer.json().then(function (body) { return [answer.ok, body]; }); })
          .then(function (result) {
            if (!result[0]) { status.textContent = result[1].detail || "上传失败"; return; }
            area.focus();
            document.execCommand("insertImage", false, result[1].url);
            status.textContent = "已插入图片";
          })
          .catch(function () { status.textContent = "上传失败，请重试"; })
          .finally(function () { file.value = ""; });
      });
    }
    form.addEventListener("submit", function () { source.value = area.innerHTML; });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else { start(); }
})();
