// The open chat: its history (newest page first, older pages on scroll), messages grouped by
// day, what the person has seen (at least half on screen while attentive: receipts, the
// "new messages" button, and marking the conversation read once its newest message was seen),
// receipt labels, and the composer.

import { attentive, onAttentionChange } from './attention.js';
import { showError } from './banners.js';
import { bubbleOf, textOf } from './content.js';
import { $, announce, el } from './dom.js';
import * as conversations from './conversations.js';
import { openMembers } from './members.js';
import { MessageOrder, conversationIdOf } from './ordering.js';
import { avatar, groupInfo, hasNick, learn, learnGroup, learnSender, nameOf } from './people.js';
import * as receipts from './receipts.js';
import { call, intParam, on, session } from './session.js';
import { clockTime, dayKey, dayLabel, fullDate } from './time.js';

/** Page size of history requests (scroll back). */
const HISTORY_PAGE = intParam('historyPage', 1, 100, 20);
const MARK_READ_DELAY_MS = 250;
/** Messages of one sender this close together form a run, drawn without repeated headers. */
const RUN_SECONDS = 300;

let open = null; // the open chat, see openConversation()
const drafts = new Map(); // conversationID -> unsent text
let markTimer = null;
let markPending = null; // the chat a scheduled mark-as-read is for

const observer = new IntersectionObserver(onIntersect, { root: $('message-list'), threshold: [0, 0.5, 1] });

conversations.setActiveView(() => (open ? { id: open.id, caughtUp: open.caughtUp } : null));

export const openId = () => (open ? open.id : null);

// ---------------------------------------------------------------------------------------
// Opening and closing.

export function closeChat() {
  flushMarkRead();
  if (open) {
    drafts.set(open.id, $('composer-input').value);
    conversations.dropIfEmpty(open.id);
  }
  observer.disconnect();
  open = null;
  $('messages').replaceChildren();
  updateNewBelow();
  $('chat-pane').hidden = true;
  $('chat-placeholder').hidden = false;
  conversations.render();
}

export function openConversation(id) {
  if (open && open.id === id) return;
  const previous = open;
  const conv = conversations.ensureConversation(id);
  flushMarkRead();
  if (previous) drafts.set(previous.id, $('composer-input').value);
  $('composer-input').value = drafts.get(id) || '';
  observer.disconnect();
  open = {
    id,
    userID: conv.userID,
    groupID: conv.groupID,
    messages: new Map(), // msgID -> Message
    elements: new Map(), // msgID -> element
    finished: false,
    loadingOlder: false,
    newestId: null, // msgID of the newest message loaded
    caughtUp: false, // the newest message has been seen
    seenUpTo: null, // { seq, timestamp } of the newest stored message seen
    markedSeq: 0, // the read position this page set last
    unseenBelow: new Set(), // others' messages that arrived below the fold, not seen yet
  };
  if (previous) conversations.dropIfEmpty(previous.id);
  $('chat-placeholder').hidden = true;
  $('chat-pane').hidden = false;
  $('chat-pane').dataset.convId = id;
  renderHeader();
  $('messages').replaceChildren();
  $('history-start').hidden = true;
  $('load-older').hidden = false;
  updateNewBelow();
  // Self chat: nobody can read it, so there is nothing to ask for.
  $('receipt-toggle').disabled = !conv.groupID && conv.userID === session.me;
  conversations.render();
  const opened = open;
  reloadOpenChat(opened).catch((error) => showError(error, 'open conversation'));
}

function renderHeader() {
  if (!open) return;
  const conv = conversations.conversationOf(open.id) || conversations.placeholder(open.id);
  $('chat-title').textContent = conversations.titleOf(conv);
  $('chat-avatar').replaceChildren(avatar(open.groupID ? { groupID: open.groupID } : { userID: open.userID }));
  let subtitle;
  if (open.groupID) {
    const count = groupInfo(open.groupID)?.memberCount;
    subtitle = `Group ${open.groupID}${count ? ` · ${count} members` : ''}`;
  } else if (open.userID === session.me) {
    subtitle = 'Notes to yourself';
  } else {
    subtitle = hasNick(open.userID) ? `@${open.userID}` : '';
  }
  $('chat-subtitle').textContent = subtitle;
}

