// Unit tests of the web chat's message order (web/js/ordering.js), in Node with mocked timers:
// each conversation's messages reach the page in seq order, each once, whatever the order,
// repeats and losses of the pushes, with gaps filled from a history that may lack some.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GAP_WAIT_MS, MAX_CONVERSATIONS, MAX_FILL, MAX_HELD, MessageOrder } from '../js/ordering.js';

const msg = (seq, more = {}) => ({ msgID: `g-${seq}`, seq, groupID: 'g', ...more });
const c2c = (peer, seq) => ({ msgID: `${peer}-${seq}`, seq, userID: peer });
/** Lets the history answers (promises) be taken in. */
const settle = () => new Promise(setImmediate);

/** An ordering whose history holds `stored` (all of conversation `g` unless told) and whose
 * requests can be made to fail; records what it released and asked. */
function harness(t, { stored = [], fail = () => null } = {}) {
  t.mock.timers.reset();
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const released = [];
  const asked = [];
  const order = new MessageOrder({
    history: async (before, count) => {
      asked.push([before.seq, count]);
      const error = fail(asked.length);
      if (error) throw error;
      return stored
        .filter((m) => (m.groupID ?? m.userID) === (before.groupID ?? before.userID) && m.seq < before.seq)
        .sort((a, b) => b.seq - a.seq)
        .slice(0, count);
    },
    release: (m) => released.push(m.seq),
  });
  const wait = async (ms) => {
    t.mock.timers.tick(ms);
    await settle();
  };
  return { order, released, asked, wait };
}

test('pushes in order pass at once; a repeat (push and own answer alike) passes once', async (t) => {
  const { order, released, asked } = harness(t);
  order.offer(msg(1));
  order.offer(msg(2));
  order.offer(msg(2));
  order.offer(msg(1));
  order.offer(msg(3));
  assert.deepEqual(released, [1, 2, 3]);
  assert.deepEqual(asked, []);
});

test('a push that overtook another waits for it, and history is not asked', async (t) => {
  const { order, released, asked, wait } = harness(t);
  order.offer(msg(1));
  order.offer(msg(3));
  order.offer(msg(4));
  await wait(GAP_WAIT_MS - 1);
  assert.deepEqual(released, [1]);
  order.offer(msg(2));
  assert.deepEqual(released, [1, 2, 3, 4]);
  await wait(GAP_WAIT_MS);
  assert.deepEqual(asked, []);
});

test('a missed push is filled from history after the wait; its late push is a repeat', async (t) => {
  const stored = [msg(1), msg(2), msg(3), msg(4)];
  const { order, released, asked, wait } = harness(t, { stored });
  order.offer(msg(1));
  order.offer(msg(4));
  await wait(GAP_WAIT_MS - 1);
  assert.deepEqual([released, asked], [[1], []]);
  await wait(1);
  assert.deepEqual(asked, [[4, 2]]);
  assert.deepEqual(released, [1, 2, 3, 4]);
  order.offer(msg(3));
  order.offer(msg(5));
  assert.deepEqual(released, [1, 2, 3, 4, 5]);
});

test('what history lacks is skipped, and the messages after it go on', async (t) => {
  // 3 was deleted; 6 and 7 came by push and wait behind the gap.
  const stored = [msg(1), msg(2), msg(4), msg(5)];
  const { order, released, asked, wait } = harness(t, { stored });
  order.offer(msg(1));
  order.offer(msg(6));
  order.offer(msg(7));
  await wait(GAP_WAIT_MS);
  assert.deepEqual(asked, [[6, 4]]);
  assert.deepEqual(released, [1, 2, 4, 5, 6, 7]);
});

test('prevSeq: sequences of targeted messages for others are neither waited for nor asked', async (t) => {
  const stored = [msg(5), msg(6, { prevSeq: 4 })];
  const { order, released, asked, wait } = harness(t, { stored });
  order.offer(msg(1));
  order.offer(msg(4, { prevSeq: 1 }));
  assert.deepEqual(released, [1, 4]);
  // 7 was for others, 5 and 6 are missing: the fill asks for those two only.
  order.offer(msg(8, { prevSeq: 6 }));
  await wait(GAP_WAIT_MS);
  assert.deepEqual(asked, [[8, 2]]);
  assert.deepEqual(released, [1, 4, 5, 6, 8]);
});

