// strew dashboard: re-read the live part of the page every data-refresh milliseconds while
// the page is visible. No framework, no build step. Without JavaScript the pages still work
// (reload to refresh).
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !live.dataset.live) return;
  var every = Math.max(500, parseInt(live.dataset.refresh, 10) || 2000);
  var taken = document.getElementById("taken");
  var stale = document.getElementById("stale");
  var busy = false;

  function refresh() {
    if (busy || document.hidden) return;
    // Do not replace the page under someone typing into one of its forms.
    if (live.contains(document.activeElement) && document.activeElement.form) return;
    // Nor under someone ticking tasks to act on.
    if (live.querySelector("input[type=checkbox]:checked")) return;
    busy = true;
    fetch(live.dataset.live, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        live.innerHTML = html;
        taken.textContent = new Date().toISOString().replace("T", " ").slice(0, 19) + " UTC";
        stale.textContent = "";
      })
      .catch(function (error) {
        stale.textContent = "(could not refresh: " + error.message + ")";
      })
      .finally(function () { busy = false; });
  }

  setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
