// Live updates and the message composer.
//
// The socket: a workspace page carries <meta name="cr-live" content="<workspace id>"
// data-after="<last event id the page shows>">. Events carry ids and facts only (the API's
// clients get the same ones); from them this script derives the list on the page
// (data-live-list), the item's element and the URL of its fragment, which is fetched as this
// person sees it (the server checks their access again) and put in place. Renames, moves and the
// trash are places.js's. A dropped connection comes back with ?after=<last id seen>, so the
// server replays exactly what was missed, in order.
//
// The composer (form[data-composer]): Enter or Send posts; the message shows at once as
// "Sending…"; it is kept in an outbox in localStorage until the server has it, so a message typed
// offline is sent on reconnect. Each message has a client key the server stores once, so a
// resend never posts it twice.

const meta = document.querySelector('meta[name="cr-live"]');
const me = meta ? meta.dataset.user : null;
// One outbox per person: on a shared computer nobody else's unsent words are shown or sent.
const OUTBOX = `cr-outbox:${me || "nobody"}`;
let lastId = meta ? Number(meta.dataset.after || 0) : 0;
let socket = null;
// Reconnecting: a random wait up to a ceiling that starts at 1 s and doubles to 3 s ("full
// jitter"), so a page is back within seconds of the server (or its Redis) and a thousand pages
// do not all knock at once. 1013 ("try again later", Redis unreachable) is retried the same way.
const RETRY_FIRST = 1000;
const RETRY_CAP = 3000;
let retryCeiling = RETRY_FIRST;
let retryTimer = null;
let closedForGood = false;

import { onPlaceEvent } from "./places.js";
import { stopReading } from "./reading.js";

// A client key: the server stores each message (live.js) and each upload (app.js) once.
export function newKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

// The connection's state in words, in a line held at the top of the screen wherever the page
// is scrolled (app.css: .cr-live-status), said by screen readers as it changes: nothing while
// live; "Offline — …" when the browser says there is no network; "Reconnecting…" while the
// socket comes back.
let connectionWords = "";

function setStatus(text) {
  connectionWords = text;
  document.querySelectorAll("[data-live-status]").forEach((el) => {
    el.textContent = text;
    el.hidden = !text;
  });
}

function offlineWords() {
  const what = document.querySelector('[data-live-list^="conversation:"]') ? "message" : "comment";
  return `Offline — your ${what} will be sent when you are back`;
}

function showConnection() {
  if (closedForGood) return;
  if (!navigator.onLine) setStatus(offlineWords());
  else if (socket && socket.readyState === WebSocket.OPEN) setStatus("");
  else setStatus("Reconnecting…");
}

function statusLine() {
  if (!meta || document.querySelector("[data-live-status]")) return;
  const line = document.createElement("p");
  line.className = "cr-live-status nhsuk-body-s";
  line.dataset.liveStatus = "";
  line.setAttribute("role", "status");
  line.setAttribute("aria-live", "polite");
  line.hidden = true;
  document.body.prepend(line);
}

function banner(text, offerReload = false) {
  let box = document.getElementById("cr-live-banner");
  if (!box) {
    box = document.createElement("div");
    box.id = "cr-live-banner";
    box.className = "nhsuk-inset-text cr-live-banner";
    box.setAttribute("role", "status");
    const main = document.getElementById("maincontent") || document.body;
    main.prepend(box);
  }
  const words = document.createElement("p");
  words.textContent = text;
  box.replaceChildren(words);
  if (offerReload) {
    const again = document.createElement("button");
    again.type = "button";
    again.className = "nhsuk-button nhsuk-button--secondary nhsuk-button--small";
    again.textContent = "Reload the page";
    again.addEventListener("click", () => location.reload());
    box.append(again);
  }
}

// The page's CSRF token, from any of its forms (the cookie is HttpOnly).
function csrfToken() {
  const field = document.querySelector('input[name="csrfmiddlewaretoken"]');
  return field ? field.value : "";
}

// --- Putting fetched items in place ------------------------------------------------------

