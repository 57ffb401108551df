// The conversation list: loading it, keeping it current from pushes, and drawing it (avatar,
// name, last message, time, unread badge, the open one marked current); and the total unread
// count in the top bar and the tab's title.

import { attentive } from './attention.js';
import { textOf } from './content.js';
import { $, el } from './dom.js';
import { conversationIdOf } from './ordering.js';
import { avatar, fetchProfiles, groupName, learn, learnGroup, nameOf } from './people.js';
import { call, emit } from './session.js';
import { fullDate, listTime } from './time.js';
import { showError } from './banners.js';

let conversations = new Map(); // conversationID -> Conversation
let reloadTimer = null;
/** The open chat as the list needs it: `{ id, caughtUp }` or null. Set by the chat. */
let activeView = () => null;

export const setActiveView = (provider) => {
  activeView = provider;
};
export const conversationOf = (id) => conversations.get(id);

/**
 * An orderKey above every conversation's: the server's orderKeys are its activity numbers (larger
 * is more recent, not a time), so new local activity goes above all of them until the server's
 * own number for it arrives with onConversationChanged.
 */
function nextOrderKey() {
  let top = 0;
  for (const conv of conversations.values()) top = Math.max(top, conv.orderKey || 0);
  return top + 1;
}

/** A conversation the server did not list (yet): opened by hand, or a first message. */
export function placeholder(id, msg) {
  const group = id.startsWith('group_');
  const key = id.slice(group ? 6 : 4);
  return {
    conversationID: id,
    type: group ? 2 : 1,
    userID: group ? undefined : key,
    groupID: group ? key : undefined,
    showName: key,
    unreadCount: 0,
    lastMessage: msg || null,
    orderKey: nextOrderKey(),
    placeholder: !msg,
  };
}

export function ensureConversation(id) {
  let conv = conversations.get(id);
  if (!conv) {
    conv = placeholder(id);
    conversations.set(id, conv);
    render();
  }
  return conv;
}

/** Drops a conversation opened by hand that never got a message (left, or no such user). */
export function dropIfEmpty(id) {
  const conv = conversations.get(id);
  if (conv && conv.placeholder && !conv.lastMessage) {
    conversations.delete(id);
    render();
  }
}

export function remove(id) {
  conversations.delete(id);
  render();
}

/** Loads the whole list; returns the server's conversations. */
export async function loadConversations() {
  const fresh = new Map();
  let nextSeq = 0;
  for (let page = 0; page < 1000; page += 1) {
    const result = await call('getConversationList', { nextSeq, count: 100 });
    for (const conv of result.conversationList) fresh.set(conv.conversationID, conv);
    if (result.isFinished || result.conversationList.length === 0 || result.nextSeq === nextSeq) break;
    nextSeq = result.nextSeq;
  }
  const list = [...fresh.values()];
  // Keep the conversation open now even when it has no message yet.
  const open = activeView();
  if (open && !fresh.has(open.id)) fresh.set(open.id, conversations.get(open.id) || placeholder(open.id));
  conversations = fresh;
  for (const conv of fresh.values()) if (conv.groupID) learnGroup(conv.groupID, { name: conv.showName });
  render();
  setTotalUnread(await call('getTotalUnreadMessageCount', {}));
  learnNames([...fresh.values()]).catch((error) => showError(error, 'profiles'));
  return list;
}

/** Names and pictures for the list: profiles of C2C peers, members of the groups. */
async function learnNames(list) {
  await fetchProfiles(list.filter((c) => c.userID).map((c) => c.userID));
  for (const conv of list.filter((c) => c.groupID).slice(0, 20)) {
    const result = await call('getGroupMemberList', { groupID: conv.groupID, filter: 0, nextSeq: 0, count: 100 });
    learn(result.memberInfoList);
  }
}

export function setConversations(list) {
  for (const conv of list) {
    conversations.set(conv.conversationID, conv);
    if (conv.groupID) learnGroup(conv.groupID, { name: conv.showName });
  }
  render();
}

/** The list reloaded shortly (one request for a burst of changes). */
export function scheduleReload() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => {
    loadConversations().catch((error) => showError(error, 'conversation list'));
  }, 200);
}

