// DOM helpers shared by every module of the web chat: element lookup and creation, and the
// live region that announces what changed to screen readers.

export const $ = (id) => document.getElementById(id);

/** Creates an element: `class`, `text`, `testid`, `on…` listeners, other keys as attributes. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'testid') node.dataset.testid = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

/** How many announcements the live region keeps (older ones were read out already). */
const LIVE_KEPT = 5;

/** Says `text` through the polite live region (new messages, receipt changes). */
export function announce(text) {
  const live = $('live');
  live.append(el('p', { text }));
  while (live.childElementCount > LIVE_KEPT) live.firstElementChild.remove();
}

export const isValidId = (id) => /^[\x21-\x7e]{1,32}$/.test(id);
