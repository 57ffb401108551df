// The signed-in session every module shares: who is signed in, the connection and its status,
// `call` for requests, and a small event hub so that modules react to each other without
// importing each other.

import { RequestError } from './connection.js';

export const session = {
  demo: false,
  me: null, // user ID
  userSig: null,
  conn: null, // Connection
  status: 'signed-out', // signed-out | connecting | online | reconnecting | expired | kicked
};

export function call(method, params) {
  if (!session.conn) return Promise.reject(new RequestError(method, -1, 'not signed in'));
  return session.conn.call(method, params);
}

export function setStatus(status) {
  session.status = status;
  document.body.dataset.conn = status;
  const dot = document.getElementById('conn-dot');
  dot.title = status;
  dot.setAttribute('aria-label', `Connection: ${status}`);
}

const hub = new EventTarget();

/** Tells every listener of `name`. */
export function emit(name, detail) {
  hub.dispatchEvent(new CustomEvent(name, { detail }));
}

export function on(name, listener) {
  hub.addEventListener(name, (event) => listener(event.detail));
}

/** URL parameters, for trying things out and for the browser tests. */
const query = new URLSearchParams(location.search);
export const intParam = (name, min, max, fallback) => {
  const value = Number.parseInt(query.get(name) ?? '', 10);
  return Number.isFinite(value) ? Math.min(max, Math.max(min, value)) : fallback;
};
export const param = (name) => query.get(name);