function parseItem(html) {
  const tpl = document.createElement("template");
  tpl.innerHTML = html.trim();
  return tpl.content.firstElementChild;
}

// What a person is in the middle of inside an item (a reply being typed, an open "Reply") must
// survive the item being replaced by a newer copy.
function carryOver(from, to) {
  from.querySelectorAll("textarea[id]").forEach((old) => {
    const fresh = to.querySelector(`#${CSS.escape(old.id)}`);
    if (!fresh) return;
    fresh.value = old.value;
    const details = fresh.closest("details");
    if (details && old.closest("details") && old.closest("details").open) details.open = true;
  });
  const focused = document.activeElement;
  const refocus = focused && focused.id && from.contains(focused) ? focused.id : null;
  return refocus;
}

function place(node, listKey, pendingKey) {
  if (!node) return null;
  const pending = pendingKey ? document.getElementById(`pending-${pendingKey}`) : null;
  const existing = node.id ? document.getElementById(node.id) : null;
  if (existing) {
    const refocus = carryOver(existing, node);
    existing.replaceWith(node);
    if (refocus) {
      const again = document.getElementById(refocus);
      if (again) again.focus();
    }
    if (pending) pending.remove();
  } else if (pending) {
    pending.replaceWith(node);
  } else {
    const list = listKey ? findList(listKey) : null;
    if (!list) return null;
    const atBottom = window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 160;
    if (list.dataset.liveOrder === "newest-first") list.prepend(node);
    else list.append(node);
    // Reading the latest messages, like a messaging app: follow the new one down.
    if (atBottom && list.dataset.liveOrder !== "newest-first") node.scrollIntoView({ block: "nearest" });
  }
  node.querySelectorAll("form[data-composer]").forEach(setUpComposer);
  document.dispatchEvent(new CustomEvent("cr:placed", { detail: { node } }));
  return node;
}

function findList(key) {
  return Array.from(document.querySelectorAll("[data-live-list]")).find((el) => el.dataset.liveList === key) || null;
}

// Where an event's item goes on a page and where its fragment is, from the event's ids: the
// list that holds it, the element that shows it, the URL of its fragment. These follow the
// templates and urls.py (comments/_thread.html, conversations/_message.html and _row.html,
// previews/_preview.html).
function itemOf(kind, d) {
  const ws = meta.content;
  if (kind === "comment.created" || kind === "comment.updated") {
    return { list: `document:${d.document}`, target: `thread-${d.thread}`, url: `/w/${ws}/d/${d.document}/comments/${d.thread}/` };
  }
  if (kind === "message.created" || kind === "message.updated") {
    return { list: `conversation:${d.conversation}`, target: `message-${d.message}`, url: `/w/${ws}/c/${d.conversation}/m/${d.message}/` };
  }
  if (kind === "conversation.created" || kind === "conversation.updated") {
    return { list: `conversations:${ws}`, target: `conversation-${d.conversation}`, url: `/w/${ws}/c/${d.conversation}/row/` };
  }
  if (kind.startsWith("suggestion.")) {
    return { list: `suggestions:${d.document}`, target: `suggestion-${d.suggestion}`, url: `/w/${ws}/d/${d.document}/suggestions/${d.suggestion}/` };
  }
  if (kind.startsWith("approval.")) {
    return { list: `approvals:${d.document}`, target: `approval-${d.request}`, url: `/w/${ws}/d/${d.document}/approvals/${d.request}/` };
  }
  if (kind === "preview.ready") {
    return { list: `preview:${d.document}`, target: `preview-${d.document}`, url: `/w/${ws}/d/${d.document}/v/${d.number}/preview/` };
  }
  return null;
}

