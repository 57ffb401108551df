// People and groups as the page names and pictures them: profiles (nickName, faceURL) learnt
// from member lists and, where the server has it, getUsersInfo; initials on a colour when
// there is no picture. Everything that shows a person asks here, so names agree everywhere.

import { el } from './dom.js';
import { call, emit } from './session.js';

const profiles = new Map(); // userID -> { nickName, faceURL }
const groups = new Map(); // groupID -> { name, memberCount }
/** Whether the server answers getUsersInfo (older servers call it an unknown method). */
let usersInfo = true;
const asked = new Set();

/** Takes profiles from anything with userID, nickName, faceURL (members, users). */
export function learn(list) {
  let changed = false;
  for (const person of list || []) {
    if (!person || !person.userID) continue;
    const before = profiles.get(person.userID) || { nickName: '', faceURL: '' };
    const after = {
      nickName: person.nickName || before.nickName,
      faceURL: person.faceURL || person.faceUrl || before.faceURL,
    };
    if (after.nickName !== before.nickName || after.faceURL !== before.faceURL || !profiles.has(person.userID)) {
      profiles.set(person.userID, after);
      changed = true;
    }
  }
  if (changed) emit('people-changed');
}

/** A message carries its sender's profile as it was when sent: used for a sender not known yet
 * (a member beyond the first page of a large group), never over a profile already known. */
export function learnSender(msg) {
  if (!profiles.has(msg.sender) && (msg.nickName || msg.faceURL)) {
    learn([{ userID: msg.sender, nickName: msg.nickName, faceURL: msg.faceURL }]);
  }
}

export function learnGroup(groupID, info) {
  const before = groups.get(groupID) || {};
  groups.set(groupID, { ...before, ...info });
  emit('people-changed');
}

export const nameOf = (userID) => profiles.get(userID)?.nickName || userID;
export const hasNick = (userID) => Boolean(profiles.get(userID)?.nickName);
export const groupName = (groupID, fallback) => groups.get(groupID)?.name || fallback || groupID;
export const groupInfo = (groupID) => groups.get(groupID);

/** Asks the server for profiles not known yet (once per user and session). */
export async function fetchProfiles(userIDs) {
  const wanted = [...new Set(userIDs)].filter((id) => id && !asked.has(id));
  if (!usersInfo || wanted.length === 0) return;
  for (const id of wanted) asked.add(id);
  try {
    const result = await call('getUsersInfo', { userIDList: wanted });
    const list = Array.isArray(result) ? result : Object.values(result || {}).find(Array.isArray) || [];
    learn(list);
  } catch (error) {
    if (/unknown method/i.test(error.desc || '')) usersInfo = false;
    else for (const id of wanted) asked.delete(id);
  }
}

/** Whether a user exists: true or false when the server can say (getUsersInfo), else null. */
export async function userExists(userID) {
  if (!usersInfo) return null;
  try {
    const result = await call('getUsersInfo', { userIDList: [userID] });
    const list = Array.isArray(result) ? result : Object.values(result || {}).find(Array.isArray) || [];
    learn(list);
    return list.some((user) => user.userID === userID);
  } catch (error) {
    if (/unknown method/i.test(error.desc || '')) usersInfo = false;
    return error.code === 20003 ? false : null;
  }
}

/** Up to two initials of a name: "Bob" → "B", "Mary Ann" → "MA", "x-ray" → "X". */
export function initials(name) {
  const words = String(name).trim().split(/[\s._-]+/).filter(Boolean);
  const letters = words.slice(0, 2).map((w) => [...w][0].toUpperCase());
  return letters.join('') || '?';
}

/** Background colours for initials, each dark enough for white text (contrast ≥ 4.5:1). */
const COLOURS = ['#1d4ed8', '#047857', '#b45309', '#7c3aed', '#be123c', '#0f766e', '#4d5563', '#a21caf'];

function colourOf(key) {
  let hash = 0;
  for (const ch of key) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return COLOURS[hash % COLOURS.length];
}

/** An avatar: the picture when there is one, else initials; decorative (names are beside it). */
export function avatar({ userID, groupID, size = 'md' }) {
  const key = userID || `group:${groupID}`;
  const name = userID ? nameOf(userID) : groupName(groupID);
  const face = userID ? profiles.get(userID)?.faceURL : '';
  const node = el('span', { class: `avatar avatar-${size}`, 'aria-hidden': 'true', testid: 'avatar', 'data-key': key });
  if (face) {
    node.append(el('img', { src: face, alt: '', loading: 'lazy', onerror: () => { node.replaceChildren(initials(name)); } }));
  } else {
    node.textContent = initials(name);
    node.style.background = colourOf(key);
  }
  return node;
}

export function forget() {
  profiles.clear();
  groups.clear();
  asked.clear();
}
