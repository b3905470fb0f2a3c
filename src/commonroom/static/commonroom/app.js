// Commonroom page behaviour: NHS.UK components, and uploads sent with a progress bar.
import { initAll } from "../vendor/nhsuk-frontend/nhsuk-frontend.min.js";
import { watchMentions } from "./mentions.js";
import { newKey, startLive } from "./live.js";
import { startAnchors } from "./anchors.js";
import { waitForPreviews } from "./preview-wait.js";
import { startCompareNav } from "./compare-nav.js";
import { startPreviewNav } from "./preview-nav.js";
import { followReaders, startReading } from "./reading.js";

function start() {
  document.body.classList.add("js-enabled", "nhsuk-frontend-supported");
  initAll();
  document.addEventListener("submit", confirmBeforeSubmit, true);
  document.querySelectorAll("form[data-upload]").forEach(setUpUpload);
  watchMentions();
  startLive();
  startAnchors();
  waitForPreviews();
  startCompareNav();
  startPreviewNav();
  startReading();
  followReaders();
  quickResults();
  copyButtons();
  headerToggles();
}

// On a phone the header's search box and menu wait behind two buttons (base.html). Without
// scripts they are links to their parts, shown by :target; here each becomes a button that
// shows or hides its part (one at a time); Escape puts the menu away again.
function headerToggles() {
  const header = document.querySelector(".nhsuk-header");
  const toggles = Array.from(document.querySelectorAll("[data-header-toggle]"));
  if (!header || !toggles.length) return;
  const shut = (toggle) => {
    header.classList.remove(`cr-header--${toggle.dataset.headerToggle}`);
    toggle.setAttribute("aria-expanded", "false");
  };
  toggles.forEach((toggle) => {
    const part = document.getElementById(toggle.dataset.headerToggle);
    if (!part) return;
    toggle.setAttribute("role", "button");
    toggle.setAttribute("aria-expanded", "false");
    toggle.addEventListener("keydown", (e) => {
      if (e.key === " ") { e.preventDefault(); toggle.click(); }
    });
    toggle.addEventListener("click", (e) => {
      e.preventDefault();
      const opening = toggle.getAttribute("aria-expanded") !== "true";
      toggles.forEach(shut);
      if (!opening) return;
      header.classList.add(`cr-header--${toggle.dataset.headerToggle}`);
      toggle.setAttribute("aria-expanded", "true");
      const field = part.querySelector("input, a, button");
      if (field) field.focus();
    });
  });
  // Escape puts an open menu away, wherever the focus is (its first link, its button, or the
  // page if the link could not take it); in the search box Escape is the quick results' (and
  // the box's own).
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    const open = toggles.find((t) => t.getAttribute("aria-expanded") === "true"
      && document.getElementById(t.dataset.headerToggle)?.tagName === "NAV");
    if (open) { shut(open); open.focus(); }
  });
  // From here the buttons decide, not :target; a part opened by its link before this script
  // ran stays open.
  header.classList.add("cr-header--ready");
  const opened = toggles.find((t) => location.hash === `#${t.dataset.headerToggle}`);
  if (opened) {
    header.classList.add(`cr-header--${opened.dataset.headerToggle}`);
    opened.setAttribute("aria-expanded", "true");
  }
}

// A button with data-copy="<id>" copies that field's value (an address to paste into another
// program); shown only where the browser lets a page copy. The field stays selectable anyway.
function copyButtons() {
  if (!navigator.clipboard) return;
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    const field = document.getElementById(button.dataset.copy);
    if (!field) return;
    const done = field.closest(".nhsuk-form-group")?.querySelector(".cr-copy__done");
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(field.value);
        if (done) done.textContent = "Copied.";
      } catch {
        field.select();
        if (done) done.textContent = "Select the address and copy it.";
      }
    });
  });
}