/** Loads the newest history page (on open and after a reconnect), receipts and names. */
export async function reloadOpenChat(chat = open) {
  if (!chat) return;
  const page = await fetchHistory(chat);
  if (open !== chat) return;
  const newest = page.slice().reverse();
  const known = [...chat.messages.values()];
  const maxKnown = known.reduce((max, m) => Math.max(max, m.seq || 0), 0);
  // After a gap (missed more than a page), start over from the newest page.
  if (known.length && newest.length && newest[0].seq > maxKnown + 1) {
    chat.messages.clear();
    chat.elements.clear();
    chat.newestId = null;
    chat.unseenBelow.clear();
    observer.disconnect();
    $('messages').replaceChildren();
  }
  if (!known.length || !chat.messages.size) setFinished(chat, page.length < HISTORY_PAGE);
  addMessages(chat, newest, { scrollToEnd: true });
  if (chat.groupID) {
    loadGroupMembers(chat);
    await receipts.fetchGroupReceipts(chat.groupID, [...chat.messages.values()]);
  }
  rescanVisible();
  fillScreen(chat);
}

/** History that does not fill the list cannot be scrolled back: load older pages until it
 * does, or until the start of the conversation. */
function fillScreen(chat) {
  const list = $('message-list');
  if (open === chat && !chat.finished && list.scrollHeight <= list.clientHeight) loadOlder();
}

async function loadGroupMembers(chat) {
  try {
    const result = await call('getGroupMemberList', { groupID: chat.groupID, filter: 0, nextSeq: 0, count: 100 });
    learn(result.memberInfoList);
    const [info] = await call('getGroupsInfo', { groupIDList: [chat.groupID] });
    if (info && info.groupInfo) learnGroup(chat.groupID, { name: info.groupInfo.groupName, memberCount: info.groupInfo.memberCount });
    if (open === chat) renderHeader();
  } catch (error) {
    showError(error, 'group members');
  }
}

/** A history page of the conversation of `where` (the open chat, or a message). */
function fetchHistory(where, lastMsgID, count = HISTORY_PAGE) {
  const params = { count };
  if (lastMsgID) params.lastMsgID = lastMsgID;
  return where.groupID
    ? call('getGroupHistoryMessageList', { groupID: where.groupID, ...params })
    : call('getC2CHistoryMessageList', { userID: where.userID, ...params });
}

function setFinished(chat, finished) {
  chat.finished = finished;
  $('load-older').hidden = finished;
  $('history-start').hidden = !finished;
}

export async function loadOlder() {
  const chat = open;
  if (!chat || chat.finished || chat.loadingOlder) return;
  const oldest = sortedMessages(chat)[0];
  if (!oldest) return;
  chat.loadingOlder = true;
  try {
    const page = await fetchHistory(chat, oldest.msgID);
    if (open !== chat) return;
    const list = $('message-list');
    const before = list.scrollHeight - list.scrollTop;
    addMessages(chat, page.slice().reverse(), {});
    list.scrollTop = list.scrollHeight - before; // keep the view where it was
    setFinished(chat, page.length < HISTORY_PAGE);
    if (chat.groupID) await receipts.fetchGroupReceipts(chat.groupID, page);
  } catch (error) {
    showError(error, 'load older messages');
    return;
  } finally {
    chat.loadingOlder = false;
  }
  fillScreen(chat);
}

// ---------------------------------------------------------------------------------------
// Messages.

const sortedMessages = (chat) => [...chat.messages.values()].sort(compareMessages);

function compareMessages(a, b) {
  // seq numbers a conversation without gaps; online-only messages (seq 0) go last.
  const sa = a.seq || Number.MAX_SAFE_INTEGER;
  const sb = b.seq || Number.MAX_SAFE_INTEGER;
  return sa - sb || a.timestamp - b.timestamp;
}

function nearBottom() {
  const list = $('message-list');
  return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
}

