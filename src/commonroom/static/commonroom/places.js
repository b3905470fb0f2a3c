// Renames, moves, new folders and the trash, live (events from live.js).
//
// Events say which document or folder changed, where it is and where it was (ids and facts);
// this decides whether the open page shows any of it, and if so asks the server for the parts
// it replaces (elements marked data-live-part, matched by id), drawn as this person may see them:
// - a folder's page (or the workspace's top level), #cr-listing[data-live-folder]: its own URL
//   with HX-Request gives its breadcrumbs, heading and listing;
// - a document's page, #cr-title[data-live-document]: /w/<ws>/d/<id>/heading/ gives its
//   breadcrumbs, heading, final record and edit lock; its going to the trash (or coming back),
//   its sealing and reopening are said in a banner too (the page's forms change: reload);
// - an edit lock taken or ended anywhere in the workspace ("locks.changed": a lock may hold a
//   whole folder, so the event names no document): folder pages and document pages ask again;
// - the trash, #cr-trash: its own URL with HX-Request.
// data-live-path lists the folders the page is inside, so a change to one of them is seen too.

const PARTS = "[data-live-part][id]";

function pathOf(el) {
  return (el.dataset.livePath || "").split(" ").filter(Boolean);
}

// The same place: two folder ids, or both the top level (null or "").
function same(a, b) {
  return (a || "") === (b || "");
}

function announce(text) {
  let note = document.getElementById("cr-places-announce");
  if (!note) {
    note = document.createElement("p");
    note.id = "cr-places-announce";
    note.className = "nhsuk-u-visually-hidden";
    note.setAttribute("aria-live", "polite");
    document.body.append(note);
  }
  note.textContent = text;
}

// Put each part of the answer in place of the page's element with its id. What the person was
// focused on inside a replaced part keeps the focus if it is still there (same id or link).
function replaceParts(html) {
  const tpl = document.createElement("template");
  tpl.innerHTML = html;
  const focused = document.activeElement;
  let refocus = null;
  tpl.content.querySelectorAll(PARTS).forEach((fresh) => {
    const old = document.getElementById(fresh.id);
    if (!old) return;
    if (focused && old.contains(focused)) {
      refocus = focused.id ? `#${CSS.escape(focused.id)}` : null;
      const href = focused.getAttribute && focused.getAttribute("href");
      if (!refocus && href) refocus = `a[href="${CSS.escape(href)}"]`;
    }
    old.replaceWith(fresh);
    if (fresh.dataset.liveTitle) document.title = fresh.dataset.liveTitle;
  });
  if (refocus) {
    const again = document.querySelector(refocus);
    if (again) again.focus();
  }
}

// One fetch at a time per URL; changes arriving meanwhile make one more fetch after it.
const inFlight = new Map();

async function fetchParts(url, gone) {
  if (inFlight.has(url)) {
    inFlight.set(url, true);
    return;
  }
  inFlight.set(url, false);
  try {
    const response = await fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
    if (response.status === 404 || response.status === 410) {
      if (gone) gone();
    } else if (response.ok && !response.redirected) {
      replaceParts(await response.text());
    }
  } catch (_) {
    // Offline for now: the next change (or a reload) brings it.
  } finally {
    const again = inFlight.get(url);
    inFlight.delete(url);
    if (again) fetchParts(url, gone);
  }
}

function here() {
  return location.pathname + location.search;
}

const DOCUMENT_KINDS = ["version.created", "document.renamed", "document.moved", "document.trashed", "document.restored", "document.purged", "document.sealed", "document.reopened"];
const FOLDER_KINDS = ["folder.created", "folder.renamed", "folder.moved", "folder.trashed", "folder.restored", "folder.purged"];
const TRASH_KINDS = ["document.trashed", "document.restored", "document.purged", "folder.trashed", "folder.restored", "folder.purged"];

const LOCKS = "locks.changed";

// A folder's page: something in this folder changed, or this folder, or one it is inside.
function onListing(listing, kind, d, ui) {
  if (kind === LOCKS) {
    fetchParts(here(), null);
    return;
  }
  const folder = listing.dataset.liveFolder;
  const path = pathOf(listing);
  let concerned = false;
  if (DOCUMENT_KINDS.includes(kind)) {
    concerned = same(d.folder, folder) || (kind === "document.moved" && same(d.from_folder, folder));
  } else if (FOLDER_KINDS.includes(kind)) {
    concerned = same(d.parent, folder) || (kind === "folder.moved" && same(d.from_parent, folder))
      || path.includes(d.folder);
  }
  if (!concerned) return;
  if (path.includes(d.folder) && (kind === "folder.trashed" || kind === "folder.purged")) {
    // This folder, or one it is inside, is gone: its page has nothing more to show.
    const text = kind === "folder.trashed"
      ? `The folder “${d.name}” has been moved to the trash, with everything in it. A manager can restore it.`
      : `The folder “${d.name}” has been deleted for good.`;
    ui.banner(text, kind === "folder.trashed");
    return;
  }
  fetchParts(here(), () => ui.banner("This folder is no longer here: it was moved to the trash or deleted.", true));
  announce("The list of folders and documents has changed.");
}

// A document's page: it, or a folder it is inside, was renamed, moved, trashed or restored.
function onDocument(heading, kind, d, ws, ui) {
  const id = heading.dataset.liveDocument;
  if (kind === LOCKS) {
    fetchParts(`/w/${ws}/d/${id}/heading/`, null);
    return;
  }
  const inside = FOLDER_KINDS.includes(kind) && pathOf(heading).includes(d.folder);
  const itself = DOCUMENT_KINDS.includes(kind) && d.document === id;
  if (!inside && !itself) return;
  const action = kind.split(".")[1];
  if (action === "renamed" || action === "moved") {
    fetchParts(`/w/${ws}/d/${id}/heading/`, null);
    if (itself && action === "renamed") announce(`This document is now called ${d.name}.`);
  } else if (action === "trashed") {
    const text = itself
      ? "This document has been moved to the trash. A manager can restore it."
      : `The folder “${d.name}” has been moved to the trash, with this document. A manager can restore it.`;
    ui.banner(text, true);
    ui.closeComposers(text);
  } else if (action === "restored") {
    ui.banner("This document is back from the trash. Reload the page to work on it again.", true);
  } else if (itself && (action === "sealed" || action === "reopened")) {
    fetchParts(`/w/${ws}/d/${id}/heading/`, null);
    ui.banner(action === "sealed"
      ? `This document has been sealed: version ${d.number} is its final record. Reload the page to see what can still be done.`
      : `This document has been reopened: new versions go above version ${d.number}, which stays its final record. Reload the page to work on it again.`, true);
  } else if (action === "purged") {
    const text = "This document has been deleted for good.";
    ui.banner(text);
    ui.closeComposers(text);
  }
}

// ui: the page's banner and composers (live.js). ws: the workspace's id.
export function onPlaceEvent(kind, data, ws, ui) {
  const d = data || {};
  const listing = document.querySelector("#cr-listing[data-live-folder]");
  if (listing) onListing(listing, kind, d, ui);
  const heading = document.querySelector("#cr-title[data-live-document]");
  if (heading) onDocument(heading, kind, d, ws, ui);
  if (document.getElementById("cr-trash") && TRASH_KINDS.includes(kind)) {
    fetchParts(here(), null);
    announce("The trash has changed.");
  }
}
