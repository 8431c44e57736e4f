// The campaign results page updates itself every second while a run is in progress.
(function () {
  "use strict";
  const live = document.getElementById("live");
  if (!live) return;
  const url = live.dataset.statsUrl;
  const chart = document.getElementById("chart");
  const fmt = n => Number(n).toLocaleString();

  function draw(timeline) {
    chart.innerHTML = "";
    if (!timeline.length) return;
    const max = Math.max(...timeline.map(p => p.delivered), 1);
    const width = 600 / Math.max(timeline.length, 1);
    timeline.forEach((p, i) => {
      const h = (p.delivered / max) * 110;
      const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      bar.setAttribute("x", i * width + 1); bar.setAttribute("width", Math.max(width - 2, 1));
      bar.setAttribute("y", 120 - h); bar.setAttribute("height", h);
      const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
      title.textContent = new Date(p.minute).toLocaleTimeString() + ": " + fmt(p.delivered) + " delivered";
      bar.append(title);
      chart.append(bar);
    });
  }

  function render(s) {
    live.querySelectorAll("[data-stat]").forEach(el => { el.textContent = fmt(s[el.dataset.stat] || 0); });
    document.getElementById("live-status").textContent = s.status_label;
    document.getElementById("paused-reason").textContent = s.paused_reason || "";
    const done = s.sent + s.delivered + s.not_delivered + s.skipped + s.canceled;
    const pct = s.recipients ? Math.round((100 * done) / s.recipients) : 0;
    document.getElementById("progress-bar").style.width = pct + "%";
    const reasons = document.getElementById("reasons");
    reasons.innerHTML = "";
    s.reasons.forEach(r => {
      const li = document.createElement("li");
      const a = document.createElement("span"); a.textContent = r.reason;
      const b = document.createElement("span"); b.textContent = fmt(r.count);
      li.append(a, b); reasons.append(li);
    });
    draw(s.timeline);
    return s.status === "completed" && s.waiting === 0 && s.sent === 0;
  }

  async function poll() {
    let finished = false;
    try {
      const response = await fetch(url, {headers: {"Accept": "application/json"}});
      if (response.ok) {
        const data = await response.json();
        // The campaign's own endpoint wraps its latest run; a run's endpoint is the run.
        const run = "campaign_status" in data ? data.run : data;
        if ("campaign_status" in data) {
          document.getElementById("campaign-status").textContent = data.campaign_status_label;
        }
        document.getElementById("not-started").hidden = Boolean(run);
        document.getElementById("results").hidden = !run;
        if (run) finished = render(run);
      }
    } catch (e) { /* a missed poll is retried in a second */ }
    // Keep polling after completion for a while: delivery receipts keep arriving.
    setTimeout(poll, finished ? 10000 : 1000);
  }
  poll();
})();