/** Adds or updates messages of the open chat, in seq order, with day separators. */
function addMessages(chat, messages, { live = false, scrollToEnd = false } = {}) {
  const stick = scrollToEnd || nearBottom();
  let ownSent = false;
  for (const msg of messages) {
    const existing = chat.messages.get(msg.msgID);
    if (existing) {
      existing.receiptPeerRead = existing.receiptPeerRead || msg.receiptPeerRead;
      existing.hasSentReceipt = existing.hasSentReceipt || msg.hasSentReceipt || receipts.wasReceipted(msg.msgID);
      existing.isRead = existing.isRead || msg.isRead;
      updateLabel(existing);
      continue;
    }
    if (receipts.wasReceipted(msg.msgID)) msg.hasSentReceipt = true;
    learnSender(msg);
    receipts.expectCounts(msg);
    chat.messages.set(msg.msgID, msg);
    const node = renderMessage(chat, msg);
    chat.elements.set(msg.msgID, node);
    insertInOrder(chat, msg, node);
    observer.observe(node);
    if (live && msg.isSelf) ownSent = true;
    const newest = chat.newestId && chat.messages.get(chat.newestId);
    if (!newest || compareMessages(msg, newest) > 0) {
      chat.newestId = msg.msgID;
      chat.caughtUp = false;
      if (live && !msg.isSelf && !stick) chat.unseenBelow.add(msg.msgID);
    }
  }
  renderDaySeparators(chat);
  updateNewBelow();
  if (stick || ownSent) {
    const list = $('message-list');
    list.scrollTop = list.scrollHeight;
  }
}

function insertInOrder(chat, msg, node) {
  const container = $('messages');
  let after = null;
  for (const child of container.children) {
    const other = chat.messages.get(child.dataset.msgId);
    if (other && compareMessages(msg, other) < 0) {
      after = child;
      break;
    }
  }
  container.insertBefore(node, after);
}

/** One separator before the first message of each local day; a message that follows one of
 * the same sender within a few minutes continues it (no repeated name, time or avatar). */
function renderDaySeparators(chat) {
  const container = $('messages');
  for (const old of container.querySelectorAll('.day-separator')) old.remove();
  let lastDay = null;
  let previous = null;
  for (const node of [...container.children]) {
    const msg = chat.messages.get(node.dataset.msgId);
    if (!msg) continue;
    const day = dayKey(msg.timestamp);
    if (day !== lastDay) {
      container.insertBefore(el('div', { class: 'day-separator', testid: 'day-separator', role: 'separator', 'data-day': new Date(day).toISOString() },
        el('span', { text: dayLabel(msg.timestamp) })), node);
      lastDay = day;
      previous = null;
    }
    const continues = previous !== null && previous.sender === msg.sender && msg.timestamp - previous.timestamp < RUN_SECONDS;
    node.classList.toggle('cont', continues);
    previous = msg;
  }
}

function renderMessage(chat, msg) {
  const showSender = !msg.isSelf && Boolean(chat.groupID);
  const node = el('div', {
    class: `msg${msg.isSelf ? ' self' : ''}`,
    testid: 'message',
    'data-msg-id': msg.msgID,
    'data-seq': msg.seq,
    'data-self': msg.isSelf ? 'true' : 'false',
    'data-need-receipt': msg.needReadReceipt ? 'true' : 'false',
  },
  msg.isSelf ? null : avatar({ userID: msg.sender, size: 'sm' }),
  el('div', { class: 'msg-body' },
    el('div', { class: 'msg-meta' },
      showSender ? el('span', { class: 'msg-sender', testid: 'message-sender', 'data-user-id': msg.sender, text: nameOf(msg.sender) }) : null,
      el('time', { testid: 'message-time', datetime: new Date(msg.timestamp * 1000).toISOString(), title: fullDate(msg.timestamp), text: clockTime(msg.timestamp) })),
    bubbleOf(msg)));
  node.querySelector('.bubble').title = fullDate(msg.timestamp);
  updateLabel(msg, node);
  return node;
}