// The header's quick results (htmx fills #cr-suggest as someone types): Escape, or moving to
// anything outside the search, puts them away.
function quickResults() {
  const box = document.getElementById("header-search");
  const panel = document.getElementById("cr-suggest");
  if (!box || !panel) return;
  const inside = (node) => node instanceof Element && node.closest(".cr-header-search");
  const close = () => panel.replaceChildren();
  box.addEventListener("keydown", (e) => { if (e.key === "Escape") close(); });
  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { close(); box.focus(); }
  });
  document.addEventListener("click", (e) => { if (!inside(e.target)) close(); });
  document.addEventListener("focusin", (e) => { if (!inside(e.target)) close(); });
}

// A form (or its submit button) with data-confirm="<question>" asks before it is sent: deleting
// a comment or a message, removing a member. Captured on the document, so it runs before any
// other submit handler; the question is the browser's own accessible dialog.
function confirmBeforeSubmit(e) {
  const form = e.target;
  if (!(form instanceof HTMLFormElement)) return;
  const question = (e.submitter && e.submitter.dataset.confirm) || form.dataset.confirm;
  if (question && !window.confirm(question)) {
    e.preventDefault();
    e.stopImmediatePropagation();
  }
}

function humanSize(n) {
  const units = ["bytes", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[i]}`;
}

function setUpUpload(form) {
  // Picking and dropping files is NHS.UK's file upload component; it fills the file input.
  const input = form.querySelector('input[type="file"]');
  const box = form.querySelector("[data-progress]");
  const bar = box && box.querySelector("progress");
  const status = box && box.querySelector('[role="status"]');
  const button = form.querySelector('button[type="submit"]');
  // One key per chosen file, kept across retries so a resend never makes a second version.
  let keys = [];

  const chosen = () => Array.from(input.files || []);
  const refreshKeys = () => { keys = chosen().map(() => newKey()); };
  input.addEventListener("change", refreshKeys);

  form.addEventListener("submit", (e) => {
    if (!box) return;
    e.preventDefault();
    const files = chosen();
    if (!files.length) {
      box.hidden = false;
      bar.value = 0;
      status.textContent = input.multiple ? "Choose at least one file to upload." : "Choose a file to upload.";
      const picker = document.getElementById(input.id.replace(/-input$/, "")) || input;
      picker.focus();
      return;
    }
    if (keys.length !== files.length) refreshKeys();
    const data = new FormData();
    for (const el of form.elements) {
      if (el.name && el.type !== "file" && el.type !== "submit" && !el.disabled) data.append(el.name, el.value);
    }
    files.forEach((f, i) => { data.append("upload_key", keys[i]); });
    files.forEach((f) => data.append(input.name, f, f.name));
    const total = files.reduce((s, f) => s + f.size, 0);
    box.hidden = false;
    bar.value = 0;
    button.disabled = true;
    status.textContent = `Uploading ${files.length} file(s), ${humanSize(total)}…`;
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    const token = form.querySelector('input[name="csrfmiddlewaretoken"]');
    if (token) xhr.setRequestHeader("X-CSRFToken", token.value);
    xhr.upload.addEventListener("progress", (ev) => {
      if (!ev.lengthComputable) return;
      bar.value = Math.round((ev.loaded / ev.total) * 100);
      status.textContent = `Uploading: ${bar.value}% of ${humanSize(total)}`;
    });
    xhr.addEventListener("load", () => {
      let body = {};
      // Our views answer JSON; anything else (a proxy's error page, say) is not shown as text.
      try { body = JSON.parse(xhr.responseText); } catch (_) { body = {}; }
      if (xhr.status >= 200 && xhr.status < 300) {
        bar.value = 100;
        status.textContent = "Uploaded. Opening…";
        window.location.assign(body.redirect || window.location.href);
      } else {
        button.disabled = false;
        // A full disk is 507 wherever it happens (even before our views run): say so plainly.
        const fallback = xhr.status === 413
          ? "The file is larger than the limit. Nothing was saved."
          : xhr.status === 507
            ? "The server's storage is full. Nothing was saved."
            : `The server answered ${xhr.status}. Nothing was saved; you can try again.`;
        status.textContent = `Not uploaded. ${body.detail || fallback}`;
      }
    });
    xhr.addEventListener("error", () => {
      button.disabled = false;
      status.textContent = "The connection dropped. Nothing was saved; try again and it will not be stored twice.";
    });
    xhr.send(data);
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
