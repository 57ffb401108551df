// What a message says, in two forms: one line of text (previews, announcements, the member
// panel) and the bubble's content. New kinds of message content are drawn here: images as
// pictures of their stated size, files as download links with name and size, voice and video as
// players, the other elements (docs/protocol.md §7.1.1) as a line of text.

import { el } from './dom.js';

/** V2TIM's image size types (docs/protocol.md §6.4). */
const IMAGE_ORIGIN = 0;
const IMAGE_THUMB = 1;
const IMAGE_LARGE = 2;
/** The largest a picture is drawn in a bubble, in CSS pixels (its stated size is scaled down). */
const PICTURE_MAX = 240;

/** `url` when it is an http(s) URL (the server checks this too), else null: nothing else is followed. */
function safeUrl(url) {
  return typeof url === 'string' && /^https?:\/\/./i.test(url) ? url : null;
}

/** A byte count for people: 999 B, 12.1 KB, 3.4 MB. */
export function sizeText(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1000) return `${n} B`;
  if (n < 1000 * 1000) return `${(n / 1000).toFixed(1)} KB`;
  if (n < 1000 * 1000 * 1000) return `${(n / 1000 / 1000).toFixed(1)} MB`;
  return `${(n / 1000 / 1000 / 1000).toFixed(1)} GB`;
}

/** One line of text for a message. */
export function textOf(msg) {
  // A recalled message's content was erased by the server (status 6, docs/protocol.md §12.13).
  if (msg.isRevoked) return 'Message recalled';
  if (msg.textElem) return msg.textElem.text;
  if (msg.customElem) return `[custom] ${msg.customElem.desc || msg.customElem.data}`;
  if (msg.imageElem) return '[image]';
  if (msg.fileElem) return `[file] ${msg.fileElem.fileName || 'file'} (${sizeText(msg.fileElem.fileSize)})`;
  if (msg.soundElem) return `[voice] ${msg.soundElem.duration || 0} s`;
  if (msg.videoElem) return `[video] ${msg.videoElem.duration || 0} s`;
  if (msg.locationElem) return `[location] ${msg.locationElem.desc || `${msg.locationElem.latitude}, ${msg.locationElem.longitude}`}`;
  if (msg.faceElem) return `[sticker] ${msg.faceElem.data || msg.faceElem.index}`;
  if (msg.mergerElem) return `[chat history] ${msg.mergerElem.title}`;
  return '[message]';
}

/** Width and height that keep `w`×`h`'s shape within PICTURE_MAX (0 or missing: the maximum). */
function fitted(w, h) {
  if (!(w > 0 && h > 0)) return { width: PICTURE_MAX, height: PICTURE_MAX };
  const scale = Math.min(1, PICTURE_MAX / Math.max(w, h));
  return { width: Math.round(w * scale), height: Math.round(h * scale) };
}

/** An image: its thumbnail (or the next smallest size) drawn at its stated size, linking to the original. */
function pictureOf(image) {
  const sizes = image.imageList || [];
  const pick = (type) => sizes.find((s) => s.type === type && safeUrl(s.url));
  const shown = pick(IMAGE_THUMB) || pick(IMAGE_LARGE) || pick(IMAGE_ORIGIN);
  if (!shown) return null;
  const full = pick(IMAGE_ORIGIN) || pick(IMAGE_LARGE) || shown;
  const { width, height } = fitted(shown.width, shown.height);
  const img = el('img', {
    src: shown.url, width, height, alt: 'Image', loading: 'lazy', testid: 'message-image',
    'data-width': shown.width, 'data-height': shown.height,
  });
  return el('a', { href: full.url, target: '_blank', rel: 'noopener noreferrer' }, img);
}

/** A file: a download link with its name and size. */
function fileLinkOf(file) {
  const url = safeUrl(file.url);
  const name = file.fileName || 'file';
  if (!url) return null;
  return el('a', { class: 'file', href: url, download: name, target: '_blank', rel: 'noopener noreferrer', testid: 'message-file' },
    el('span', { class: 'file-name', text: name }),
    el('span', { class: 'file-size', text: sizeText(file.fileSize) }));
}

/** The bubble of a message. */
export function bubbleOf(msg) {
  let media = null;
  if (!msg.isRevoked) {
    if (msg.imageElem) media = pictureOf(msg.imageElem);
    else if (msg.fileElem) media = fileLinkOf(msg.fileElem);
    else if (msg.soundElem && safeUrl(msg.soundElem.url)) {
      media = el('audio', { controls: true, preload: 'none', src: msg.soundElem.url, testid: 'message-sound' });
    } else if (msg.videoElem && safeUrl(msg.videoElem.videoUrl)) {
      const { width, height } = fitted(msg.videoElem.snapshotWidth, msg.videoElem.snapshotHeight);
      media = el('video', {
        controls: true, preload: 'none', src: msg.videoElem.videoUrl, width, height,
        poster: safeUrl(msg.videoElem.snapshotUrl) || undefined, testid: 'message-video',
      });
    }
  }
  if (media) return el('div', { class: 'bubble media', testid: 'message-media', title: textOf(msg) }, media);
  return el('div', { class: 'bubble', testid: 'message-text', text: textOf(msg) });
}
