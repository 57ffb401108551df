// What the page says about problems: error toasts (a refused request, with its code), the
// connection banner (lost, reconnecting, back) and the sign-in banner (UserSig refused).
// Nothing is swallowed: every failure reaches one of them or the console.

import { $, el } from './dom.js';
import { RequestError } from './connection.js';
import { session } from './session.js';

const TOAST_MS = 15000;

export function showError(error, context) {
  const code = error instanceof RequestError ? error.code : -1;
  const desc = error instanceof RequestError ? error.desc : String(error && error.message ? error.message : error);
  const method = error instanceof RequestError ? error.method : '';
  console.warn('tidings:', context || method, code, desc);
  // A request cut off by a lost connection: the banner says so, and the catch-up after the
  // reconnect redoes the background work. Only the user's own sends are reported.
  if (code === -1 && session.status !== 'online' && session.status !== 'connecting' && context !== 'send') return;
  const toast = el('div', { class: 'toast', testid: 'error-toast', role: 'alert', 'data-code': code },
    el('span', { class: 'code', text: code === -1 ? 'Error' : `Error ${code}` }),
    ` ${context || method}: ${desc}`,
    el('button', { type: 'button', 'aria-label': 'Dismiss', text: '×', onclick: () => toast.remove() }));
  $('errors').append(toast);
  setTimeout(() => toast.remove(), TOAST_MS);
}

/** The connection banner; `null` hides it. */
export function connBanner(text, kind = 'warn', retry = false) {
  const banner = $('conn-banner');
  banner.hidden = text === null;
  if (text === null) return;
  banner.className = `banner ${kind === 'ok' ? 'banner-ok' : kind === 'error' ? 'banner-error' : ''}`;
  banner.dataset.kind = kind;
  $('conn-banner-text').textContent = text;
  $('conn-retry').hidden = !retry;
}

/** The sign-in banner; `null` hides it. */
export function authBanner(text) {
  $('auth-banner').hidden = text === null;
  if (text !== null) $('auth-banner-text').textContent = text;
}
