// Comments anchored to a passage of the preview ("Read" on the document page).
//
// Selecting text inside one block of the preview (mouse or touch) shows a "Comment on this
// passage" button after that block; with the keyboard, "Comment on a paragraph" makes the
// blocks reachable with Tab, and a focused block offers "Comment on this paragraph". Pressing
// either fills the new-thread composer's hidden anchor_quote and anchor_position fields (live.js
// sends them with the comment), shows the passage above the composer with "Remove", and moves
// to the composer. The markers beside the blocks come from the server (the preview fragment);
// a thread arriving on this screen (new, resolved, reopened, its passage found again in a new
// version) updates its block's marker.

import { BLOCK, MAX_QUOTE, blockOf, offsetIn, previewBody } from "./passage.js";

let button = null;
let chosen = null; // {block, start, end, quote} offered by the button

function composer() {
  const form = document.querySelector("form[data-composer] [data-anchor-position]");
  return form ? form.closest("form") : null;
}

function hideButton() {
  if (button) button.remove(); // the preview's height changes: the markers follow (watchPreview)
  button = null;
  chosen = null;
}

function showButton(block, passage, label) {
  hideButton();
  chosen = passage;
  button = document.createElement("button");
  button.type = "button";
  button.className = "nhsuk-button nhsuk-button--secondary nhsuk-button--small cr-anchor-button";
  button.textContent = label;
  // mousedown would clear the selection before the click: keep it.
  button.addEventListener("mousedown", (e) => e.preventDefault());
  button.addEventListener("click", () => { if (chosen) useAnchor(chosen); });
  block.after(button);
}

// The selection, when it starts inside a block of the preview: that block and the passage.
function fromSelection() {
  const sel = window.getSelection();
  if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
  const range = sel.getRangeAt(0);
  const block = blockOf(range.startContainer);
  if (!block) return null;
  const length = block.textContent.length;
  const start = offsetIn(block, range.startContainer, range.startOffset);
  const end = block.contains(range.endContainer)
    ? offsetIn(block, range.endContainer, range.endOffset)
    : length;
  const quote = block.textContent.slice(start, end).replace(/\s+/g, " ").trim();
  if (!quote) return null;
  return { block, passage: { block: block.id, start, end, quote: quote.slice(0, MAX_QUOTE) } };
}

let pendingCheck = null;
function checkSelection() {
  clearTimeout(pendingCheck);
  pendingCheck = setTimeout(() => {
    const found = fromSelection();
    if (found) {
      if (!chosen || chosen.block !== found.passage.block || chosen.start !== found.passage.start || chosen.end !== found.passage.end) {
        showButton(found.block, found.passage, "Comment on this passage");
      }
    } else if (button && !button.matches(":focus") && !(document.activeElement && document.activeElement.matches(`.cr-preview__body ${BLOCK}`))) {
      hideButton();
    }
  }, 150);
}

function useAnchor(passage) {
  const form = composer();
  if (!form) return;
  form.querySelector("[data-anchor-quote]").value = passage.quote;
  form.querySelector("[data-anchor-position]").value = JSON.stringify({ block: passage.block, start: passage.start, end: passage.end });
  const shown = form.querySelector("[data-anchor-passage]");
  shown.querySelector("[data-anchor-passage-text]").textContent = passage.quote;
  shown.hidden = false;
  hideButton();
  const box = form.querySelector("textarea[name='body']");
  if (box) box.focus();
}

function clearAnchor(form) {
  form.querySelector("[data-anchor-quote]").value = "";
  form.querySelector("[data-anchor-position]").value = "";
  const shown = form.querySelector("[data-anchor-passage]");
  shown.hidden = true;
  shown.querySelector("[data-anchor-passage-text]").textContent = "";
}

// The keyboard path: a toggle before the preview makes its blocks focusable.
function addKeyboardToggle() {
  const body = previewBody();
  if (!body || !composer() || document.getElementById("cr-anchor-toggle")) return;
  // A picture (or a preview with no words) has no passage to comment on.
  if (!Array.from(body.querySelectorAll(BLOCK)).some((b) => blockOf(b) === b && b.textContent.trim())) return;
  const toggle = document.createElement("button");
  toggle.type = "button";
  toggle.id = "cr-anchor-toggle";
  toggle.className = "nhsuk-button nhsuk-button--secondary nhsuk-button--small";
  toggle.textContent = "Comment on a paragraph";
  toggle.setAttribute("aria-pressed", "false");
  toggle.addEventListener("click", () => {
    const on = toggle.getAttribute("aria-pressed") !== "true";
    toggle.setAttribute("aria-pressed", String(on));
    const blocks = Array.from((previewBody() || body).querySelectorAll(BLOCK)).filter((b) => blockOf(b) === b);
    blocks.forEach((b) => { if (on) b.setAttribute("tabindex", "0"); else b.removeAttribute("tabindex"); });
    if (on && blocks.length) blocks[0].focus();
    if (!on) hideButton();
  });
  body.before(toggle);
}

function onFocusIn(e) {
  const block = e.target instanceof Element && e.target.matches(BLOCK) ? blockOf(e.target) : null;
  if (!block || block !== e.target || !block.hasAttribute("tabindex")) return;
  const quote = block.textContent.replace(/\s+/g, " ").trim();
  if (!quote) return;
  block.classList.add("cr-anchor-focus");
  block.addEventListener("focusout", () => block.classList.remove("cr-anchor-focus"), { once: true });
  showButton(block, { block: block.id, start: 0, end: block.textContent.length, quote: quote.slice(0, MAX_QUOTE) }, "Comment on this paragraph");
}

