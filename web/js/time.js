// Dates and times as the page shows them: clock times on messages, days in separators, short
// forms in the conversation list, and the full date for hover titles. `now` is a parameter so
// that the rules can be checked with any day.

const DAY_MS = 86400000;

const startOfDay = (date) => new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();

/** Whole calendar days from `then` to `now` in local time (0: same day, 1: yesterday). */
export function daysAgo(seconds, now = new Date()) {
  return Math.round((startOfDay(now) - startOfDay(new Date(seconds * 1000))) / DAY_MS);
}

export const clockTime = (seconds) =>
  new Date(seconds * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/** Full date and time, for `title` on hover. */
export const fullDate = (seconds) =>
  new Date(seconds * 1000).toLocaleString([], { dateStyle: 'full', timeStyle: 'short' });

/** A day separator's text: Today, Yesterday, a weekday this week, else the date. */
export function dayLabel(seconds, now = new Date()) {
  const days = daysAgo(seconds, now);
  const date = new Date(seconds * 1000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  if (days > 1 && days < 7) return date.toLocaleDateString([], { weekday: 'long' });
  const sameYear = date.getFullYear() === now.getFullYear();
  return date.toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long', year: sameYear ? undefined : 'numeric' });
}

/** The conversation list's time: the clock today, Yesterday, a weekday, else a short date. */
export function listTime(seconds, now = new Date()) {
  const days = daysAgo(seconds, now);
  const date = new Date(seconds * 1000);
  if (days === 0) return clockTime(seconds);
  if (days === 1) return 'Yesterday';
  if (days > 1 && days < 7) return date.toLocaleDateString([], { weekday: 'short' });
  const sameYear = date.getFullYear() === now.getFullYear();
  return date.toLocaleDateString([], { day: 'numeric', month: 'short', year: sameYear ? undefined : 'numeric' });
}

/** The local day of a time, as a key to compare messages by. */
export const dayKey = (seconds) => startOfDay(new Date(seconds * 1000));