async function refresh(kind, data) {
  const item = itemOf(kind, data);
  if (!item) return;
  const list = findList(item.list);
  const existing = document.getElementById(item.target);
  if (!list && !existing) return;
  const response = await fetch(item.url, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
  if (response.status === 404 || response.status === 410) {
    if (existing) existing.remove();
    return;
  }
  if (!response.ok || response.redirected) return;
  place(parseItem(await response.text()), item.list, data.client_key);
}

// Every item of an API list, following its pages' `next` links ([] if any page fails).
async function allPages(url) {
  const items = [];
  let next = url;
  while (next) {
    const response = await fetch(next, { credentials: "same-origin" });
    if (!response.ok) return [];
    const page = await response.json();
    items.push(...page.items);
    next = page.next;
  }
  return items;
}

// A member's name from their id (the workspace's members, asked once per page).
let members = null;

async function personName(id) {
  if (!members) {
    members = allPages(`/api/v1/workspaces/${meta.content}/members?limit=200`).catch(() => []);
  }
  const found = (await members).find((m) => String(m.user_id) === String(id));
  if (!found) members = null; // someone new: ask again next time
  return found ? found.full_name || found.email : "Someone";
}

// Whether this page already shows the version an event announces: its document's
// [data-document-version] (the latest version when the page was drawn) is that number or later.
// A page drawn after the upload, then told of it by a replay, has nothing to reload.
function pageShows(d) {
  const el = Array.from(document.querySelectorAll("[data-document-version]")).find(
    (x) => x.dataset.document === String(d.document),
  );
  return Boolean(el) && Number(el.dataset.documentVersion) >= Number(d.number);
}

async function versionNotice(d) {
  const who = await personName(d.author_id);
  const name = d.name || "this document";
  const what = d.restored_from
    ? `restored version ${d.restored_from} as version ${d.number} of ${name}`
    : `uploaded version ${d.number} of ${name}`;
  banner(`${who} ${what}. Reload to see it.`, true);
}

// An unread count: the number sits in [data-unread="<key>"], inside a badge hidden at zero.
function showCount(el, n) {
  el.textContent = String(n);
  const badge = el.closest(".cr-unread, .cr-badge") || el;
  badge.hidden = n === 0;
}

function bumpUnread(key, by) {
  document.querySelectorAll("[data-unread]").forEach((el) => {
    if (el.dataset.unread === key) showCount(el, Math.max(0, Number(el.textContent || 0) + by));
  });
}

function onEvent(message) {
  const data = message.data || {};
  const mine = String(data.author_id ?? data.actor_id) === String(me);
  if (message.kind === "message.created" && !mine) {
    if (findList(`conversation:${data.conversation}`) && document.visibilityState === "visible") {
      // Read on this screen as it arrives: it does not count as unread later.
      fetch(`/api/v1/workspaces/${meta.content}/conversations/${data.conversation}/read`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken() },
      }).catch(() => {});
    } else {
      // Unread markers for conversations not open on this screen.
      bumpUnread(`conversation:${data.conversation}`, 1);
      bumpUnread(`conversations:${meta.content}`, 1);
    }
  }
  if (message.kind === "version.created" && !mine && findList(`document:${data.document}`) && !pageShows(data)) {
    versionNotice(data).catch(() => {});
  }
  onPlaceEvent(message.kind, data, meta.content, { banner, closeComposers });
  if (message.kind === "comment.passages") {
    refreshThreads(data).catch(() => {});
    return;
  }
  refresh(message.kind, data).catch(() => {});
  if (message.kind.startsWith("suggestion.") && data.thread && document.getElementById(`thread-${data.thread}`)) {
    // The suggestion's thread in the Comments list shows its state too (suggestions/_thread_part.html).
    refresh("comment.updated", { document: data.document, thread: data.thread }).catch(() => {});
  }
}

// Threads whose passages were looked for in a new version: each one on this page is fetched
// again (one at a time: a long document may list many), and says where its passage is now.
async function refreshThreads(d) {
  if (d.more && findList(`document:${d.document}`)) {
    // Too many to fetch one by one: the page as a whole is out of date.
    banner(`Comments on this document were placed on version ${d.number}. Reload to see where each one is now.`, true);
    return;
  }
  const ids = [...(d.found || []), ...(d.changed || []), ...(d.unchecked || [])];
  for (const thread of ids) {
    if (document.getElementById(`thread-${thread}`)) {
      await refresh("comment.updated", { document: d.document, thread });
    }
  }
}