// A thread placed on this screen (live.js) that quotes a passage of the preview shown: counted
// in that block's marker (made if it is the first) while it is open and its quote links into
// the version shown (where it was written, or where its passage was found again); resolved,
// deleted or linking into another version, it leaves the count, and the marker goes with the
// last. Readers who cannot comment see the markers change too. (The server makes them the same
// way.)
function onPlaced(e) {
  const node = e.detail && e.detail.node;
  const body = previewBody();
  if (!node || !node.id || !node.id.startsWith("thread-") || !body) return;
  const threadId = node.id.slice("thread-".length);
  const link = node.querySelector(".cr-comment__quote-link");
  const preview = body.closest(".cr-preview");
  const shown = preview ? preview.dataset.version : "";
  const sameVersion = link && (!shown || !link.dataset.version || link.dataset.version === shown);
  const blockId = sameVersion ? link.getAttribute("href").slice(1) : "";
  const block = blockId ? document.getElementById(blockId) : null;
  const counted = !node.classList.contains("cr-thread--resolved") && block && blockOf(block);
  let changed = false;
  body.querySelectorAll(".cr-anchors").forEach((marker) => {
    const ids = marker.dataset.threads.split(" ").filter(Boolean);
    if (ids.includes(threadId) && !(counted && marker.dataset.anchorFor === blockId)) {
      setMarker(marker, ids.filter((id) => id !== threadId));
      changed = true;
    }
  });
  if (counted) {
    let marker = body.querySelector(`.cr-anchors[data-anchor-for="${blockId}"]`); // blockId is p-<digits>
    if (!marker) {
      marker = document.createElement("div");
      marker.className = "cr-anchors";
      marker.dataset.anchorFor = blockId;
      marker.dataset.threads = "";
      marker.append(Object.assign(document.createElement("a"), { className: "cr-anchors__link" }));
      block.after(marker);
    }
    const ids = marker.dataset.threads.split(" ").filter(Boolean);
    if (!ids.includes(threadId)) {
      setMarker(marker, [...ids, threadId]);
      changed = true;
    }
  }
  if (changed) placeMarkers();
}

function setMarker(marker, ids) {
  if (!ids.length) {
    marker.remove();
    return;
  }
  marker.dataset.threads = ids.join(" ");
  const a = marker.querySelector("a");
  a.href = `#thread-${ids[0]}`;
  a.textContent = `${ids.length} comment${ids.length === 1 ? "" : "s"}`;
  const hidden = document.createElement("span");
  hidden.className = "nhsuk-u-visually-hidden";
  hidden.textContent = " on this passage";
  a.append(hidden);
}

// From 1024 px the markers sit in the preview's margin (position: absolute in app.css), each
// level with the top of its block; on a phone they stay after the block, in the flow. Every
// position is read before any is set, so the page is laid out once, not once a marker.
function placeMarkers() {
  const body = previewBody();
  if (!body) return;
  const markers = Array.from(body.querySelectorAll(".cr-anchors"));
  if (!markers.length) return;
  const wide = window.matchMedia("(min-width: 1024px)").matches;
  const top = body.getBoundingClientRect().top;
  const tops = markers.map((marker) => {
    const block = wide ? document.getElementById(marker.dataset.anchorFor) : null;
    return block ? `${Math.round(block.getBoundingClientRect().top - top)}px` : null;
  });
  markers.forEach((marker, i) => {
    if (tops[i]) marker.style.top = tops[i];
    else marker.style.removeProperty("top");
  });
}

// The blocks move whenever the preview's size changes: the window resized, a picture loaded, a
// PDF page's text opened, the button shown or put away, the preview itself arriving live.
const resized = "ResizeObserver" in window ? new ResizeObserver(placeMarkers) : null;
function watchPreview() {
  const body = previewBody();
  if (!body) return;
  if (!resized) {
    placeMarkers();
    return;
  }
  resized.disconnect(); // one preview on the page: a new one replaces the old
  resized.observe(body);
}

export function startAnchors() {
  watchPreview();
  if (!resized) window.addEventListener("resize", placeMarkers);
  document.addEventListener("cr:placed", (e) => {
    const node = e.detail && e.detail.node;
    if (node && node.querySelector && node.querySelector(".cr-preview__body")) {
      watchPreview();
      addKeyboardToggle(); // only where a comment can be added (it asks for the composer)
    } else onPlaced(e);
  });

  const form = composer();
  if (!form) return; // reading only: the markers, no way to add a comment
  document.addEventListener("selectionchange", checkSelection);
  document.addEventListener("mouseup", checkSelection);
  document.addEventListener("touchend", checkSelection);
  document.addEventListener("focusin", onFocusIn);
  form.querySelector("[data-anchor-remove]").addEventListener("click", () => {
    clearAnchor(form);
    const box = form.querySelector("textarea[name='body']");
    if (box) box.focus();
  });
  // Once live.js has taken the fields of a comment being sent, the next one starts unanchored.
  form.addEventListener("submit", () => {
    const box = form.querySelector("textarea[name='body']");
    if (box && box.value.trim()) setTimeout(() => clearAnchor(form), 0);
  }, true);
  addKeyboardToggle();
}
