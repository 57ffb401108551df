// The read/unread member panel of a group message, as TUIKit shows it: two lists with avatars
// and counts, each loading its next page when scrolled to its end, an empty side said in words,
// following the counts live while open.

import { showError } from './banners.js';
import { textOf } from './content.js';
import { $, el } from './dom.js';
import { avatar, hasNick, learn, nameOf } from './people.js';
import * as receipts from './receipts.js';
import { call, intParam, on } from './session.js';
import { clockTime, fullDate } from './time.js';

/** Page size of member lists (TUIKit uses 100). */
const MEMBER_PAGE = intParam('memberPage', 1, 100, 100);
/** A list this close to its end loads the next page. */
const NEAR_END_PX = 40;
const FILTERS = [0, 1]; // 0 read, 1 unread
const listOf = (filter) => $(filter === 0 ? 'read-list' : 'unread-list');
const emptyOf = (filter) => $(filter === 0 ? 'read-empty' : 'unread-empty');

let panel = null; // { msg, opener, lists: {0: page, 1: page} }

export function openMembers(msg, opener) {
  const dialog = $('members-dialog');
  panel = { msg, opener, lists: {} };
  $('members-message').textContent = `“${textOf(msg)}”, sent ${clockTime(msg.timestamp)}`;
  $('members-message').title = fullDate(msg.timestamp);
  dialog.dataset.msgId = msg.msgID;
  if (!dialog.open) dialog.showModal();
  $('members-close').focus();
  refresh();
  // Exact counts for the headings (a fresh message only has a provisional "Unread").
  receipts.fetchGroupReceipts(msg.groupID, [msg]);
}

function refresh() {
  if (!panel) return;
  const counts = receipts.countsOf(panel.msg.msgID);
  const exact = counts && !counts.provisional;
  $('read-count').textContent = exact ? `(${counts.readCount})` : '';
  $('unread-count').textContent = exact && counts.unreadCount !== null ? `(${counts.unreadCount})` : '';
  for (const filter of FILTERS) {
    panel.lists[filter] = { nextSeq: 0, finished: false, loading: false, count: 0 };
    listOf(filter).replaceChildren();
    listOf(filter).setAttribute('aria-busy', 'true');
    emptyOf(filter).hidden = true;
    loadPage(filter);
  }
}

async function loadPage(filter) {
  const current = panel;
  if (!current) return;
  const page = current.lists[filter];
  if (page.finished || page.loading) return;
  page.loading = true;
  const list = listOf(filter);
  try {
    const result = await call('getGroupMessageReadMemberList', {
      messageID: current.msg.msgID, filter, nextSeq: page.nextSeq, count: MEMBER_PAGE,
    });
    if (panel !== current || current.lists[filter] !== page) return;
    learn(result.memberInfoList);
    for (const member of result.memberInfoList) {
      list.append(el('li', { class: 'member', testid: 'member-item', 'data-user-id': member.userID },
        avatar({ userID: member.userID, size: 'sm' }),
        // A name card, the member's name in this group, goes before the profile's nickname.
        el('span', { class: 'member-name', text: member.nameCard || nameOf(member.userID) }),
        hasNick(member.userID) ? el('span', { class: 'member-id', text: `@${member.userID}` }) : null));
    }
    page.count += result.memberInfoList.length;
    page.nextSeq = result.nextSeq;
    page.finished = result.isFinished;
    if (page.finished) {
      list.removeAttribute('aria-busy');
      emptyOf(filter).hidden = page.count > 0;
    }
  } catch (error) {
    showError(error, filter === 0 ? 'read member list' : 'unread member list');
  } finally {
    page.loading = false;
  }
  if (panel === current && current.lists[filter] === page) loadMoreIfAtEnd(filter);
}

/** Scrolled to the end (or the list does not fill its box yet): the next page. */
function loadMoreIfAtEnd(filter) {
  const list = listOf(filter);
  if (list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_END_PX) loadPage(filter);
}

export function closeMembers() {
  const opener = panel && panel.opener;
  panel = null;
  if ($('members-dialog').open) $('members-dialog').close();
  if (opener && opener.isConnected) opener.focus();
}

for (const filter of FILTERS) listOf(filter).addEventListener('scroll', () => loadMoreIfAtEnd(filter));
$('members-close').addEventListener('click', closeMembers);
$('members-dialog').addEventListener('close', () => {
  if (panel) closeMembers();
});

// The lists follow the counts live.
on('receipts-changed', (changed) => {
  if (panel && changed.some((r) => r.msgID === panel.msg.msgID)) refresh();
});
