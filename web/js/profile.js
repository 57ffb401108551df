// The signed-in person's own profile: a dialog that edits the nickname, the picture's URL and
// whether read receipts are private (setSelfInfo), read back from the server when opened.

import { showError } from './banners.js';
import { $ } from './dom.js';
import { learn } from './people.js';
import { call, session } from './session.js';

const dialog = () => $('profile-dialog');

/** Opens the dialog with the profile as the server has it now. */
export async function openProfile() {
  try {
    const [infos, privacy] = await Promise.all([
      call('getUsersInfo', { userIDList: [session.me] }),
      call('getReceiptPrivacy', {}),
    ]);
    const me = infos[0] || {};
    $('profile-nick').value = me.nickName || '';
    $('profile-face').value = me.faceURL || '';
    $('profile-private').checked = Boolean(privacy.privateReadReceipts);
    if (!dialog().open) dialog().showModal();
    $('profile-nick').focus();
  } catch (error) {
    showError(error, 'profile');
  }
}

/** Saves what the dialog holds; the page shows the new name and picture at once. */
export async function saveProfile(event) {
  event.preventDefault();
  const nickName = $('profile-nick').value.trim();
  const faceURL = $('profile-face').value.trim();
  try {
    await call('setSelfInfo', { nickName, faceURL, privateReadReceipts: $('profile-private').checked });
    learn([{ userID: session.me, nickName, faceURL }]);
    dialog().close();
  } catch (error) {
    showError(error, 'profile');
  }
}

/** Connects the top bar's button and the dialog's form. */
export function wireProfile() {
  $('profile-open').addEventListener('click', () => { openProfile(); });
  $('profile-form').addEventListener('submit', saveProfile);
  $('profile-cancel').addEventListener('click', () => dialog().close());
}