function onNudge(message) {
  if (message.kind === "access" && message.data && String(message.data.workspace) === String(meta.content)) {
    // A manager changed this person's role here: what the page offers may be out of date.
    banner(`Your role in this workspace is now ${message.data.role}. Reload to see what you can do.`, true);
    return;
  }
  if (message.kind === "notifications" && message.data && "unread" in message.data) {
    document.querySelectorAll('[data-unread="notifications"]').forEach((el) => {
      showCount(el, Number(message.data.unread));
    });
  }
}

// --- The socket -------------------------------------------------------------------------------

function connect() {
  if (!meta || closedForGood) return;
  clearTimeout(retryTimer);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // A workspace's pages follow its events; other pages only their person's nudges.
  const path = meta.content ? `/ws/w/${meta.content}/?after=${lastId}` : "/ws/me/";
  socket = new WebSocket(`${scheme}://${location.host}${path}`);
  socket.addEventListener("open", () => {
    retryCeiling = RETRY_FIRST;
    showConnection();
    document.documentElement.dataset.live = "open";
    flushOutbox();
  });
  socket.addEventListener("message", (e) => {
    let message;
    try { message = JSON.parse(e.data); } catch (_) { return; }
    if (message.type === "event") {
      if (message.id <= lastId) return;
      lastId = message.id;
      onEvent(message);
    } else if (message.type === "nudge") {
      onNudge(message);
    } else if (message.type === "reset") {
      lastId = message.id;
      banner("This page missed too many changes while offline. Reload it to see the latest.");
    }
  });
  socket.addEventListener("close", (e) => {
    document.documentElement.dataset.live = "closed";
    // 4403: no access to the workspace; 4401: this browser's session was signed out (here, on
    // another device, or by a password change). Reconnecting would be refused: stop, say why.
    if (e.code === 4403 || e.code === 4401) {
      closedForGood = true;
      setStatus("Not live");
      const text = e.code === 4401
        ? "You were signed out, so this page stopped showing changes. Reload the page to sign in again."
        : "You no longer have access to this workspace, or you were signed out. Reload the page.";
      banner(text, true);
      closeComposers(text);
      return;
    }
    showConnection();
    // 1013 may come just after the socket opened (which starts the ceiling again): wait up to
    // the cap, not the first step, so an outage is not knocked on twice a second.
    const ceiling = e.code === 1013 ? RETRY_CAP : retryCeiling;
    retryTimer = setTimeout(connect, Math.random() * ceiling);
    retryCeiling = Math.min(retryCeiling * 2, RETRY_CAP);
  });
}

window.addEventListener("online", () => {
  if (!socket || socket.readyState === WebSocket.CLOSED) connect();
  showConnection();
  flushOutbox();
});
window.addEventListener("offline", showConnection);

// --- The composer and its outbox ---------------------------------------------------------------

function readOutbox() {
  try { return JSON.parse(localStorage.getItem(OUTBOX) || "[]"); } catch (_) { return []; }
}

function writeOutbox(items) {
  try { localStorage.setItem(OUTBOX, JSON.stringify(items)); } catch (_) { /* private mode: no outbox */ }
}

function pendingNode(item, statusText) {
  const node = document.createElement("article");
  node.id = `pending-${item.key}`;
  node.className = "cr-item cr-item--pending";
  node.setAttribute("aria-label", "Your message, not yet sent");
  const text = document.createElement("p");
  text.className = "cr-item__body";
  text.textContent = item.body;
  const status = document.createElement("p");
  status.className = "cr-item__status nhsuk-body-s";
  status.setAttribute("role", "status");
  status.textContent = statusText;
  node.append(text, status);
  return node;
}

function showPending(form, item, statusText) {
  if (document.getElementById(`pending-${item.key}`)) {
    setPendingStatus(item.key, statusText);
    return;
  }
  const node = pendingNode(item, statusText);
  const insideList = form.closest("[data-live-list] > *");
  // The list the form names (data-list); else the last list before the form on the page.
  const before = Array.from(document.querySelectorAll("[data-live-list]")).filter(
    (el) => el.compareDocumentPosition(form) & Node.DOCUMENT_POSITION_FOLLOWING,
  );
  const list = form.dataset.list ? findList(form.dataset.list) : before[before.length - 1] || null;
  if (insideList) {
    (form.closest("details") || form).before(node);
  } else if (list) {
    if (list.dataset.liveOrder === "newest-first") list.prepend(node);
    else list.append(node);
  } else {
    form.before(node);
  }
  node.scrollIntoView({ block: "nearest" });
}

