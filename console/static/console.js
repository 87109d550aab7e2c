// The console's only script (no external code): select-all checkboxes, the live SLA counters,
// and keeping the "who is working on it" lock of an open card alive.
(function () {
  "use strict";
  var csrf = document.body.getAttribute("data-csrf") || "";

  document.querySelectorAll("[data-select-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      var name = box.getAttribute("data-select-all");
      document.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (c) { c.checked = box.checked; });
    });
  });

  var live = document.querySelector("[data-live]");
  if (live) {
    var url = live.getAttribute("data-live");
    var refresh = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          Object.keys(data.counters).forEach(function (key) {
            var el = live.querySelector('[data-counter="' + key + '"]');
            if (!el) { return; }
            var value = String(data.counters[key]);
            if (el.textContent !== value) {
              el.textContent = value;
              el.classList.add("changed");
              setTimeout(function () { el.classList.remove("changed"); }, 2500);
            }
          });
        })
        .catch(function () { /* the next tick tries again */ });
    };
    setInterval(refresh, parseInt(live.getAttribute("data-interval") || "15000", 10));
  }

  var head = document.querySelector("[data-lock-url]");
  if (head && head.getAttribute("data-lock-url")) {
    var lockUrl = head.getAttribute("data-lock-url");
    setInterval(function () {
      fetch(lockUrl, { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } })
        .catch(function () {});
    }, 120000);
  }
})();
