// Suggesting a change on the document page ("Suggestions", beside the preview).
//
// Selecting words inside one block of the preview shows "Suggest a change" after that block; on
// a focused block (the keyboard path anchors.js offers) it is there too. Pressing it fills the
// suggestion form's hidden passage fields, shows the passage, opens the form and moves to it.
// Without a selection (a phone, or no script), the form's own list chooses a whole paragraph.
// The form and the "Reject" forms are posted with htmx: the suggestion's HTML that comes back
// takes its place in the list (the same fragment live.js fetches after a suggestion event), a
// refusal's sentence is shown in the form. A suggestion placed on this screen (either way) has
// its redline after its block of the preview while it is open, and loses it when it is not.

import { BLOCK, MAX_QUOTE, blockOf, offsetIn, previewBody } from "./passage.js";

let button = null;

function form() {
  return document.querySelector("form[data-suggest-form]");
}

function hideButton() {
  if (button) button.remove();
  button = null;
}

function showButton(block, passage) {
  hideButton();
  button = document.createElement("button");
  button.type = "button";
  button.className = "nhsuk-button nhsuk-button--secondary nhsuk-button--small cr-suggest-button";
  button.textContent = "Suggest a change";
  button.addEventListener("mousedown", (e) => e.preventDefault());
  button.addEventListener("click", () => usePassage(passage));
  // After anchors.js's "Comment on…" button when it is there.
  const after = block.nextElementSibling && block.nextElementSibling.matches(".cr-anchor-button") ? block.nextElementSibling : block;
  after.after(button);
}

function fromSelection() {
  const sel = window.getSelection();
  if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
  const range = sel.getRangeAt(0);
  const block = blockOf(range.startContainer);
  if (!block || !block.contains(range.endContainer)) return null; // one paragraph at a time
  const start = offsetIn(block, range.startContainer, range.startOffset);
  const end = offsetIn(block, range.endContainer, range.endOffset);
  const quote = block.textContent.slice(start, end).replace(/\s+/g, " ").trim();
  if (!quote) return null;
  return { block, passage: { block: block.id, start, end, quote: quote.slice(0, MAX_QUOTE) } };
}

let pending = null;
function checkSelection() {
  clearTimeout(pending);
  pending = setTimeout(() => {
    const found = fromSelection();
    if (found) showButton(found.block, found.passage);
    else if (button && !button.matches(":focus") && !(document.activeElement && document.activeElement.matches(`.cr-preview__body ${BLOCK}`))) hideButton();
  }, 180);
}

function onFocusIn(e) {
  const block = e.target instanceof Element && e.target.matches(BLOCK) ? blockOf(e.target) : null;
  if (!block || block !== e.target || !block.hasAttribute("tabindex")) return;
  const quote = block.textContent.replace(/\s+/g, " ").trim();
  if (!quote) return;
  // The whole paragraph: as the form's list chooses it.
  setTimeout(() => showButton(block, { paragraph: block.id, quote: quote.slice(0, MAX_QUOTE) }), 0);
}

function setField(f, name, value) {
  const input = f.querySelector(`[data-suggest-${name}]`);
  if (input) input.value = value;
}

function usePassage(passage) {
  const f = form();
  if (!f) return;
  const select = f.querySelector("select[name='paragraph']");
  if (passage.paragraph) {
    clearPassage(f);
    if (select) select.value = passage.paragraph;
  } else {
    setField(f, "block", passage.block);
    setField(f, "start", String(passage.start));
    setField(f, "end", String(passage.end));
    setField(f, "quote", passage.quote);
    f.querySelector("[data-suggest-passage-text]").textContent = passage.quote;
    f.querySelector("[data-suggest-passage]").hidden = false;
    f.querySelector("[data-suggest-paragraph]").hidden = true;
  }
  hideButton();
  const details = f.closest("details");
  if (details) details.open = true;
  const first = f.querySelector("input[name='kind']:checked") || f.querySelector("input[name='kind']");
  if (first) first.focus();
}

function clearPassage(f) {
  ["block", "start", "end", "quote"].forEach((name) => setField(f, name, ""));
  f.querySelector("[data-suggest-passage]").hidden = true;
  f.querySelector("[data-suggest-passage-text]").textContent = "";
  f.querySelector("[data-suggest-paragraph]").hidden = false;
}

// "Delete" needs no new text.
function showTextFor(f) {
  const kind = f.querySelector("input[name='kind']:checked");
  const text = f.querySelector("[data-suggest-text]");
  if (kind && text) text.hidden = kind.value === "delete";
}

function listOf(node) {
  return node.closest("[data-live-list]") || document.getElementById("suggestion-list");
}