function updateLabel(msg, node = open && open.elements.get(msg.msgID)) {
  if (!node) return;
  const label = receipts.labelOf(msg);
  const body = node.querySelector('.msg-body');
  let current = node.querySelector('[data-testid="receipt-label"]');
  if (!label) {
    if (current) current.remove();
    return;
  }
  if (!current) {
    current = msg.groupID
      ? el('button', { type: 'button', class: 'receipt', testid: 'receipt-label', title: 'Who has read it', onclick: (event) => openMembers(msg, event.currentTarget) })
      : el('span', { class: 'receipt', testid: 'receipt-label' });
    body.append(current);
  }
  current.textContent = label.text;
  current.dataset.state = label.state;
}

/** Names and pictures changed: redraw what shows them. */
on('people-changed', () => {
  conversations.render();
  if (!open) return;
  renderHeader();
  for (const node of $('messages').querySelectorAll('[data-testid="message-sender"]')) node.textContent = nameOf(node.dataset.userId);
  for (const node of $('messages').querySelectorAll('.msg [data-testid="avatar"]')) {
    const userID = node.dataset.key;
    node.replaceWith(avatar({ userID, size: 'sm' }));
  }
});

on('receipts-changed', (changed) => {
  if (!open) return;
  for (const receipt of changed) {
    const msg = open.messages.get(receipt.msgID);
    if (!msg) continue;
    updateLabel(msg);
    const label = receipts.labelOf(msg);
    if (label) announce(`Your message “${textOf(msg).slice(0, 60)}”: ${label.text}`);
  }
});

on('receipts-sent', (ids) => {
  if (!open) return;
  for (const id of ids) {
    const msg = open.messages.get(id);
    if (msg) msg.hasSentReceipt = true;
  }
});

/** New messages reach the page in each conversation's order, each once, gaps filled from
 * history (ordering.js). */
const order = new MessageOrder({
  history: (before, count) => fetchHistory(before, before.msgID, count),
  release: showNewMessage,
});

/** A pushed message. */
export const onNewMessage = (msg) => order.offer(msg);

/** The conversation list after a login: what it and the reloaded chat show is not new. */
export const caughtUp = (list) => order.catchUp(list);

/** A group left: its messages are no longer followed. */
export const stopFollowing = (id) => order.forget(id);

/** A new message, in its place: into the open chat when it belongs there, and into the list. */
function showNewMessage(msg) {
  const id = conversationIdOf(msg);
  // A message just sent carries its sender's profile as it is now: newer than what the page
  // learnt before (history carries what was sent then, and is not taken over a known one).
  if (msg.nickName || msg.faceURL) learn([{ userID: msg.sender, nickName: msg.nickName, faceURL: msg.faceURL }]);
  learnSender(msg);
  if (open && open.id === id) addMessages(open, [msg], { live: true });
  conversations.noteMessage(msg);
  if (!msg.isSelf) {
    const where = msg.groupID ? ` in ${conversations.titleOf(conversations.conversationOf(id))}` : '';
    announce(`New message from ${nameOf(msg.sender)}${where}: ${textOf(msg).slice(0, 120)}`);
  }
}

/** `onRecvMessageRevoked`: the open chat shows the message as recalled, as history will. */
export function onRevoked({ msgID }) {
  const msg = open && open.messages.get(msgID);
  const node = open && open.elements.get(msgID);
  if (!msg || !node) return;
  Object.assign(msg, { isRevoked: true, status: 6, textElem: undefined, customElem: undefined, msgBody: undefined });
  node.querySelector('.bubble').replaceWith(bubbleOf(msg));
}

// ---------------------------------------------------------------------------------------
// Seen: receipts, the "new messages" button, conversation-level read.

function onIntersect(entries) {
  // Not looked at: nothing is seen now; what is on screen is reported when attention returns.
  if (!attentive()) return;
  const root = $('message-list');
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    const enough = entry.intersectionRatio >= 0.5 || entry.intersectionRect.height >= root.clientHeight / 2;
    if (enough) sawMessage(entry.target.dataset.msgId);
  }
}

/** A message was on screen while the page had the person's attention. */
function sawMessage(msgID) {
  const msg = open && open.messages.get(msgID);
  if (!msg) return;
  if (!msg.seen) {
    msg.seen = true;
    const node = open.elements.get(msgID);
    if (node) node.dataset.seen = 'true';
    open.unseenBelow.delete(msgID);
    updateNewBelow();
  }
  receipts.considerReceipt(open.id, msg);
  // The read position follows what was seen, up to the newest stored message seen so far.
  if (msg.seq > 0 && (!open.seenUpTo || msg.seq > open.seenUpTo.seq)) {
    open.seenUpTo = { seq: msg.seq, timestamp: msg.timestamp };
    scheduleMarkRead();
  }
  if (open.newestId === msgID && !open.caughtUp) {
    open.caughtUp = true;
    conversations.render();
  }
}

