// Signing in and staying signed in: the sign-in form (demo mode signs UserSigs for any name),
// login over a fresh connection, reconnecting with backoff and a countdown, and what an
// expired or refused UserSig means for the person.

import { authBanner, connBanner, showError } from './banners.js';
import { Connection, RequestError } from './connection.js';
import { $, el, isValidId } from './dom.js';
import { intParam, param, session, setStatus } from './session.js';

/** Demo mode only: lifetime of the UserSig asked for at sign-in, in seconds. */
const SIG_EXPIRE = param('expire') !== null ? intParam('expire', 1, 86400, 86400) : undefined;
const BACKOFF_INITIAL_MS = 500;
const BACKOFF_MAX_MS = 10000;
const BACK_BANNER_MS = 2500;
/** UserSig problems: codes the server answers a login with. */
const SIG_CODES = new Set([70001, 70002, 70003, 70009, 70013, 70014, 70052]);
const SAVED = 'tidings.session';

let hooks = { onPush() {}, onOnline() {}, onSignedIn() {}, onSignedOut() {} };
let attempt = 0;
let reconnectTimer = null;
let countdownTimer = null;
let holdReconnect = false; // test hook: keep the connection down

/** `onPush(event, data)`; `onOnline()` after every login (catch up); `onSignedIn()` once the
 * app shows; `onSignedOut()` to forget everything. */
export function configure(given) {
  hooks = { ...hooks, ...given };
}

/** The server marks the page it serves with data-demo="on" in demo mode. */
export function setupLoginMode(demoUsers, demoGroupName) {
  session.demo = document.body.dataset.demo === 'on';
  $('login-sig-field').hidden = session.demo;
  $('login-sig').required = !session.demo;
  $('demo-users').hidden = !session.demo;
  $('login-mode').textContent = session.demo
    ? `Demo mode: sign in as any user name; the server issues its UserSig. ${demoUsers.join(', ')} share the group “${demoGroupName}”.`
    : 'Enter your user ID and a UserSig for it (make one with `tidings usersig --user ID`).';
  if (session.demo) {
    const box = $('demo-users');
    box.replaceChildren(el('span', { text: 'Try:' }));
    for (const name of demoUsers) {
      box.append(el('button', { type: 'button', testid: `demo-user-${name}`, text: name, onclick: () => signIn(name, '') }));
    }
  }
}

async function demoSig(userID, expire) {
  const body = { userID };
  if (expire !== undefined) body.expire = expire;
  const response = await fetch('/demo/usersig', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new RequestError('demo/usersig', response.status, data.error || response.statusText);
  return data.userSig;
}

function loginError(text) {
  $('login-error').hidden = !text;
  $('login-error').textContent = text || '';
}

export async function signIn(userID, userSig) {
  userID = userID.trim();
  userSig = userSig.trim();
  loginError(null);
  if (!isValidId(userID)) {
    loginError('A user ID is 1 to 32 printable ASCII characters without spaces.');
    $('login-user').focus();
    return;
  }
  $('login-submit').disabled = true;
  try {
    if (session.demo && !userSig) userSig = await demoSig(userID, SIG_EXPIRE);
    if (!userSig) throw new RequestError('login', 70002, 'enter a UserSig');
    session.me = userID;
    session.userSig = userSig;
    setStatus('connecting');
    await connect();
    sessionStorage.setItem(SAVED, JSON.stringify({ userID, userSig: session.demo ? '' : userSig }));
    showApp();
    hooks.onSignedIn();
  } catch (error) {
    teardown();
    setStatus('signed-out');
    loginError(error instanceof RequestError ? `${error.code === -1 ? '' : `Error ${error.code}: `}${error.desc}` : String(error));
    showLogin();
    $(session.demo ? 'login-user' : 'login-sig').focus();
  } finally {
    $('login-submit').disabled = false;
  }
}

/** A saved session of this tab (a reload), or ?user= (and ?sig=) in the URL. */
export async function resume() {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(SAVED) || 'null');
  } catch {
    saved = null;
  }
  const user = param('user');
  if (saved && (!user || user === saved.userID) && (session.demo || saved.userSig)) {
    await signIn(saved.userID, saved.userSig || '');
  } else if (user) {
    $('login-user').value = user;
    if (session.demo || param('sig')) await signIn(user, param('sig') || '');
  }
}

