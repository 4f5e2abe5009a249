// Starts the NHS.UK frontend components (header menu, error summary focus and so on),
// and the portal's own small behaviours. Everything works without this file.
import { initAll } from "/static/vendor/nhsuk/nhsuk-frontend.min.js";
import { initDrafts } from "/static/js/drafts.js";

initAll();
initDrafts();

for (const button of document.querySelectorAll("[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