test('a history request the server cannot answer for now is asked again, three times in all', async (t) => {
  const stored = [msg(1), msg(2)];
  const busy = Object.assign(new Error('busy'), { code: 7008 });
  const { order, released, asked, wait } = harness(t, { stored, fail: (n) => (n < 3 ? busy : null) });
  order.offer(msg(1));
  order.offer(msg(3));
  await wait(GAP_WAIT_MS);
  await wait(GAP_WAIT_MS);
  assert.deepEqual([asked.length, released], [2, [1]]);
  await wait(GAP_WAIT_MS);
  assert.deepEqual([asked.length, released], [3, [1, 2, 3]]);

  // Failing every time: after three requests the gap is skipped.
  const always = harness(t, { stored, fail: () => busy });
  always.order.offer(msg(1));
  always.order.offer(msg(3));
  for (let i = 0; i < 5; i += 1) await always.wait(GAP_WAIT_MS);
  assert.deepEqual([always.asked.length, always.released], [3, [1, 3]]);
});

test('a refused history request (the user left the group) skips the gap at once', async (t) => {
  const refused = Object.assign(new Error('not a member'), { code: 10007 });
  const { order, released, asked, wait } = harness(t, { fail: () => refused });
  order.offer(msg(1));
  order.offer(msg(3));
  await wait(GAP_WAIT_MS);
  assert.deepEqual([asked.length, released], [1, [1, 3]]);
});

test('a gap larger than a history page is filled with its newest messages', async (t) => {
  const stored = Array.from({ length: 300 }, (_, i) => msg(i + 1));
  const { order, released, asked, wait } = harness(t, { stored });
  order.offer(msg(1));
  order.offer(msg(300));
  await wait(GAP_WAIT_MS);
  assert.deepEqual(asked, [[300, MAX_FILL]]);
  assert.deepEqual(released, [1, ...Array.from({ length: MAX_FILL + 1 }, (_, i) => 300 - MAX_FILL + i)]);
});

test('too many held messages make the fill go at once', async (t) => {
  const { order, asked } = harness(t);
  order.offer(msg(1));
  for (let seq = 3; seq < 3 + MAX_HELD - 1; seq += 1) order.offer(msg(seq));
  assert.deepEqual(asked, []);
  order.offer(msg(3 + MAX_HELD));
  assert.deepEqual(asked, [[3, 1]]);
});

test("the catch-up's list is what the page shows: older pushes are repeats, newer ones follow it", async (t) => {
  const { order, released, asked, wait } = harness(t);
  order.offer(msg(1));
  order.offer(msg(2));
  // Disconnected; 3 to 6 were sent meanwhile; 7's push arrives before the list is read.
  order.offer(msg(7));
  order.catchUp([{ conversationID: 'group_g', lastMessage: msg(6) }, { conversationID: 'c2c_bob', lastMessage: c2c('bob', 4) }]);
  assert.deepEqual(released, [1, 2, 7]);
  order.offer(msg(6));
  order.offer(c2c('bob', 4));
  order.offer(c2c('bob', 5));
  assert.deepEqual(released, [1, 2, 7, 5]);
  await wait(GAP_WAIT_MS);
  assert.deepEqual(asked, []);
});

test('after a catch-up a new C2C conversation starts at 1; a new group at its first push', async (t) => {
  const stored = [c2c('carol', 1)];
  const { order, released, asked, wait } = harness(t, { stored });
  order.offer(msg(9));
  order.offer(c2c('dave', 3));
  assert.deepEqual(released, [9, 3], 'before a catch-up nothing tells that a conversation is new');
  order.catchUp([]);
  order.offer(c2c('carol', 2));
  order.offer({ ...msg(5), msgID: 'h-5', groupID: 'h' });
  assert.deepEqual(released, [9, 3, 5]);
  await wait(GAP_WAIT_MS);
  assert.deepEqual(asked, [[2, 1]]);
  assert.deepEqual(released, [9, 3, 5, 1, 2]);
});

