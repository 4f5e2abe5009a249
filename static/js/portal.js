// Starts the NHS.UK frontend components (header menu, error summary focus and so on).
import { initAll } from "/static/vendor/nhsuk/nhsuk-frontend.min.js";

initAll();