/** Re-checks every message element (after reconnects and when attention returns). */
export function rescanVisible() {
  if (!open) return;
  for (const node of open.elements.values()) {
    observer.unobserve(node);
    observer.observe(node);
  }
}

/** The "new messages" button: others' messages that arrived below the fold, unseen yet. */
function updateNewBelow() {
  const button = $('new-below');
  const count = open ? open.unseenBelow.size : 0;
  button.hidden = count === 0;
  button.textContent = count === 1 ? '1 new message ↓' : `${count} new messages ↓`;
}

export function scrollToNewest() {
  const list = $('message-list');
  list.scrollTop = list.scrollHeight;
}

function markRead(chat = open) {
  if (chat === markPending) {
    clearTimeout(markTimer);
    markPending = null;
  }
  // No attention check here: the messages were seen, even when the window lost the focus
  // during the short wait for this request.
  if (!chat || !chat.seenUpTo || session.status !== 'online') return;
  const upTo = chat.seenUpTo;
  if (chat.markedSeq >= upTo.seq) return;
  const conv = conversations.conversationOf(chat.id);
  // Up to the newest message seen, not "everything now": one that arrived since stays unread.
  // C2C: the sequence is exact; a time alone would also take a message stored later in the
  // same second, before this request arrived.
  const request = call('cleanConversationUnreadMessageCount', chat.groupID
    ? { conversationID: chat.id, cleanSequence: upTo.seq }
    : { conversationID: chat.id, cleanTimestamp: upTo.timestamp, cleanSequence: upTo.seq });
  request.then(() => {
    chat.markedSeq = Math.max(chat.markedSeq, upTo.seq);
  }).catch((error) => {
    // A C2C chat with a user who never wrote to us has nothing to mark: 20003 is expected there.
    if (!(error.code === 20003 && !conv?.lastMessage)) showError(error, 'mark as read');
  });
}

/** Marks the open chat read shortly (one request for a burst of messages). */
function scheduleMarkRead() {
  const chat = open;
  if (markPending && markPending !== chat) markRead(markPending);
  clearTimeout(markTimer);
  markPending = chat;
  markTimer = setTimeout(() => markRead(chat), MARK_READ_DELAY_MS);
}

/** Leaving a chat: a pending mark-as-read for it is sent now, not dropped. */
function flushMarkRead() {
  if (markPending) markRead(markPending);
}

onAttentionChange((now) => {
  conversations.render();
  if (now) rescanVisible();
});

// ---------------------------------------------------------------------------------------
// Sending.

export async function send() {
  const chat = open;
  const input = $('composer-input');
  const text = input.value.trim();
  if (!chat || !text) return;
  const selfChat = !chat.groupID && chat.userID === session.me;
  const params = {
    textElem: { text },
    needReadReceipt: $('receipt-toggle').checked && !selfChat,
    random: Math.floor(Math.random() * 0xffffffff),
  };
  if (chat.groupID) params.groupID = chat.groupID;
  else params.receiver = chat.userID;
  input.value = '';
  try {
    order.offer(await call('sendMessage', params));
  } catch (error) {
    if (!input.value) input.value = text; // give the text back to retry
    showError(error, 'send');
    if (error.code === 20003 && !chat.groupID) noSuchUser(chat);
  }
}

/** A C2C chat with a user the server does not know: said so, and not kept in the list. */
function noSuchUser(chat) {
  const conv = conversations.conversationOf(chat.id);
  if (conv && !conv.lastMessage) conversations.remove(chat.id);
  if (open === chat) $('chat-subtitle').textContent = `There is no user ${chat.userID} on this server`;
}

export function forget() {
  order.clear();
  drafts.clear();
  clearTimeout(markTimer);
  markPending = null;
  $('composer-input').value = '';
}
