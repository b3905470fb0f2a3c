// @mention suggestions for every textarea[data-mentions="<url of the candidates JSON>"]: typing
// "@" lists members under the field (the first 8; each letter after it narrows the list), a
// WAI-ARIA combobox with a listbox; arrow keys move, Enter or Tab picks ("@<handle> " is
// inserted: the address's first part, unique among the members, which shows as the person's
// name once sent), Escape closes.

let counter = 0;

function wordBeforeCaret(field) {
  // The "@handle" being typed just before the caret, or null.
  const upto = field.value.slice(0, field.selectionStart);
  const match = /(^|[\s(])@([^\s@]*)$/.exec(upto);
  if (!match) return null;
  return { query: match[2], start: upto.length - match[2].length - 1 };
}

function setUp(field) {
  const url = field.dataset.mentions;
  if (!url || field.dataset.mentionsReady) return;
  field.dataset.mentionsReady = "1";
  counter += 1;
  const listId = `mentions-${counter}`;
  const list = document.createElement("ul");
  list.id = listId;
  list.className = "cr-mentions";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "People to mention");
  list.hidden = true;
  field.insertAdjacentElement("afterend", list);
  const status = document.createElement("span");
  status.className = "nhsuk-u-visually-hidden";
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  list.insertAdjacentElement("afterend", status);

  field.setAttribute("role", "combobox");
  field.setAttribute("aria-autocomplete", "list");
  field.setAttribute("aria-controls", listId);
  field.setAttribute("aria-expanded", "false");

  let people = [];
  let active = -1;
  let typed = null;
  let asked = 0;

  function close() {
    list.hidden = true;
    list.replaceChildren();
    people = [];
    active = -1;
    field.setAttribute("aria-expanded", "false");
    field.removeAttribute("aria-activedescendant");
  }

  function highlight(index) {
    active = index;
    Array.from(list.children).forEach((option, i) => {
      option.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    if (index >= 0) {
      const option = list.children[index];
      field.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      field.removeAttribute("aria-activedescendant");
    }
  }

  function pick(index) {
    const person = people[index];
    if (!person || !typed) return;
    const before = field.value.slice(0, typed.start);
    const after = field.value.slice(field.selectionStart);
    const inserted = `@${person.handle} `;
    field.value = before + inserted + after;
    const caret = before.length + inserted.length;
    field.setSelectionRange(caret, caret);
    close();
    status.textContent = `${person.name} mentioned.`;
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.focus();
  }

  function show(found) {
    people = found;
    list.replaceChildren();
    found.forEach((person, i) => {
      const option = document.createElement("li");
      option.id = `${listId}-${i}`;
      option.className = "cr-mentions__option";
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      const name = document.createElement("span");
      name.textContent = person.name;
      option.append(name);
      if (!person.handle.includes("@")) {
        // What will be typed ("@priya"), never an address: it shows as the name once sent.
        const handle = document.createElement("span");
        handle.className = "cr-mentions__handle";
        handle.textContent = `@${person.handle}`;
        option.append(handle);
      }
      if (person.guest) {
        // An external guest is marked as one, with their domain: a name alone can mislead.
        const tag = document.createElement("span");
        tag.className = "nhsuk-tag nhsuk-tag--yellow cr-guest";
        tag.textContent = `Guest · ${person.guest}`;
        option.append(tag);
      }
      // mousedown, not click: the field keeps its focus and caret.
      option.addEventListener("mousedown", (e) => { e.preventDefault(); pick(i); });
      list.append(option);
    });
    if (!found.length) {
      close();
      status.textContent = "No member matches.";
      return;
    }
    list.hidden = false;
    field.setAttribute("aria-expanded", "true");
    highlight(0);
    status.textContent = `${found.length} ${found.length === 1 ? "person" : "people"} found: use the arrow keys, then Enter.`;
  }

  async function lookUp() {
    typed = wordBeforeCaret(field);
    // "@" alone lists the first members; each letter after it narrows the list.
    if (!typed || !/^[\w.+-]*$/.test(typed.query)) { asked += 1; close(); return; }
    const ask = ++asked;
    try {
      const u = new URL(url, window.location.href);
      u.searchParams.set("q", typed.query);
      const response = await fetch(u, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok || ask !== asked) return;
      const found = await response.json();
      if (ask === asked) show(Array.isArray(found) ? found : []);
    } catch (_) {
      close();
    }
  }

  field.addEventListener("input", lookUp);
  field.addEventListener("keydown", (e) => {
    if (list.hidden || !people.length) return;
    if (e.key === "ArrowDown") {
      e.preventDefault();
      highlight((active + 1) % people.length);
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      highlight((active - 1 + people.length) % people.length);
    } else if (e.key === "Enter" || e.key === "Tab") {
      if (active >= 0) { e.preventDefault(); pick(active); }
    } else if (e.key === "Escape") {
      e.preventDefault();
      close();
    }
  });
  field.addEventListener("blur", () => { window.setTimeout(close, 150); });
}

export function initMentions(root = document) {
  root.querySelectorAll("textarea[data-mentions]").forEach(setUp);
}

// Fields that arrive later (a thread replaced by a live update) get the same behaviour. Only
// what was added is looked at: the page changes often (live items, suggestions, search results).
export function watchMentions(root = document.body) {
  initMentions(root);
  new MutationObserver((records) => {
    records.forEach((record) => record.addedNodes.forEach((node) => {
      if (!(node instanceof Element)) return;
      if (node.matches("textarea[data-mentions]")) setUp(node);
      else initMentions(node);
    }));
  }).observe(root, { childList: true, subtree: true });
}
