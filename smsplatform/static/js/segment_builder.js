// Segment rule builder: rows of (field, operator, value) kept in the hidden "rules" input, with a
// live count and sample fetched from the server as the rules change.
(function () {
  "use strict";
  const options = JSON.parse(document.getElementById("builder-options").textContent);
  const rulesInput = document.querySelector("input[name=rules]");
  const container = document.getElementById("conditions");
  const matchSelect = document.getElementById("match");
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;

  const textOps = [["equals", "is"], ["contains", "contains"], ["starts_with", "starts with"],
                   ["is_empty", "is empty"], ["is_not_empty", "is not empty"]];
  const fields = {
    status: {label: "Status", ops: [["is", "is"], ["is_not", "is not"]],
             values: options.statuses.map(s => [s.value, s.label])},
    tag: {label: "Tag", ops: [["has", "has"], ["has_not", "does not have"]],
          values: options.tags.map(t => [t, t])},
    list: {label: "List", ops: [["in", "is in"], ["not_in", "is not in"]],
           values: options.lists.map(l => [String(l.id), l.name])},
    first_name: {label: "First name", ops: textOps},
    last_name: {label: "Last name", ops: textOps},
    email: {label: "Email", ops: textOps},
    phone: {label: "Phone", ops: textOps},
    created: {label: "Added", ops: [["within_days", "in the last (days)"],
              ["more_than_days_ago", "more than (days) ago"], ["before", "before"], ["after", "after"]]},
    received_campaign: {label: "Received a campaign", ops: [["within_days", "in the last (days)"],
              ["not_within_days", "not in the last (days)"], ["never", "never"]]},
    replied: {label: "Replied", ops: [["within_days", "in the last (days)"],
              ["not_within_days", "not in the last (days)"], ["ever", "ever"], ["never", "never"]]},
  };
  const customOps = {
    text: [["equals", "is"], ["contains", "contains"], ["is_empty", "is empty"], ["is_not_empty", "is not empty"]],
    number: [["equals", "="], ["gt", ">"], ["lt", "<"], ["is_empty", "is empty"], ["is_not_empty", "is not empty"]],
    date: [["on", "on"], ["before", "before"], ["after", "after"], ["is_empty", "is empty"], ["is_not_empty", "is not empty"]],
  };
  options.custom.forEach(f => { fields["custom:" + f.key] = {label: f.label, ops: customOps[f.type], type: f.type}; });
  const noValue = ["is_empty", "is_not_empty", "never", "ever"];

  function select(choices, value, label) {
    const el = document.createElement("select");
    el.setAttribute("aria-label", label);
    choices.forEach(([v, text]) => { const o = new Option(text, v); if (String(v) === String(value)) o.selected = true; el.add(o); });
    return el;
  }

  function addRow(condition) {
    condition = condition || {field: "status", op: "is", value: "subscribed"};
    const row = document.createElement("div");
    row.className = "condition";
    const fieldSel = select(Object.entries(fields).map(([k, f]) => [k, f.label]), condition.field, "Field");
    row.append(fieldSel);
    const rest = document.createElement("span");
    row.append(rest);
    const remove = document.createElement("button");
    remove.type = "button"; remove.textContent = "Remove"; remove.className = "link";
    remove.onclick = () => { row.remove(); changed(); };
    row.append(remove);

    function renderRest(op, value) {
      rest.innerHTML = "";
      const spec = fields[fieldSel.value];
      const opSel = select(spec.ops, op, "Condition");
      rest.append(opSel);
      let valueEl = null;
      if (!noValue.includes(opSel.value)) {
        if (spec.values) { valueEl = select(spec.values, value, "Value"); }
        else {
          valueEl = document.createElement("input");
          const dayOp = ["within_days", "not_within_days", "more_than_days_ago"].includes(opSel.value);
          valueEl.type = dayOp || spec.type === "number" ? "number" : (["before", "after", "on"].includes(opSel.value) ? "date" : "text");
          valueEl.value = value == null ? (dayOp ? "30" : "") : value;
          valueEl.setAttribute("aria-label", "Value");
        }
        rest.append(valueEl);
        valueEl.addEventListener("input", changed);
        valueEl.addEventListener("change", changed);
      }
      opSel.onchange = () => { renderRest(opSel.value, null); changed(); };
      row.read = () => {
        const c = {field: fieldSel.value, op: opSel.value};
        if (valueEl) c.value = valueEl.value;
        return c;
      };
    }
    fieldSel.onchange = () => { renderRest(fields[fieldSel.value].ops[0][0], null); changed(); };
    renderRest(condition.op, condition.value);
    container.append(row);
  }

  function currentRules() {
    return {match: matchSelect.value, conditions: [...container.children].map(r => r.read())};
  }

  let timer = null;
  function changed() {
    rulesInput.value = JSON.stringify(currentRules());
    clearTimeout(timer);
    timer = setTimeout(preview, 250);
  }

  async function preview() {
    const errorEl = document.getElementById("preview-error");
    const response = await fetch(window.SEGMENT_PREVIEW_URL, {
      method: "POST", headers: {"X-CSRFToken": csrf, "Content-Type": "application/json"},
      body: rulesInput.value,
    });
    const data = await response.json();
    const sample = document.getElementById("preview-sample");
    sample.innerHTML = "";
    if (!response.ok) { errorEl.textContent = data.error; document.getElementById("preview-count").textContent = "—"; return; }
    errorEl.textContent = "";
    const atLeast = (n, capped) => n.toLocaleString() + (capped ? "+" : "");
    document.getElementById("preview-count").textContent = atLeast(data.count, data.count_capped) + " contacts match";
    document.getElementById("preview-detail").textContent = "(" + atLeast(data.subscribed, data.subscribed_capped) + " subscribed, so they can receive campaigns)";
    data.sample.forEach(c => { const li = document.createElement("li"); li.textContent = c.name + " · " + c.phone + " · " + c.status; sample.append(li); });
  }

  let initial = null;
  try { initial = JSON.parse(rulesInput.value || "{}"); } catch (e) { initial = null; }
  initial = initial && typeof initial === "object" ? initial : {};
  matchSelect.value = initial.match || "all";
  matchSelect.onchange = changed;
  (initial.conditions && initial.conditions.length ? initial.conditions : [null]).forEach(addRow);
  document.getElementById("add-condition").onclick = () => { addRow(null); changed(); };
  changed();
})();
