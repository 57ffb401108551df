// The web chat's entry point: wires the page's controls to the modules, dispatches pushes,
// keeps the open conversation in the address (#c2c_bob, #group_demo: reload restores it, and
// on a phone the back button returns to the list), and starts the session.

import { showError } from './banners.js';
import * as chat from './chat.js';
import { RequestError } from './connection.js';
import * as conversations from './conversations.js';
import { $, isValidId } from './dom.js';
import { closeMembers } from './members.js';
import * as people from './people.js';
import { wireProfile } from './profile.js';
import * as receipts from './receipts.js';
import { on, session } from './session.js';
import * as signin from './signin.js';

/** Browsers cannot send WebSocket pings: after this long without a frame, ask something cheap. */
const HEARTBEAT_IDLE_MS = 25000;
/** A heartbeat unanswered for this long means a dead connection (e.g. after sleep). */
const HEARTBEAT_TIMEOUT_MS = 10000;
const HEARTBEAT_CHECK_MS = 5000;
/** The demo users and group the server seeds in demo mode (crates/server/src/web.rs). */
const DEMO_USERS = ['alice', 'bob', 'carol', 'dave'];
const DEMO_GROUP_NAME = 'Demo group';

// ---------------------------------------------------------------------------------------
// Routing: the address names the open conversation.

let ready = Promise.resolve(); // the first catch-up after sign-in
let openedFromList = false;

const routeId = () => decodeURIComponent(location.hash.slice(1));
const isConversationId = (id) => /^(c2c|group)_[\x21-\x7e]{1,32}$/.test(id);

function showView() {
  document.body.dataset.view = chat.openId() ? 'chat' : 'list';
}

function route() {
  if (session.status === 'signed-out') return;
  const id = routeId();
  if (isConversationId(id)) chat.openConversation(id);
  else chat.closeChat();
  showView();
}

function navigate(id) {
  openedFromList = true;
  if (routeId() === id) route();
  else location.hash = id;
}

function back() {
  if (openedFromList) {
    openedFromList = false;
    history.back();
  } else {
    history.replaceState(null, '', location.pathname + location.search);
    route();
  }
}

/** After sign-in: the conversation in the address, when it still makes sense to show. */
async function restoreRoute() {
  await ready;
  const id = routeId();
  if (!isConversationId(id)) {
    showView();
    return;
  }
  const known = conversations.conversationOf(id);
  const keep = (known && !known.placeholder) || id.startsWith('group_') || (await people.userExists(id.slice(4))) === true;
  if (keep) route();
  else {
    history.replaceState(null, '', location.pathname + location.search);
    showView();
  }
}

/** The top bar: the signed-in person as everywhere else (name and avatar, the ID beside a
 * nickname). */
function renderMe() {
  if (!session.me) return;
  const nick = people.hasNick(session.me);
  $('me-name').textContent = people.nameOf(session.me);
  $('me-id').hidden = !nick;
  $('me-avatar').replaceChildren(people.avatar({ userID: session.me, size: 'sm' }));
}

on('people-changed', renderMe);
wireProfile();
window.addEventListener('hashchange', route);
on('open-conversation', navigate);

// ---------------------------------------------------------------------------------------
// Pushes.

function leftGroup(groupID, why) {
  const id = `group_${groupID}`;
  const conv = conversations.conversationOf(id);
  const name = conv ? conversations.titleOf(conv) : groupID;
  conversations.remove(id);
  chat.stopFollowing(id);
  if (chat.openId() === id) back();
  showError(new RequestError('group', -1, `${why} ${name}`), 'group');
}

