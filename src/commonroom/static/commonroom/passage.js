// A passage of the preview ("Read" on the document page), as comments and suggestions name it:
// its block (an element with id "p-<n>" inside the preview) and character offsets in that
// block's text, counted as the browser counts them (UTF-16 units of its textContent).

export const BLOCK = '[id^="p-"]';
export const MAX_QUOTE = 500;

export function previewBody() {
  return document.querySelector(".cr-preview__body");
}

export function blockOf(node) {
  const el = node && (node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement);
  const block = el && el.closest(BLOCK);
  const body = previewBody();
  return block && body && body.contains(block) && /^p-[0-9]{1,6}$/.test(block.id) ? block : null;
}

export function offsetIn(block, node, offset) {
  const range = document.createRange();
  range.selectNodeContents(block);
  range.setEnd(node, offset);
  return range.toString().length;
}
