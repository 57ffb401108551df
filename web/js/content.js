// What a message says, in two forms: one line of text (previews, announcements, the member
// panel) and the bubble's content. New kinds of message content are drawn here.

import { el } from './dom.js';

/** One line of text for a message. */
export function textOf(msg) {
  // A recalled message's content was erased by the server (status 6, docs/protocol.md §12.13).
  if (msg.isRevoked) return 'Message recalled';
  if (msg.textElem) return msg.textElem.text;
  if (msg.customElem) return `[custom] ${msg.customElem.desc || msg.customElem.data}`;
  return '[message]';
}

/** The bubble of a message. */
export function bubbleOf(msg) {
  return el('div', { class: 'bubble', testid: 'message-text', text: textOf(msg) });
}