function onPush(event, data) {
  switch (event) {
    case 'onRecvNewMessage':
      return chat.onNewMessage(data);
    case 'onConversationChanged':
    case 'onNewConversation':
      return conversations.setConversations(data);
    case 'onTotalUnreadMessageCountChanged':
      return conversations.setTotalUnread(data);
    case 'onRecvMessageReadReceipts':
      return receipts.applyReceipts(data);
    case 'onRecvC2CReadReceipt':
      // Conversation-level: it clears unread counts, but a label says "Read" only for a
      // message the peer saw on screen (its message-level receipt).
      return undefined;
    case 'onRecvMessageRevoked':
      return chat.onRevoked(data);
    case 'onMessageReceiptsSent':
      return receipts.sentElsewhere(data.messageIDList || []);
    case 'onUserSigExpired':
      return signin.sigProblem('Your UserSig expired (onUserSigExpired).');
    case 'onKickedOffline':
      return signin.kicked(data.reason);
    case 'onMemberEnter':
    case 'onMemberInvited':
      people.learn(data.memberList);
      if ((data.memberList || []).some((m) => m.userID === session.me)) conversations.scheduleReload();
      return undefined;
    case 'onMemberLeave':
      if (data.member && data.member.userID === session.me) leftGroup(data.groupID, 'You left');
      return undefined;
    case 'onMemberKicked':
      if ((data.memberList || []).some((m) => m.userID === session.me)) leftGroup(data.groupID, 'You were removed from');
      return undefined;
    case 'onGroupDismissed':
      return leftGroup(data.groupID, 'Dismissed:');
    default:
      return console.debug('tidings: push', event, data);
  }
}

/** Reloads everything the pushes may have missed: conversations, the open chat, receipts. */
async function catchUp() {
  chat.caughtUp(await conversations.loadConversations());
  await chat.reloadOpenChat();
  receipts.flushReceipts();
  chat.rescanVisible();
}

signin.configure({
  onPush,
  onOnline() {
    ready = catchUp();
    return ready;
  },
  onSignedIn() {
    renderMe();
    restoreRoute().then(() => {
      // Focus where the person continues: the open chat's composer, else the list.
      const first = document.querySelector('[data-testid="conv-item"]');
      if (chat.openId()) $('composer-input').focus();
      else if (first) first.focus();
      else $('new-chat-input').focus();
    }).catch((error) => showError(error, 'open conversation'));
  },
  onSignedOut() {
    closeMembers();
    chat.closeChat();
    chat.forget();
    conversations.forget();
    receipts.forget();
    people.forget();
    history.replaceState(null, '', location.pathname + location.search);
    showView();
  },
});

// ---------------------------------------------------------------------------------------
// Controls.

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  signin.signIn($('login-user').value, $('login-sig').value);
});
$('logout').addEventListener('click', signin.signOut);
$('conn-retry').addEventListener('click', signin.retryNow);
$('auth-renew').addEventListener('click', signin.renewSignIn);
$('chat-back').addEventListener('click', back);
$('new-chat').addEventListener('submit', async (event) => {
  event.preventDefault();
  const id = $('new-chat-input').value.trim();
  if (!isValidId(id)) {
    showError(new RequestError('chat', 7003, `invalid user ID ${JSON.stringify(id)}: 1 to 32 printable ASCII characters without spaces`), 'start chat');
    return;
  }
  if ((await people.userExists(id)) === false) {
    showError(new RequestError('chat', 20003, `there is no user ${id} on this server`), 'start chat');
    return;
  }
  $('new-chat-input').value = '';
  navigate(`c2c_${id}`);
  $('composer-input').focus();
});
$('composer').addEventListener('submit', (event) => {
  event.preventDefault();
  chat.send();
});
$('composer-input').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    chat.send();
  }
});
const toggle = $('receipt-toggle');
toggle.checked = localStorage.getItem('tidings.requestReceipts') !== 'false';
toggle.addEventListener('change', () => localStorage.setItem('tidings.requestReceipts', String(toggle.checked)));
$('load-older').addEventListener('click', chat.loadOlder);
$('message-list').addEventListener('scroll', () => {
  if ($('message-list').scrollTop < 40) chat.loadOlder();
});
$('new-below').addEventListener('click', chat.scrollToNewest);
window.addEventListener('online', signin.retryNow);

// Heartbeat: detects connections that died without a close (sleep, network change).
setInterval(() => {
  const conn = session.conn;
  if (session.status !== 'online' || !conn || Date.now() - conn.lastFrameAt < HEARTBEAT_IDLE_MS) return;
  conn.lastFrameAt = Date.now();
  conn.call('getConversationList', { nextSeq: 0, count: 1 }, HEARTBEAT_TIMEOUT_MS).catch((error) => {
    if (error.code === -1 && conn === session.conn) conn.abandon();
  });
}, HEARTBEAT_CHECK_MS);

// Test and debugging hooks (the browser tests use them to cut the connection on purpose).
window.tidingsDebug = { state: session, ...signin.debug };

signin.setupLoginMode(DEMO_USERS, DEMO_GROUP_NAME);
showView();
signin.resume();