test('onlineUserOnly messages (seq 0) pass at once, outside the order', async (t) => {
  const { order, released } = harness(t);
  order.offer(msg(1));
  order.offer(msg(3));
  order.offer(msg(0));
  assert.deepEqual(released, [1, 0]);
});

test('a forgotten conversation drops what it held and ignores a late history answer', async (t) => {
  const { order, released, wait } = harness(t, { stored: [msg(2)] });
  order.offer(msg(1));
  order.offer(msg(3));
  order.forget('group_g');
  await wait(GAP_WAIT_MS);
  assert.deepEqual(released, [1]);
  order.offer(msg(7));
  assert.deepEqual(released, [1, 7], 'it starts again from its next message');
  order.clear();
  order.offer(msg(4));
  assert.deepEqual(released, [1, 7, 4]);
});

test('followed conversations are bounded: the idle longest is forgotten first', async (t) => {
  const { order, released } = harness(t);
  for (let i = 0; i < MAX_CONVERSATIONS; i += 1) order.offer({ ...msg(1), msgID: `x${i}`, groupID: `g${i}` });
  order.offer({ ...msg(2), msgID: 'x0-2', groupID: 'g0' }); // g1 is now the idle longest
  order.offer({ ...msg(1), msgID: 'new', groupID: 'new' });
  assert.equal(order.tracks.size, MAX_CONVERSATIONS);
  assert.equal(order.tracks.has('group_g1'), false);
  assert.equal(order.tracks.has('group_g0'), true);
  released.length = 0;
  order.offer({ ...msg(1), msgID: 'x1-again', groupID: 'g1' });
  assert.deepEqual(released, [1], 'g1 starts again from its next message');
});

/** A small deterministic generator (mulberry32), so that a failure can be replayed. */
function random(seed) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

test('any order, repeats and losses of pushes: every stored message once, in order', async (t) => {
  for (let seed = 1; seed <= 300; seed += 1) {
    const rand = random(seed);
    const n = 1 + Math.floor(rand() * 40);
    // Deleted messages are in no push and not in history; targeted ones for others likewise,
    // but the next message says so with prevSeq.
    const kind = Array.from({ length: n + 1 }, () => {
      const r = rand();
      return r < 0.1 ? 'deleted' : r < 0.2 ? 'hidden' : 'mine';
    });
    kind[n] = 'mine';
    const visible = (seq) => kind[seq] !== 'hidden';
    const message = (seq) => {
      let prev = seq - 1;
      while (prev > 0 && !visible(prev)) prev -= 1;
      return prev === seq - 1 ? msg(seq) : msg(seq, { prevSeq: prev });
    };
    const stored = [];
    for (let seq = 1; seq <= n; seq += 1) if (kind[seq] === 'mine') stored.push(message(seq));
    const pushes = [];
    for (const m of stored) {
      if (rand() < 0.2) continue; // lost
      pushes.push({ key: rand(), m });
      if (rand() < 0.2) pushes.push({ key: rand(), m }); // repeated
    }
    pushes.sort((a, b) => a.key - b.key);
    const h = harness(t, { stored });
    h.order.catchUp([{ conversationID: 'group_g', lastMessage: null }]);
    for (const { m } of pushes) {
      h.order.offer(m);
      await h.wait(Math.floor(rand() * 3) * 200);
    }
    for (let i = 0; i < n; i += 1) await h.wait(GAP_WAIT_MS);
    // Up to the newest message pushed, every message of this user, once, in order.
    const top = Math.max(0, ...pushes.map(({ m }) => m.seq));
    const expected = stored.map((m) => m.seq).filter((seq) => seq <= top);
    assert.deepEqual(h.released, expected, `seed ${seed}`);
    t.mock.timers.reset();
  }
});
