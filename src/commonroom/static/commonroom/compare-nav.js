// Compare versions: "Previous change" and "Next change" step through the comparison's changes
// (each element the page marks data-change: a paragraph added, removed, changed or moved, a
// slide added or removed, a row added or removed, a changed cell), one after another, saying
// where one is ("Change 3 of 14") in a polite live region. The change reached is scrolled into
// view and focused (so a screen reader reads it, and Tab goes on from there). A change inside
// another (a paragraph of an added slide) is part of it, not a stop of its own. Without
// JavaScript the bar stays hidden: the comparison is one page to read down.

function stops(root) {
  const all = Array.from(root.querySelectorAll("[data-change]"));
  return all.filter((el) => !(el.parentElement && el.parentElement.closest("[data-change]")));
}

export function startCompareNav() {
  const nav = document.querySelector("[data-compare-nav]");
  if (!nav) return;
  const changes = stops(document.querySelector("main") || document.body);
  const count = nav.querySelector("[data-compare-count]");
  const previous = nav.querySelector('[data-compare-step="-1"]');
  const next = nav.querySelector('[data-compare-step="1"]');
  if (!changes.length || !count || !previous || !next) return;
  let at = -1;
  const total = changes.length;
  const plural = total === 1 ? "change" : "changes";
  count.textContent = `${total.toLocaleString("en-GB")} ${plural}`;

  function show() {
    previous.disabled = at <= 0;
    next.disabled = at >= total - 1;
    count.textContent = `Change ${at + 1} of ${total.toLocaleString("en-GB")}`;
  }

  function go(step) {
    const target = Math.min(total - 1, Math.max(0, at + step));
    changes.forEach((el) => el.classList.remove("cr-compare-current"));
    at = target;
    const el = changes[at];
    el.classList.add("cr-compare-current");
    if (!el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
    el.focus({ preventScroll: true });
    // Below the sticky bar, not under it.
    const barHeight = nav.getBoundingClientRect().height;
    const top = el.getBoundingClientRect().top + window.scrollY - barHeight - 16;
    window.scrollTo({ top: Math.max(0, top), behavior: "instant" });
    show();
  }

  previous.addEventListener("click", () => go(-1));
  next.addEventListener("click", () => go(1));
  previous.disabled = true;
  nav.hidden = false;
}
