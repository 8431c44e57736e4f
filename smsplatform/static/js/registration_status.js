// The registration status page follows the registration: when anything changes (a verdict, a
// step done), the page reloads itself, within two seconds.
(function () {
  "use strict";
  const live = document.getElementById("registration-live");
  if (!live) return;
  let version = live.dataset.version;
  const finished = ["complete"];
  async function check() {
    try {
      const answer = await fetch(live.dataset.jsonUrl, { headers: { Accept: "application/json" } });
      if (answer.ok) {
        const state = await answer.json();
        if (state.version !== version) { window.location.reload(); return; }
        if (finished.includes(state.status)) return;
      }
    } catch (error) { /* offline for a moment: try again */ }
    setTimeout(check, 1500);
  }
  setTimeout(check, 1500);
})();