/** A new message: last message, order and (groups) the unread count. */
export function noteMessage(msg) {
  const id = conversationIdOf(msg);
  let conv = conversations.get(id);
  if (!conv) {
    conv = placeholder(id, msg);
    conversations.set(id, conv);
    if (msg.groupID) scheduleReload();
  }
  conv.placeholder = false;
  conv.lastMessage = msg;
  conv.orderKey = nextOrderKey();
  // Unread counts are the server's: onConversationChanged follows every stored message (a
  // group's coalesced, within a moment), so nothing is counted here.
  render();
}

const PAGE_TITLE = document.title;

/** The total unread count (getTotalUnreadMessageCount, onTotalUnreadMessageCountChanged). */
export function setTotalUnread(total) {
  const badge = $('total-unread');
  badge.hidden = !(total > 0);
  badge.textContent = total > 99 ? '99+' : String(total);
  badge.setAttribute('aria-label', `${total} unread in all`);
  badge.dataset.total = String(total);
  document.title = total > 0 ? `(${total}) ${PAGE_TITLE}` : PAGE_TITLE;
}

export function titleOf(conv) {
  return conv.groupID ? groupName(conv.groupID, conv.showName) : nameOf(conv.userID);
}

/** "[@me] " or "[@all] " while the conversation has unread mentions (the server's
 * groupAtInfoList, protocol §7.2), else "". */
function mentionOf(conv, unread) {
  const infos = unread > 0 ? conv.groupAtInfoList || [] : [];
  if (infos.length === 0) return '';
  return infos.some((info) => info.atType !== 2) ? '[@me] ' : '[@all] ';
}

function previewOf(msg) {
  if (!msg) return '';
  const body = textOf(msg);
  if (msg.isSelf) return `You: ${body}`;
  return msg.groupID ? `${nameOf(msg.sender)}: ${body}` : body;
}

export function render() {
  const list = $('conv-list');
  const open = activeView();
  const sorted = [...conversations.values()].sort((a, b) => (b.orderKey || 0) - (a.orderKey || 0));
  // Redrawing must not take the keyboard focus away from the item that has it.
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.convId : null;
  list.replaceChildren(...sorted.map((conv) => {
    const active = open && open.id === conv.conversationID;
    // The open chat, seen down to its newest message: its count goes to 0 with the
    // mark-as-read under way. Otherwise what was not seen stays counted.
    const unread = active && open.caughtUp && attentive() ? 0 : conv.unreadCount || 0;
    const when = conv.lastMessage ? conv.lastMessage.timestamp : null;
    const badge = unread > 0
      ? el('span', { class: 'badge', testid: 'unread-badge', text: unread > 99 ? '99+' : String(unread) })
      : null;
    if (badge) badge.setAttribute('aria-label', `${unread} unread`);
    return el('li', { class: 'conv-row' },
      el('button', {
        type: 'button',
        class: `conv${active ? ' active' : ''}`,
        testid: 'conv-item',
        'data-conv-id': conv.conversationID,
        'data-unread': unread,
        'aria-current': active ? 'true' : null,
        onclick: () => emit('open-conversation', conv.conversationID),
      },
      avatar(conv.groupID ? { groupID: conv.groupID } : { userID: conv.userID }),
      el('span', { class: 'conv-main' },
        el('span', { class: 'conv-top' },
          el('span', { class: 'conv-name', testid: 'conv-name', text: titleOf(conv) }),
          when ? el('time', { class: 'conv-time', testid: 'conv-time', datetime: new Date(when * 1000).toISOString(), title: fullDate(when), text: listTime(when) }) : null),
        el('span', { class: 'conv-bottom' },
          el('span', { class: 'conv-preview', testid: 'conv-preview', text: mentionOf(conv, unread) + previewOf(conv.lastMessage) }),
          badge))));
  }));
  $('conv-empty').hidden = sorted.length > 0;
  if (focused) list.querySelector(`[data-conv-id="${CSS.escape(focused)}"]`)?.focus();
}

export function forget() {
  conversations.clear();
  clearTimeout(reloadTimer);
  render();
  setTotalUnread(0);
}