/** Opens a connection and logs in; throws on failure (the caller decides what to show). */
async function connect() {
  if (session.conn) session.conn.close();
  const conn = new Connection({
    onPush: (event, data) => hooks.onPush(event, data),
    onClose: () => connectionLost(conn),
    onStray: (error) => showError(error),
  });
  session.conn = conn;
  await conn.open();
  await conn.call('login', { userID: session.me, userSig: session.userSig });
  setStatus('online');
  attempt = 0;
  authBanner(null);
  Promise.resolve(hooks.onOnline()).catch((error) => showError(error, 'catch-up after login'));
}

function teardown() {
  if (session.conn) session.conn.close();
  session.conn = null;
  stopReconnectTimers();
}

export function signOut() {
  if (session.conn && session.conn.isOpen) session.conn.call('logout').catch(() => {});
  teardown();
  setStatus('signed-out');
  sessionStorage.removeItem(SAVED);
  hooks.onSignedOut();
  const me = session.me;
  session.me = null;
  session.userSig = null;
  connBanner(null);
  authBanner(null);
  showLogin();
  if (me) $('login-user').value = me;
  $('login-user').focus();
}

function showLogin() {
  $('app').hidden = true;
  $('login-screen').hidden = false;
  if (session.me) $('login-user').value = session.me;
}

function showApp() {
  $('login-screen').hidden = true;
  $('app').hidden = false;
  $('me').textContent = session.me;
}

// ---------------------------------------------------------------------------------------
// Lost connection: banner, reconnect with backoff, catch-up.

function connectionLost(conn) {
  if (conn !== session.conn || ['signed-out', 'kicked', 'expired'].includes(session.status)) return;
  setStatus('reconnecting');
  scheduleReconnect();
}

function stopReconnectTimers() {
  clearTimeout(reconnectTimer);
  clearInterval(countdownTimer);
  reconnectTimer = null;
  countdownTimer = null;
}

function scheduleReconnect() {
  stopReconnectTimers();
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** attempt);
  const delay = base / 2 + Math.random() * (base / 2);
  attempt += 1;
  const due = Date.now() + delay;
  const tick = () => {
    const left = Math.max(0, Math.ceil((due - Date.now()) / 1000));
    connBanner(`Connection lost. Reconnecting in ${left} s (attempt ${attempt})…`, 'warn', true);
  };
  tick();
  countdownTimer = setInterval(tick, 500);
  reconnectTimer = setTimeout(reconnect, delay);
}

async function reconnect() {
  stopReconnectTimers();
  if (session.status !== 'reconnecting') return;
  if (holdReconnect) {
    connBanner('Connection lost. Waiting to reconnect…', 'warn', true);
    return;
  }
  connBanner('Connection lost. Reconnecting now…', 'warn');
  try {
    await connect();
    connBanner('Reconnected; caught up.', 'ok');
    setTimeout(() => {
      if (session.status === 'online') connBanner(null);
    }, BACK_BANNER_MS);
  } catch (error) {
    if (error instanceof RequestError && SIG_CODES.has(error.code)) {
      sigProblem(`The server refused the UserSig (error ${error.code}: ${error.desc}).`);
      return;
    }
    if (error instanceof RequestError && error.code !== -1) showError(error, 'login after reconnect');
    if (session.status === 'reconnecting') scheduleReconnect();
  }
}

export function retryNow() {
  if (session.status !== 'reconnecting') return;
  holdReconnect = false;
  reconnect();
}

export function sigProblem(text) {
  setStatus('expired');
  connBanner(null);
  teardown();
  authBanner(`${text} ${session.demo ? 'Sign in again to get a fresh one.' : 'Sign in again with a fresh UserSig.'}`);
}

export function kicked(reason) {
  setStatus('kicked');
  teardown();
  connBanner(null);
  authBanner(`Signed out by the server (onKickedOffline): ${reason || 'no reason given'}.`);
}

export async function renewSignIn() {
  if (session.status !== 'kicked' && session.status !== 'expired') return;
  if (!session.demo) {
    const me = session.me;
    signOut();
    $('login-user').value = me;
    loginError('Sign in again with a fresh UserSig.');
    return;
  }
  try {
    session.userSig = await demoSig(session.me);
    setStatus('connecting');
    await connect();
    authBanner(null);
  } catch (error) {
    teardown();
    setStatus('expired');
    showError(error, 'sign in again');
  }
}

/** Test hooks: cut the connection as a network failure would; with hold, until release(). */
export const debug = {
  dropConnection(hold = false) {
    holdReconnect = hold;
    if (session.conn && session.conn.ws) session.conn.ws.close(4000, 'dropped by tidingsDebug');
  },
  release() {
    holdReconnect = false;
    retryNow();
  },
};
