// Whether the person is looking: the page is visible and its window focused. A window behind
// another one is visible but not being read, as WhatsApp Web and Slack decide it; nothing is
// "seen" (receipted, marked read) without attention.

export const attentive = () => document.visibilityState === 'visible' && document.hasFocus();

/** Calls `listener(attentive)` whenever attention may have changed. */
export function onAttentionChange(listener) {
  const changed = () => listener(attentive());
  document.addEventListener('visibilitychange', changed);
  window.addEventListener('focus', changed);
  window.addEventListener('blur', changed);
}
