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

// A panel htmx has just swapped in names what to read first: focus moves there, so a
// keyboard or screen reader user lands on the answer, not back at the top of the page.
document.body.addEventListener("htmx:afterSettle", () => {
  const target = document.querySelector("[data-focus-here]");
  if (target) {
    target.removeAttribute("data-focus-here");
    target.focus();
  }
});
