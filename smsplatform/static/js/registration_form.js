// The registration form: stock exchange, ticker and brand contact only for public companies.
(function () {
  "use strict";
  const form = document.getElementById("registration-form");
  if (!form) return;
  const publicOnly = ["stock_exchange", "stock_ticker", "brand_contact_email"];
  function update() {
    const chosen = form.querySelector("input[name=company_type]:checked");
    const isPublic = chosen && chosen.value === "public";
    publicOnly.forEach(name => {
      const field = form.querySelector(`[data-field=${name}]`);
      if (field) field.hidden = !isPublic;
    });
  }
  form.querySelectorAll("input[name=company_type]").forEach(input => input.addEventListener("change", update));
  update();
})();