function setPendingStatus(key, text, failed) {
  const node = document.getElementById(`pending-${key}`);
  if (!node) return;
  node.querySelector(".cr-item__status").textContent = text;
  node.classList.toggle("cr-item--failed", Boolean(failed));
}

const sending = new Set();

async function send(item) {
  if (sending.has(item.key)) return;
  sending.add(item.key);
  const data = new FormData();
  Object.entries(item.fields).forEach(([name, value]) => data.append(name, value));
  data.set("body", item.body);
  data.set("client_key", item.key);
  try {
    const response = await fetch(item.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "HX-Request": "true", "X-CSRFToken": item.fields.csrfmiddlewaretoken || "" },
    });
    if (response.redirected || response.status === 401) {
      setPendingStatus(item.key, "Not sent yet: you were signed out. Sign in again in another tab; it will be sent then.");
      return;
    }
    if (response.ok) {
      writeOutbox(readOutbox().filter((i) => i.key !== item.key));
      const node = place(parseItem(await response.text()), item.list, item.key);
      if (node) {
        node.dataset.sent = "true";
        const note = document.getElementById("cr-composer-announce");
        if (note) note.textContent = "Sent";
      }
      const left = document.getElementById(`pending-${item.key}`);
      if (left) left.remove();
      return;
    }
    if (response.status >= 500) {
      setPendingStatus(item.key, "Not sent yet: the server is busy. Trying again…");
      return;
    }
    // Refused (400, 403, 404, 409...): say why and give the text back; it is not retried.
    writeOutbox(readOutbox().filter((i) => i.key !== item.key));
    setPendingStatus(item.key, `Not sent: ${await refusal(response)}`, true);
    giveBack(item);
  } catch (_) {
    setPendingStatus(item.key, "Waiting for a connection: it will be sent when you are back online.");
  } finally {
    sending.delete(item.key);
  }
}

// Why the server refused, in words: its own short message, never an error page's markup.
async function refusal(response) {
  const type = response.headers.get("Content-Type") || "";
  const text = type.startsWith("text/plain") ? (await response.text()).trim().slice(0, 300) : "";
  if (response.status === 404) {
    return "this is no longer available to you (it was removed, or you were removed from the workspace).";
  }
  if (response.status === 403) return text || "your role here does not let you post.";
  return text || `the server refused it (${response.status}).`;
}

// A refused message's text goes back into its composer (if that is empty) to be corrected.
function giveBack(item) {
  const form = Array.from(document.querySelectorAll("form[data-composer]")).find((f) => f.action === item.action);
  const box = form && form.querySelector("textarea[name='body']");
  if (box && !box.value.trim()) {
    box.value = item.body;
    box.focus();
  }
}

// Access lost (removed, signed out) or the document gone to the trash: composers cannot send
// any more, and say so where the person is looking; no reading is counted any more either.
function closeComposers(text) {
  stopReading();
  document.querySelectorAll("form[data-composer]").forEach((form) => {
    form.querySelectorAll("textarea, button, select, input").forEach((el) => { el.disabled = true; });
    if (!form.querySelector(".cr-composer__closed")) {
      const note = document.createElement("p");
      note.className = "cr-composer__closed nhsuk-body-s";
      note.textContent = text;
      form.prepend(note);
    }
  });
}

function flushOutbox() {
  readOutbox().filter((i) => i.page === location.pathname).forEach((item) => send(item));
}

// Drafts: what is typed in a composer and not yet sent is kept in localStorage, per person,
// page (the document or the conversation) and composer (a thread's reply, the foot), so a reload
// or a lost tab gives it back; sending (or signing out) clears it.
const DRAFTS = `cr-draft:${me || "nobody"}:`;