// Like live.js's place: a newer copy replaces the one shown, a new one joins the list.
function place(html, list) {
  const tpl = document.createElement("template");
  tpl.innerHTML = html.trim();
  const node = tpl.content.firstElementChild;
  if (!node || !node.id) return null;
  const existing = document.getElementById(node.id);
  if (existing) existing.replaceWith(node);
  else if (list) list.append(node);
  document.dispatchEvent(new CustomEvent("cr:placed", { detail: { node } }));
  return node;
}

function announce(text) {
  const note = document.getElementById("cr-suggest-announce");
  if (note) note.textContent = text;
}

function onRequestDone(e) {
  const f = e.detail && e.detail.elt;
  if (!(f instanceof HTMLFormElement) || !f.matches("[data-suggestion-form]")) return;
  const xhr = e.detail.xhr;
  const error = f.querySelector("[data-suggestion-error]");
  if (!xhr || xhr.status === 0) {
    if (error) { error.textContent = "Not sent: check your connection and try again."; error.hidden = false; }
    return;
  }
  if (xhr.status >= 400) {
    if (error) {
      error.textContent = xhr.responseText || "That could not be done.";
      error.hidden = false;
      error.setAttribute("tabindex", "-1");
      error.focus();
    }
    return;
  }
  if (error) error.hidden = true;
  const node = place(xhr.responseText, document.getElementById("suggestion-list"));
  if (f.matches("[data-suggest-form]")) {
    f.reset();
    clearPassage(f);
    showTextFor(f);
    const details = f.closest("details");
    if (details) details.open = false;
    announce("Suggestion made.");
    if (node) node.scrollIntoView({ block: "nearest" });
  } else {
    announce("Suggestion rejected.");
  }
}

// A suggestion placed on this screen: its redline after its block, while it is open.
function onPlaced(e) {
  const node = e.detail && e.detail.node;
  if (!node || !node.id || !node.id.startsWith("suggestion-")) return;
  const id = node.id.slice("suggestion-".length);
  document.querySelectorAll(".cr-redline").forEach((r) => { if (r.dataset.redlineFor === id) r.remove(); });
  const body = previewBody();
  const preview = body && body.closest(".cr-preview");
  if (!body || node.dataset.state !== "open" || !preview || preview.dataset.version !== node.dataset.version) return;
  const block = node.dataset.block ? body.querySelector(`#${CSS.escape(node.dataset.block)}`) : null;
  const change = node.querySelector(".cr-suggestion__change .cr-change");
  if (!block || !change) return;
  const redline = document.createElement("div");
  redline.className = "cr-redline";
  redline.dataset.redlineFor = id;
  const link = document.createElement("a");
  link.className = "cr-redline__link";
  link.href = `#${node.id}`;
  link.append(change.cloneNode(true));
  redline.append(link);
  // After the block's own marks (other redlines, the comments' marker).
  let at = block;
  while (at.nextElementSibling && at.nextElementSibling.matches(".cr-redline, .cr-anchors")) at = at.nextElementSibling;
  at.after(redline);
}

function start() {
  document.addEventListener("cr:placed", onPlaced);
  document.body.addEventListener("htmx:afterRequest", onRequestDone);
  // A refusal (4xx) is an answer, not a failure: onRequestDone shows its sentence.
  document.body.addEventListener("htmx:beforeSwap", (e) => {
    const f = e.detail && e.detail.elt;
    if (f instanceof HTMLFormElement && f.matches("[data-suggestion-form]")) {
      e.detail.shouldSwap = false;
      e.detail.isError = false;
    }
  });
  // Each suggestion sent carries a new key: sent twice (a retry), it is made once.
  document.body.addEventListener("htmx:configRequest", (e) => {
    const f = e.detail && e.detail.elt;
    if (f instanceof HTMLFormElement && f.matches("[data-suggest-form]") && e.detail.parameters) {
      e.detail.parameters.client_key = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
    }
  });
  const f = form();
  if (!f) return;
  const note = document.createElement("p");
  note.id = "cr-suggest-announce";
  note.className = "nhsuk-u-visually-hidden";
  note.setAttribute("aria-live", "polite");
  document.body.append(note);
  f.querySelectorAll("input[name='kind']").forEach((r) => r.addEventListener("change", () => showTextFor(f)));
  showTextFor(f);
  f.querySelector("[data-suggest-remove]").addEventListener("click", () => {
    clearPassage(f);
    const select = f.querySelector("select[name='paragraph']");
    if (select) select.focus();
  });
  document.addEventListener("selectionchange", checkSelection);
  document.addEventListener("mouseup", checkSelection);
  document.addEventListener("touchend", checkSelection);
  document.addEventListener("focusin", onFocusIn);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
