// Commonroom page behaviour: NHS.UK components, drag-and-drop uploads with a progress bar.
import { initAll } from "../vendor/nhsuk-frontend/nhsuk-frontend.min.js";

function start() {
  document.body.classList.add("js-enabled", "nhsuk-frontend-supported");
  initAll();
  document.querySelectorAll("form[data-upload]").forEach(setUpUpload);
}

function humanSize(n) {
  const units = ["bytes", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[i]}`;
}

function newKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

function setUpUpload(form) {
  const input = form.querySelector('input[type="file"]');
  const zone = form.querySelector("[data-dropzone]") || form;
  const box = form.querySelector("[data-progress]");
  const bar = box && box.querySelector("progress");
  const status = box && box.querySelector('[role="status"]');
  const button = form.querySelector('button[type="submit"]');
  let dropped = null;
  // One key per chosen file, kept across retries so a resend never makes a second version.
  let keys = [];

  const chosen = () => (dropped ? Array.from(dropped) : Array.from(input.files || []));
  const refreshKeys = () => { keys = chosen().map(() => newKey()); };
  input.addEventListener("change", () => { dropped = null; refreshKeys(); });

  ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (e) => {
    e.preventDefault();
    zone.classList.add("cr-dropzone--active");
  }));
  ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, () => zone.classList.remove("cr-dropzone--active")));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    if (!e.dataTransfer || !e.dataTransfer.files.length) return;
    dropped = input.multiple ? e.dataTransfer.files : [e.dataTransfer.files[0]];
    refreshKeys();
    if (status) { box.hidden = false; status.textContent = `${chosen().length} file(s) ready: press the button to upload.`; }
  });

  form.addEventListener("submit", (e) => {
    const files = chosen();
    if (!files.length || !box) return; // let the browser report the empty field
    e.preventDefault();
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
      try { body = JSON.parse(xhr.responseText); } catch (_) { body = { detail: xhr.responseText }; }
      if (xhr.status >= 200 && xhr.status < 300) {
        bar.value = 100;
        status.textContent = "Uploaded. Opening…";
        window.location.assign(body.redirect || window.location.href);
      } else {
        button.disabled = false;
        status.textContent = `Not uploaded: ${body.detail || xhr.statusText}. Nothing was saved; you can try again.`;
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
