// Message-level read receipts: sending them for messages the person saw (each once, batched per
// conversation, kept for after a reconnect), the counts of one's own messages, and the label a
// sender sees: "Unread"/"Read" (C2C, from the peer's message-level receipt only) or
// "Unread"/"N read"/"All read" (groups), as TUIKit shows them.

import { showError } from './banners.js';
import { call, emit, session } from './session.js';

const RECEIPT_BATCH = 100;
const RECEIPT_FLUSH_MS = 120;

const readState = new Map(); // group msgID -> { readCount, unreadCount, provisional }
const c2cRead = new Set(); // own C2C msgIDs the peer receipted
const sent = new Set(); // msgIDs receipted (or being receipted) in this session
let queue = new Map(); // conversationID -> Set(msgID) waiting to be sent
let timer = null;

export const countsOf = (msgID) => readState.get(msgID);

/** The sender-side label of a message; null when there is none to show. */
export function labelOf(msg) {
  if (!msg.isSelf || !msg.needReadReceipt) return null;
  // A message to oneself has nobody to read it: no label that could never change.
  if (!msg.groupID && msg.userID === session.me) return null;
  // C2C: "Read" only from the peer's message-level receipt, sent for what was on screen (not
  // from the conversation-level read position, which covers messages never shown).
  if (!msg.groupID) return msg.receiptPeerRead || c2cRead.has(msg.msgID) ? { text: 'Read', state: 'read' } : { text: 'Unread', state: 'unread' };
  const receipt = readState.get(msg.msgID);
  if (!receipt || receipt.readCount === 0) return { text: 'Unread', state: 'unread' };
  if (receipt.unreadCount === 0) return { text: 'All read', state: 'all-read' };
  return { text: `${receipt.readCount} read`, state: 'n-read' };
}

/** A fresh own group message: "Unread" until counts arrive. */
export function expectCounts(msg) {
  if (msg.isSelf && msg.groupID && msg.needReadReceipt && !readState.has(msg.msgID)) {
    readState.set(msg.msgID, { readCount: 0, unreadCount: null, provisional: true });
  }
}

/** Receipts from a push or a pull; tells 'receipts-changed' which messages changed. */
export function applyReceipts(receipts) {
  const changed = [];
  for (const receipt of receipts) {
    if (receipt.groupID) {
      const before = readState.get(receipt.msgID);
      const after = { readCount: receipt.readCount ?? 0, unreadCount: receipt.unreadCount ?? 0 };
      if (!before || before.provisional || before.readCount !== after.readCount || before.unreadCount !== after.unreadCount) {
        readState.set(receipt.msgID, after);
        changed.push(receipt);
      }
    } else if (receipt.isPeerRead && !c2cRead.has(receipt.msgID)) {
      c2cRead.add(receipt.msgID);
      changed.push(receipt);
    }
  }
  if (changed.length) emit('receipts-changed', changed);
}

/** Pulls the counts of one's own group messages. */
export async function fetchGroupReceipts(groupID, messages) {
  const ids = messages.filter((m) => m.isSelf && m.needReadReceipt && m.groupID).map((m) => m.msgID);
  for (let i = 0; i < ids.length; i += RECEIPT_BATCH) {
    try {
      const receipts = await call('getMessageReadReceipts', { messageIDList: ids.slice(i, i + RECEIPT_BATCH) });
      applyReceipts(receipts.map((r) => ({ ...r, groupID: r.groupID || groupID })));
    } catch (error) {
      showError(error, 'read receipts');
      return;
    }
  }
}

export const wasReceipted = (msgID) => sent.has(msgID);

/** The person saw `msg` in conversation `convID`: receipt it if it asks for one. */
export function considerReceipt(convID, msg) {
  if (msg.isSelf || !msg.needReadReceipt || msg.hasSentReceipt || sent.has(msg.msgID)) return;
  sent.add(msg.msgID);
  if (!queue.has(convID)) queue.set(convID, new Set());
  queue.get(convID).add(msg.msgID);
  clearTimeout(timer);
  timer = setTimeout(flushReceipts, RECEIPT_FLUSH_MS);
}

/** Sends what is queued; kept queued while offline, for after the next login. */
export function flushReceipts() {
  if (session.status !== 'online') return;
  const sending = queue;
  queue = new Map();
  for (const [convID, set] of sending) {
    const ids = [...set];
    for (let i = 0; i < ids.length; i += RECEIPT_BATCH) {
      const batch = ids.slice(i, i + RECEIPT_BATCH);
      call('sendMessageReadReceipts', { messageIDList: batch })
        .then(() => emit('receipts-sent', batch))
        .catch((error) => {
          if (error.code === -1) {
            if (!queue.has(convID)) queue.set(convID, new Set());
            for (const id of batch) queue.get(convID).add(id);
          } else {
            showError(error, 'read receipts');
          }
        });
    }
  }
}

/** Another device of the user receipted these (onMessageReceiptsSent). */
export function sentElsewhere(ids) {
  for (const id of ids) sent.add(id);
  emit('receipts-sent', ids);
}

export function forget() {
  readState.clear();
  c2cRead.clear();
  sent.clear();
  queue.clear();
  clearTimeout(timer);
}
