// Alert toasts: when the signed-in account turned them on (预警提醒, off by default; the switch
// is kept in this browser's localStorage, per account), new alerts that reach the account's
// inbox pop up in a corner of every desk page with a short chime synthesised by the Web Audio
// API (no sound file). Polls /alerts/toast, which answers only this account's alerts.
"use strict";

(function () {
  var POLL_MS = 15000;
  var SHOWN_MS = 12000;
  var toggle = document.getElementById("alert-toast-switch");
  if (!toggle) return;
  var user = toggle.getAttribute("data-user");
  var onKey = "yuqing.alertToast.on." + user;
  var lastKey = "yuqing.alertToast.last." + user;
  var timer = null;
  var audio = null;
  var stack = null;

  function store(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (e) { /* private mode: the switch lasts for this page only */ }
  }
  function read(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }

  function chime() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return false;
    audio = audio || new Context();
    if (audio.state === "suspended") audio.resume();
    var now = audio.currentTime;
    [880, 1318.5].forEach(function (hz, i) {  // A5 then E6: two soft notes
      var tone = audio.createOscillator();
      var gain = audio.createGain();
      tone.type = "sine";
      tone.frequency.value = hz;
      gain.gain.setValueAtTime(0.0001, now + i * 0.18);
      gain.gain.exponentialRampToValueAtTime(0.2, now + i * 0.18 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.18 + 0.35);
      tone.connect(gain).connect(audio.destination);
      tone.start(now + i * 0.18);
      tone.stop(now + i * 0.18 + 0.4);
    });
    stack.setAttribute("data-chimes", String(Number(stack.getAttribute("data-chimes") || 0) + 1));
    return true;
  }

  function ensureStack() {
    if (stack) return stack;
    stack = document.createElement("div");
    stack.className = "toast-stack";
    stack.setAttribute("role", "status");
    stack.setAttribute("aria-live", "polite");
    document.body.appendChild(stack);
    return stack;
  }

  function toast(alert) {
    var box = document.createElement("div");
    box.className = "toast toast-" + alert.level;
    var label = document.createElement("span");
    label.className = "toast-level";
    label.textContent = alert.level_label;
    var link = document.createElement("a");
    link.href = alert.url;
    link.textContent = alert.title;  // text, never markup: titles come from collected posts
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "关闭提醒");
    close.textContent = "×";
    close.addEventListener("click", function () { box.remove(); });
    box.appendChild(label);
    box.appendChild(link);
    box.appendChild(close);
    ensureStack().appendChild(box);
    window.setTimeout(function () { box.remove(); }, SHOWN_MS);
  }

  function poll() {
    var after = read(lastKey);
    var url = "/alerts/toast" + (after ? "?after=" + encodeURIComponent(after) : "");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (reply) { return reply.ok ? reply.json() : null; })
      .then(function (data) {
        if (!data) return;
        store(lastKey, String(data.last));
        if (!data.alerts.length) return;
        data.alerts.slice().reverse().forEach(toast);  // oldest first, newest at the bottom
        chime();
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  }

  function show(on) {
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    toggle.textContent = on ? "预警提醒：开" : "预警提醒：关";
    toggle.hidden = false;
  }

  function start() {
    ensureStack();
    if (timer === null) {
      poll();
      timer = window.setInterval(poll, POLL_MS);
    }
  }

  function stop() {
    if (timer !== null) window.clearInterval(timer);
    timer = null;
  }

  // Switching on first asks for the cursor (the newest alert already there) and only then
  // says 开: a page left at once would otherwise lose that first answer, and the next page,
  // finding no cursor, would start after alerts that arrived in between and never show them.
  function switchOn() {
    toggle.textContent = "预警提醒：…";
    fetch("/alerts/toast", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (reply) { return reply.ok ? reply.json() : null; })
      .then(function (data) {
        if (!data) { show(false); return; }
        store(lastKey, String(data.last));  // from now on: older alerts do not pop up
        store(onKey, "1");
        show(true);
        start();
        chime();  // the click lets the browser play sound; the chime says what it will sound like
      })
      .catch(function () { show(false); });
  }

  toggle.addEventListener("click", function () {
    if (read(onKey) === "1") {
      store(onKey, null);
      show(false);
      stop();
    } else {
      switchOn();
    }
  });

  // Browsers keep a page's sound suspended until the person clicks or types on it: the first
  // such gesture wakes the audio, so later alerts on this page are heard, not only seen.
  function wake() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context || read(onKey) !== "1") return;
    audio = audio || new Context();
    if (audio.state === "suspended") audio.resume();
  }
  document.addEventListener("pointerdown", wake, { once: true, capture: true });
  document.addEventListener("keydown", wake, { once: true, capture: true });

  var enabled = read(onKey) === "1";
  show(enabled);
  if (enabled) start();
})();
