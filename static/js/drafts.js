// Keeps what a person types in a form marked data-draft, in this browser only, until the
// server has saved it: a timed-out session, a lost signal or a closed tab loses no note.
// Drafts are cleared when the save succeeds and when the person logs out.

const PREFIX = "portal-draft:";
const SKIP = new Set(["csrf_token", "version"]);

function fieldsOf(form) {
  return Array.from(form.elements).filter(
    (el) => el.name && !SKIP.has(el.name) && el.type !== "submit" && el.type !== "button" && el.type !== "hidden",
  );
}

function snapshot(form) {
  const data = {};
  for (const el of fieldsOf(form)) {
    if (el.type === "radio" || el.type === "checkbox") {
      if (el.checked) (data[el.name] ||= []).push(el.value);
    } else {
      data[el.name] = el.value;
    }
  }
  return data;
}

function hasTypedText(data) {
  return Object.values(data).some((v) => typeof v === "string" && v.trim() !== "");
}

function save(form) {
  const data = snapshot(form);
  try {
    if (hasTypedText(data)) localStorage.setItem(PREFIX + form.dataset.draft, JSON.stringify(data));
    else localStorage.removeItem(PREFIX + form.dataset.draft);
  } catch (e) {
    // Storage full or blocked: the form still works, it just cannot keep a draft.
  }
}

function restore(form) {
  let data;
  try {
    data = JSON.parse(localStorage.getItem(PREFIX + form.dataset.draft) || "null");
  } catch (e) {
    data = null;
  }
  if (!data) return;
  // Never overwrite what the server sent back (a form returned with its errors).
  const textareas = fieldsOf(form).filter((el) => el.tagName === "TEXTAREA");
  if (textareas.some((el) => el.value.trim() !== "")) return;
  let restored = false;
  for (const el of fieldsOf(form)) {
    if (!(el.name in data)) continue;
    if (el.type === "radio" || el.type === "checkbox") {
      el.checked = data[el.name].includes(el.value);
    } else if (el.value !== data[el.name]) {
      el.value = data[el.name];
      restored = restored || el.tagName === "TEXTAREA";
    }
  }
  if (restored) {
    const note = form.querySelector(".portal-draft-note");
    if (note) note.hidden = false;
    const details = form.closest("details");
    if (details) details.open = true;
  }
}

function watch(root) {
  for (const form of root.querySelectorAll("form[data-draft]")) {
    if (form.dataset.draftWatched) continue;
    form.dataset.draftWatched = "1";
    restore(form);
    form.addEventListener("input", () => save(form));
    form.addEventListener("change", () => save(form));
  }
}

// A page that confirms a save names the drafts it has made safe.
function clearSaved(root) {
  for (const el of root.querySelectorAll("[data-draft-saved]")) {
    localStorage.removeItem(PREFIX + el.dataset.draftSaved);
  }
}

export function initDrafts() {
  clearSaved(document);
  watch(document);
  document.body.addEventListener("htmx:afterSettle", (event) => {
    clearSaved(event.target);
    watch(event.target);
  });
  // Logging out forgets every draft on this device.
  for (const form of document.querySelectorAll("form[data-logout]")) {
    form.addEventListener("submit", () => {
      for (const key of Object.keys(localStorage)) {
        if (key.startsWith(PREFIX)) localStorage.removeItem(key);
      }
    });
  }
}
