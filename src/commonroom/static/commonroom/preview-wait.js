// A preview still being prepared asks the server again until it is ready.
//
// The document page shows a pending preview as <div data-preview-wait="<fragment URL>">. The
// live preview.ready event normally brings the finished preview (live.js puts the fragment in
// place of this element). Should that event never reach the page (a socket down at the time, an
// event lost on the way), the fragment is fetched again here, on a modest schedule that slows
// down (1, 2, 3, 5, 8, 13, 20 s, then every 30 s) and gives up after ten minutes; it stops as
// soon as the preview is ready or failed, or the element has been replaced by the live event.

const DELAYS = [1, 2, 3, 5, 8, 13, 20];
const EVERY = 30;
const GIVE_UP_AFTER = 600;

function parse(html) {
  const tpl = document.createElement("template");
  tpl.innerHTML = html.trim();
  return tpl.content.firstElementChild;
}

function wait(el) {
  if (el.dataset.previewWaiting) return;
  el.dataset.previewWaiting = "true";
  const url = el.dataset.previewWait;
  let tries = 0;
  let waited = 0;

  const next = () => {
    const delay = tries < DELAYS.length ? DELAYS[tries] : EVERY;
    tries += 1;
    waited += delay;
    if (waited <= GIVE_UP_AFTER) setTimeout(check, delay * 1000);
  };

  const check = async () => {
    if (!el.isConnected) return; // the live event (or a newer fragment) replaced it
    try {
      const response = await fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
      // Gone, or signed out (sent to the sign-in page): nothing more to wait for here.
      if (response.status === 404 || response.status === 410 || response.redirected) return;
      if (response.ok) {
        const node = parse(await response.text());
        if (node && node.dataset.previewStatus !== "pending") {
          if (!el.isConnected) return;
          el.replaceWith(node);
          document.dispatchEvent(new CustomEvent("cr:placed", { detail: { node } }));
          return;
        }
      }
    } catch (_) {
      // Offline for now: the next try may reach the server.
    }
    next();
  };

  next();
}

export function waitForPreviews() {
  document.querySelectorAll("[data-preview-wait]").forEach(wait);
  // A pending preview put on the page later (a fragment placed live) waits too.
  document.addEventListener("cr:placed", (e) => {
    const node = e.detail && e.detail.node;
    if (node && node.matches && node.matches("[data-preview-wait]")) wait(node);
  });
}
