// Small enhancements of the desk; every page works without them.
"use strict";

// Forms that destroy data ask first (data-confirm holds the question).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// Background polls (data-poll) say so in a header: once the session has ended the server
// answers them with 204 and the page stays as it is. Set per request, not with hx-headers,
// which every request from inside the polled element would inherit.
document.addEventListener("htmx:configRequest", function (event) {
  var elt = event.detail.elt;
  if (elt instanceof Element && elt.hasAttribute("data-poll")) {
    event.detail.headers["X-Yuqing-Poll"] = "1";
  }
});