function draftKey(form) {
  return `${DRAFTS}${location.pathname}|${new URL(form.action, location.href).pathname}`;
}

function keepDraft(form, text) {
  try {
    if (text.trim()) localStorage.setItem(draftKey(form), text);
    else localStorage.removeItem(draftKey(form));
  } catch (_) { /* private mode: no drafts */ }
}

function restoreDraft(form, box) {
  let text = null;
  try { text = localStorage.getItem(draftKey(form)); } catch (_) { return; }
  if (!text || box.value.trim()) return;
  box.value = text;
  // A reply's composer folded away in its thread is opened, so the draft is seen.
  const fold = form.closest("details");
  if (fold) fold.open = true;
}

function setUpComposer(form) {
  const box = form.querySelector("textarea[name='body']");
  if (!box || form.dataset.composerReady) return;
  form.dataset.composerReady = "1";
  restoreDraft(form, box);
  box.addEventListener("input", () => keepDraft(form, box.value));
  box.addEventListener("keydown", (e) => {
    // Enter sends, Shift+Enter starts a new line; while @mention suggestions are open, Enter
    // picks one instead.
    const choosing = box.getAttribute("aria-expanded") === "true";
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !e.defaultPrevented && !choosing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = box.value.trim();
    if (!body) {
      box.focus();
      return;
    }
    const fields = {};
    for (const el of form.elements) {
      if (el.name && el.name !== "body" && el.name !== "client_key" && el.type !== "submit") fields[el.name] = el.value;
    }
    const item = { key: newKey(), action: form.action, body, fields, page: location.pathname, list: form.dataset.list || "" };
    writeOutbox([...readOutbox(), item]);
    showPending(form, item, navigator.onLine ? "Sending…" : "Waiting for a connection: it will be sent when you are back online.");
    box.value = "";
    keepDraft(form, "");
    box.focus();
    send(item);
  });
}

// Signing out empties the outbox: unsent words do not stay behind on a shared computer.
function forgetOnSignOut() {
  try { localStorage.removeItem("cr-outbox"); } catch (_) { /* an older, shared key */ }
  document.querySelectorAll('form[data-sign-out]').forEach((form) => {
    form.addEventListener("submit", () => {
      try {
        localStorage.removeItem(OUTBOX);
        Object.keys(localStorage).filter((k) => k.startsWith(DRAFTS)).forEach((k) => localStorage.removeItem(k));
      } catch (_) { /* private mode */ }
    });
  });
}

export function startLive() {
  forgetOnSignOut();
  const forms = document.querySelectorAll("form[data-composer]");
  forms.forEach(setUpComposer);
  statusLine();
  if (!navigator.onLine) showConnection();
  if (forms.length && !document.getElementById("cr-composer-announce")) {
    const note = document.createElement("p");
    note.id = "cr-composer-announce";
    note.className = "nhsuk-u-visually-hidden";
    note.setAttribute("aria-live", "polite");
    document.body.append(note);
  }
  // Messages left in the outbox by an earlier visit to this page: show them and send them.
  const firstForm = forms[0];
  readOutbox().filter((i) => i.page === location.pathname).forEach((item) => {
    const form = Array.from(forms).find((f) => f.action === item.action) || firstForm;
    if (form) showPending(form, item, "Sending…");
  });
  // The composer at the foot of a phone screen: what the keyboard focuses scrolls clear of it,
  // however tall it grows (see .cr-composer in app.css).
  const foot = Array.from(forms).find((f) => !f.closest(".cr-thread"));
  if (foot && "ResizeObserver" in window) {
    new ResizeObserver(() => {
      document.documentElement.style.setProperty("--cr-composer-h", `${foot.offsetHeight}px`);
    }).observe(foot);
  }
  // A conversation opens at its latest message (unless a link points at one).
  if (!location.hash && document.querySelector('[data-live-list^="conversation:"]')) {
    window.scrollTo(0, document.documentElement.scrollHeight);
  }
  connect();
  flushOutbox();
  setInterval(flushOutbox, 10000);
}
