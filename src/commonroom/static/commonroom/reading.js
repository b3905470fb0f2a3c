// Read receipts (decision 26): the latest version counts as read once its preview has been on
// screen for the page's number of seconds: the tab visible (Page Visibility API: a background
// tab does not count) and the preview in sight (IntersectionObserver: scrolled away does not
// count). Then the page says so, once, with the token it was served with; the server checks
// the token is this person's and this version's, and that no more seconds are claimed than
// have passed since the page was served.

const THRESHOLDS = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1];

// Set while this page counts a reading: stopReading() ends it for good.
let stopCounting = null;

// The document went to the trash, or the person lost access to it (live.js): nothing more is
// counted or sent from this page, so no reading is claimed for a document no longer there to
// read (and none is sent to be refused). Reloading the page starts again.
export function stopReading() {
  if (stopCounting) stopCounting();
}

function csrfToken(box) {
  const field = box.querySelector('input[name="csrfmiddlewaretoken"]');
  return field ? field.value : "";
}

// Enough of the preview in sight to be read: a fifth of the screen's height, or all of it
// when it is shorter than that.
function inSight(entry) {
  if (!entry.isIntersecting) return false;
  const wanted = Math.min(entry.boundingClientRect.height, window.innerHeight / 5);
  return entry.intersectionRect.height >= wanted - 1;
}

export function startReading() {
  const box = document.getElementById("cr-reading");
  const section = document.querySelector(".cr-read");
  if (!box || !section || box.dataset.readingDone === "true") return;
  const status = box.querySelector("[data-reading-status]");
  const version = box.dataset.readingVersion;
  const needed = Number(box.dataset.readingSeconds) * 1000;
  let seen = false; // the preview in sight
  let shownMs = 0; // visible time counted so far
  let since = null; // when the current stretch of visible time began
  let timer = null;
  let sending = false;

  // The preview of this version is there to read (not "being prepared", not failed).
  const ready = () =>
    section.querySelector(`.cr-preview[data-version="${version}"] .cr-preview__body`) !== null;
  const counting = () => seen && document.visibilityState === "visible" && ready();

  function update() {
    const now = performance.now();
    if (since !== null) {
      shownMs += now - since;
      since = null;
    }
    clearTimeout(timer);
    if (shownMs >= needed) {
      send();
    } else if (counting()) {
      since = now;
      timer = setTimeout(update, needed - shownMs + 50);
    }
  }

  async function send() {
    if (sending || box.dataset.readingDone === "true" || box.dataset.readingStopped === "true") return;
    sending = true;
    try {
      const response = await fetch(box.dataset.readingUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(box) },
        body: JSON.stringify({
          token: box.dataset.readingToken,
          visible_seconds: Math.floor(shownMs / 1000),
        }),
      });
      if (response.ok) {
        box.dataset.readingDone = "true";
        status.textContent = `You have read version ${version}.`;
        observer.disconnect();
        changes.disconnect();
        return;
      }
      const body = await response.json().catch(() => null);
      box.dataset.readingDone = "true"; // refused for good (a sentence says why): not resent
      status.textContent = (body && typeof body.detail === "string")
        ? body.detail
        : "Your reading could not be recorded.";
    } catch {
      sending = false; // the network: tried again at the next change of visibility
    }
  }

  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) seen = inSight(entry);
    update();
  }, { threshold: THRESHOLDS });
  observer.observe(section);
  // The preview arrives later (static/commonroom/preview-wait.js puts it in place).
  const changes = new MutationObserver(update);
  changes.observe(section, { childList: true, subtree: true });
  document.addEventListener("visibilitychange", update);
  stopCounting = () => {
    box.dataset.readingStopped = "true";
    clearTimeout(timer);
    observer.disconnect();
    changes.disconnect();
    document.removeEventListener("visibilitychange", update);
  };
}

// Who has read it (managers and editors): the list is fetched again when the page comes back
// to the front, and every half minute while it is there, unless someone is using it (focus in
// it). A background tab asks nothing.
const READERS_EVERY_MS = 30_000;

export function followReaders() {
  if (!document.getElementById("readers")) return;
  let timer = null;

  async function refresh() {
    clearTimeout(timer);
    const section = document.getElementById("readers");
    if (!section || document.visibilityState !== "visible") return;
    timer = setTimeout(refresh, READERS_EVERY_MS);
    if (section.contains(document.activeElement)) return;
    try {
      const response = await fetch(section.dataset.readersUrl, {
        headers: { "HX-Request": "true" },
        credentials: "same-origin",
      });
      if (!response.ok) return;
      const fresh = new DOMParser()
        .parseFromString(await response.text(), "text/html")
        .getElementById("readers");
      if (fresh && !section.contains(document.activeElement)) section.replaceWith(fresh);
    } catch {
      // The network: the next turn tries again.
    }
  }

  document.addEventListener("visibilitychange", refresh);
  if (document.visibilityState === "visible") timer = setTimeout(refresh, READERS_EVERY_MS);
}
