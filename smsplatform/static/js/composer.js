// Campaign composer: a live counter that mirrors messaging/encoding.py, the audience and cost
// from the server as choices change, and only the schedule fields that apply.
(function () {
  "use strict";
  const form = document.getElementById("composer");
  const body = form.querySelector("textarea[name=body]");
  const GSM = new Set(("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà").split(""));
  const EXT = new Set("^{}\\[]~|€\f".split(""));

  function cost(text) {
    const chars = Array.from(text);
    const forcing = [];
    let septets = 0;
    chars.forEach(c => {
      if (GSM.has(c)) septets += 1;
      else if (EXT.has(c)) septets += 2;
      else if (!forcing.includes(c)) forcing.push(c);
    });
    if (!forcing.length) {
      if (septets === 0) return {encoding: "GSM-7", segments: 0, forcing};
      if (septets <= 160) return {encoding: "GSM-7", segments: 1, forcing};
      let segments = 1, used = 0;
      chars.forEach(c => { const size = EXT.has(c) ? 2 : 1; if (used + size > 153) { segments++; used = 0; } used += size; });
      return {encoding: "GSM-7", segments, forcing};
    }
    const units = chars.reduce((n, c) => n + (c.codePointAt(0) > 0xFFFF ? 2 : 1), 0);
    if (units <= 70) return {encoding: "Unicode", segments: 1, forcing};
    let segments = 1, used = 0;
    chars.forEach(c => { const size = c.codePointAt(0) > 0xFFFF ? 2 : 1; if (used + size > 67) { segments++; used = 0; } used += size; });
    return {encoding: "Unicode", segments, forcing};
  }

  function updateCounter() {
    const text = body.value;
    const c = cost(text);
    document.getElementById("counter-chars").textContent = Array.from(text).length;
    document.getElementById("counter-encoding").textContent = c.encoding;
    document.getElementById("counter-segments").textContent = c.segments + (c.segments === 1 ? " message" : " messages");
    document.getElementById("counter-unicode").textContent = c.forcing.length
      ? " · these characters make it Unicode (fewer characters per message): " + c.forcing.join(" ")
      : "";
    document.getElementById("preview-bubble").textContent = text || "Your message appears here.";
  }

  let timer = null;
  async function updatePreview() {
    const data = new FormData(form);
    data.delete("media");
    const file = form.querySelector("input[name=media]");
    if ((file && file.files.length) || form.dataset.hasMedia === "1") data.set("has_media", "1");
    const response = await fetch(form.dataset.previewUrl, {method: "POST", body: data});
    if (!response.ok) return;
    const p = await response.json();
    document.getElementById("preview-recipients").textContent = p.recipients.toLocaleString();
    document.getElementById("preview-unsubscribed").textContent = p.not_subscribed.toLocaleString() + " (not texted)";
    document.getElementById("preview-cost").textContent =
      p.messages_total.toLocaleString() + " messages (" + p.messages_each + " each)";
  }
  function schedulePreview() { clearTimeout(timer); timer = setTimeout(updatePreview, 300); }

  function showScheduleFields() {
    const picked = (form.querySelector("input[name=schedule]:checked") || {}).value || "now";
    form.querySelectorAll("[data-when]").forEach(el => {
      el.hidden = !el.dataset.when.split(" ").includes(picked);
    });
    const repeat = (form.querySelector("select[name=repeat]") || {}).value;
    form.querySelectorAll("[data-repeat]").forEach(el => { el.hidden = el.dataset.repeat !== repeat; });
    const button = document.getElementById("send-button");
    if (button) button.textContent = picked === "now" ? "Send now" : "Schedule";
  }

  const testButton = document.getElementById("test-send");
  testButton.addEventListener("click", async () => {
    const result = document.getElementById("test-result");
    const data = new FormData();
    data.set("body", body.value);
    data.set("csrfmiddlewaretoken", form.querySelector("input[name=csrfmiddlewaretoken]").value);
    const response = await fetch(testButton.dataset.url, {method: "POST", body: data});
    const answer = await response.json();
    result.textContent = response.ok ? "Sent to " + answer.sent_to + "." : answer.error;
  });

  body.addEventListener("input", () => { updateCounter(); schedulePreview(); });
  form.addEventListener("change", () => { showScheduleFields(); schedulePreview(); });
  updateCounter();
  showScheduleFields();
  updatePreview();
})();
