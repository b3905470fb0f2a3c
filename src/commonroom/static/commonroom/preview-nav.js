// Moving around a preview ("Read" on the document page) from the keyboard.
//
// - The contents' links (headings, pages: previews/outline.py) move the focus to the block they
//   lead to, not just the view, so Tab and a screen reader go on from there.
// - In paragraph mode ("Comment on a paragraph", anchors.js: one Tab stop a paragraph), the up
//   and down arrow keys move to the previous and next paragraph too.
// - A table wider than its box (a spreadsheet's sheet, a wide table of a document) says so above
//   it, shows a shadow at the side there is more to see (app.css), and can be focused and
//   scrolled with the arrow keys; it is named by its sheet's title.

import { BLOCK, blockOf, previewBody } from "./passage.js";

function jump(e) {
  const link = e.target instanceof Element ? e.target.closest("a[data-preview-jump]") : null;
  if (!link) return;
  const target = document.getElementById(link.getAttribute("href").slice(1));
  if (!target) return;
  if (!target.hasAttribute("tabindex")) {
    target.setAttribute("tabindex", "-1");
    target.addEventListener("blur", () => {
      if (target.getAttribute("tabindex") === "-1") target.removeAttribute("tabindex");
    }, { once: true });
  }
  target.classList.add("cr-jumped");
  // After the browser has followed the link (the address says where one is, :target marks it).
  setTimeout(() => target.focus({ preventScroll: true }), 0);
}

function paragraphKeys(e) {
  if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
  if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
  const here = e.target instanceof Element ? e.target : null;
  if (!here || !here.matches(BLOCK) || here.getAttribute("tabindex") !== "0" || blockOf(here) !== here) return;
  const body = previewBody();
  if (!body) return;
  const stops = Array.from(body.querySelectorAll(`${BLOCK}[tabindex="0"]`));
  const next = stops[stops.indexOf(here) + (e.key === "ArrowDown" ? 1 : -1)];
  if (!next) return;
  e.preventDefault();
  next.focus();
}

let hintCount = 0;
function markWide() {
  const body = previewBody();
  if (!body) return;
  const boxes = Array.from(body.querySelectorAll("div.cr-preview-table, table"))
    .filter((el) => !(el.tagName === "TABLE" && el.parentElement && el.parentElement.matches("div.cr-preview-table")));
  boxes.forEach((box) => {
    const wide = box.scrollWidth > box.clientWidth + 1;
    const hint = box.previousElementSibling && box.previousElementSibling.matches(".cr-scroll-hint")
      ? box.previousElementSibling : null;
    if (!wide) {
      if (box.classList.contains("cr-scrolls")) {
        box.classList.remove("cr-scrolls");
        ["tabindex", "aria-label", "aria-describedby", "role"].forEach((a) => box.removeAttribute(a));
        if (hint) hint.remove();
      }
      return;
    }
    if (box.classList.contains("cr-scrolls")) return;
    const section = box.closest("section");
    const title = section && section.querySelector("h1, h2, h3, h4, h5, h6");
    const name = title && title.textContent.trim() ? title.textContent.trim() : "Table";
    const note = document.createElement("p");
    note.className = "cr-scroll-hint";
    note.id = `cr-scroll-hint-${++hintCount}`;
    note.textContent = "Wider than the screen: scroll sideways, or select it and use the arrow keys.";
    box.before(note);
    box.classList.add("cr-scrolls");
    box.setAttribute("tabindex", "0");
    if (box.tagName !== "TABLE") box.setAttribute("role", "region");
    box.setAttribute("aria-label", `${name} (scrolls sideways)`);
    box.setAttribute("aria-describedby", note.id);
  });
}

let pending = null;
function markWideSoon() {
  clearTimeout(pending);
  pending = setTimeout(markWide, 100);
}

export function startPreviewNav() {
  document.addEventListener("click", jump);
  document.addEventListener("keydown", paragraphKeys);
  markWide();
  window.addEventListener("resize", markWideSoon);
  document.addEventListener("cr:placed", (e) => {
    const node = e.detail && e.detail.node;
    if (node && node.querySelector && node.querySelector(".cr-preview__body")) markWide();
  });
}
