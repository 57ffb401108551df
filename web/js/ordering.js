// Per-conversation order of new messages (docs/protocol.md §14.1): the page gets each
// conversation's messages in `seq` order, each once, as the Rust SDK's ordering.rs hands them
// to its app.
//
// Pushes can overtake one another (two senders on different nodes of a cluster) or be missed
// (a node that lost the cluster's bus; a REST send that skips the sender's devices). A message's
// predecessor for this user is `prevSeq` when present (the sequences in between are targeted
// messages for others, §6.6), else `seq` − 1, and a message proves that its predecessors exist
// or existed. So a message whose predecessor has not come is held for GAP_WAIT_MS, then the
// missing ones are asked from history; what history does not return is gone (deleted, or not
// this user's) and is skipped, so nothing stalls. Imports nothing: the page passes in its history
// call, and Node runs this module's tests as is.

/** How long a message waits for the pushes before it, as the SDK's `gap_wait`. */
export const GAP_WAIT_MS = 500;
/** Conversations followed at most; past this, the one idle longest is forgotten. */
export const MAX_CONVERSATIONS = 10000;
/** Messages one conversation holds at most; past this, its gap is filled at once. */
export const MAX_HELD = 1000;
/** Most messages one gap is filled with (one history page); older ones of a larger gap are
 * skipped (the chat loads them when scrolled back). */
export const MAX_FILL = 100;
/** History requests sent for one gap when the server cannot answer for now. */
export const MAX_FILL_ATTEMPTS = 3;
/** A history request that failed for now: no connection (-1), internal (6999), rate limit (7008). */
const RETRY_CODES = new Set([-1, 6999, 7008]);

export const conversationIdOf = (msg) => (msg.groupID ? `group_${msg.groupID}` : `c2c_${msg.userID}`);

/** The `seq` of the message before `msg` that this user gets. */
export const prevSeqOf = (msg) => (Number.isInteger(msg.prevSeq) && msg.prevSeq < msg.seq ? msg.prevSeq : msg.seq - 1);

export class MessageOrder {
  /**
   * `history(before, count)` resolves to the `count` messages of `before`'s conversation older
   * than it, newest first (or rejects with the server's `code`); `release(msg)` gives a message
   * to the page.
   */
  constructor({ history, release, gapWaitMs = GAP_WAIT_MS }) {
    this.history = history;
    this.release = release;
    this.gapWaitMs = gapWaitMs;
    /** conversationID -> track; the Map's order is recency, idle longest first. */
    this.tracks = new Map();
    /** Every conversation of the user is followed (a catch-up, nothing forgotten since): a C2C
     * conversation not followed yet is new and starts at `seq` 1. */
    this.complete = false;
  }

  /** A pushed message, or the answer to the page's own send. */
  offer(msg) {
    // onlineUserOnly messages (seq 0) have no place in the sequence.
    if (!msg.seq) {
      this.release(msg);
      return;
    }
    const id = conversationIdOf(msg);
    const track = this.track(id, this.complete && !msg.groupID ? 0 : prevSeqOf(msg));
    if (msg.seq <= track.last || track.held.has(msg.seq)) return; // a repeat
    track.held.set(msg.seq, msg);
    this.releaseHeld(track);
  }

  /**
   * The conversation list read after a login: each conversation's messages up to its
   * `lastMessage` are shown by the catch-up itself (the list shows the last one, the open chat
   * reloads its history), so what was missed while disconnected is not handed over again.
   */
  catchUp(conversations) {
    this.complete = true; // unless following them all forgets one
    for (const conv of conversations) {
      const lastSeq = conv.lastMessage ? conv.lastMessage.seq || 0 : 0;
      const track = this.track(conv.conversationID, lastSeq);
      if (track.last >= lastSeq) continue;
      track.last = lastSeq;
      for (const seq of track.held.keys()) if (seq <= lastSeq) track.held.delete(seq);
      this.releaseHeld(track);
    }
  }

  /** Stops following a conversation (a group left or dismissed, gone from the page), giving
   * nothing of what it held; if it comes back, it starts again from its next message. */
  forget(id) {
    clearTimeout(this.tracks.get(id)?.timer);
    this.tracks.delete(id);
  }

  /** Signed out: forgets everything, giving nothing. */
  clear() {
    for (const track of this.tracks.values()) clearTimeout(track.timer);
    this.tracks.clear();
    this.complete = false;
  }

  /** The track of `id`, made the most recent; created with `last = start` when new. */
  track(id, start) {
    let track = this.tracks.get(id);
    if (track) {
      this.tracks.delete(id);
    } else {
      if (this.tracks.size >= MAX_CONVERSATIONS) this.forgetIdlest();
      track = { id, last: start, held: new Map(), timer: null, filling: false, attempts: 0 };
    }
    this.tracks.set(id, track);
    return track;
  }

  forgetIdlest() {
    for (const [id, track] of this.tracks) {
      if (track.held.size === 0 && !track.filling) {
        this.tracks.delete(id);
        this.complete = false;
        return;
      }
    }
  }

  /** Gives the held messages that follow `last` without a gap, then waits for the next gap. */
  releaseHeld(track) {
    for (const seq of [...track.held.keys()].sort((a, b) => a - b)) {
      const msg = track.held.get(seq);
      if (prevSeqOf(msg) > track.last) break;
      track.held.delete(seq);
      track.last = seq;
      this.release(msg);
    }
    this.schedule(track);
  }

  /** The gap below the held messages is filled after the wait from when it was first seen,
   * at once when too much is held, never when nothing is. */
  schedule(track, waitMs = this.gapWaitMs) {
    if (track.held.size === 0) {
      clearTimeout(track.timer);
      track.timer = null;
      track.attempts = 0;
      return;
    }
    if (track.filling) return;
    if (track.held.size >= MAX_HELD) {
      clearTimeout(track.timer);
      track.timer = null;
      this.fill(track);
    } else if (track.timer === null) {
      track.timer = setTimeout(() => {
        track.timer = null;
        this.fill(track);
      }, waitMs);
    }
  }

  /** Asks history for what is missing below the lowest held message. */
  fill(track) {
    const below = track.held.get(Math.min(...track.held.keys()));
    const missing = Math.max(1, prevSeqOf(below) - track.last);
    track.filling = true;
    track.attempts += 1;
    this.history(below, Math.min(missing, MAX_FILL)).then(
      (page) => this.filled(track, below.seq, page),
      (error) => {
        if (this.tracks.get(track.id) !== track) return;
        track.filling = false;
        if (RETRY_CODES.has(error.code) && track.attempts < MAX_FILL_ATTEMPTS) this.schedule(track);
        else this.filled(track, below.seq, []);
      },
    );
  }

  /** Takes in a history page for the gap below `belowSeq`: what it lacks will not come (history
   * was read after `belowSeq` was committed), so the next held messages go on past it. */
  filled(track, belowSeq, page) {
    if (this.tracks.get(track.id) !== track) return; // forgotten meanwhile
    track.filling = false;
    track.attempts = 0;
    for (const msg of page) {
      const fits = msg.seq > track.last && msg.seq < belowSeq && conversationIdOf(msg) === track.id;
      if (fits && !track.held.has(msg.seq)) track.held.set(msg.seq, msg);
    }
    for (;;) {
      this.releaseHeld(track);
      const lowest = Math.min(...track.held.keys());
      if (!(lowest <= belowSeq)) return;
      // A gap history could not fill: skipped.
      track.last = prevSeqOf(track.held.get(lowest));
    }
  }
}
