// End-to-end tests of the Tidings web chat in headless Debian Chromium, driven by playwright-core.
//
// Builds nothing: starts the real server binary (target/debug/tidings, or $TIDINGS_BIN) in demo
// mode on 127.0.0.1:0 with a temporary data directory, reads the page's URL from its banner, and
// opens one browser context per user. Screenshots of the main views at 1200×760 (desktop) and
// 390×844 (phone) go to target/web-screenshots/ ($TIDINGS_SCREENSHOTS to change it).
// Run through ./scripts/test-web, or `npm test` here after `cargo build -p tidings`.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const BIN = process.env.TIDINGS_BIN || join(repo, 'target', 'debug', 'tidings');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const RESULTS = process.env.TIDINGS_SCREENSHOTS || join(repo, 'target', 'web-screenshots');
const DESKTOP = { width: 1200, height: 760 };
const PHONE = { width: 390, height: 844 };
const WAIT_MS = 15000;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// ---------------------------------------------------------------------------------------------
// The server process.

/** Starts `tidings serve` and resolves once its banner names the web chat's URL. */
function startServer({ dataDir, listen = '127.0.0.1:0', demo = true }) {
  const args = ['serve', '--listen', listen, '--data-dir', dataDir];
  if (demo) args.push('--demo');
  const proc = spawn(BIN, args, {
    env: { ...process.env, RUST_LOG: 'warn', TIDINGS_DEMO: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = [];
  proc.stderr.on('data', (chunk) => output.push(chunk.toString()));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner within ${WAIT_MS} ms:\n${output.join('')}`)), WAIT_MS);
    proc.on('exit', (code) => reject(new Error(`the server exited (${code}) before serving:\n${output.join('')}`)));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      output.push(`${line}\n`);
      const found = /Web chat:\s+(http:\/\/\S+?)\/?$/.exec(line.trim());
      if (found) {
        clearTimeout(timer);
        const url = found[1];
        const stop = () => new Promise((done) => {
          if (proc.exitCode !== null) return done();
          proc.once('exit', () => done());
          proc.kill('SIGTERM');
        });
        resolvePromise({ proc, url, port: new URL(url).port, stop, output });
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/** Polls `probe` until it returns a truthy value; fails with `what` and the last value seen. */
async function waitFor(what, probe, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitText(what, locator, expected, timeout) {
  let seen;
  try {
    await waitFor(`${what} to be ${JSON.stringify(expected)}`, async () => {
      seen = (await locator.textContent({ timeout: 1000 }))?.trim();
      return seen === expected;
    }, timeout);
  } catch (error) {
    throw new Error(`${error.message}; it is ${JSON.stringify(seen)}`);
  }
}

/** Checks that `locator`'s text stays `expected` for 1.5 s: for what must not happen (a receipt
 * label turning "Read" for a message nobody saw), which took well under that when it did. */
async function assertStays(what, locator, expected, ms = 1500) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    assert.equal((await locator.textContent({ timeout: WAIT_MS }))?.trim(), expected, what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const tid = (id) => `[data-testid="${id}"]`;

/** Every visible text on the page has a contrast of at least 4.5:1 with what is behind it
 * (WCAG 2 relative luminance; backgrounds blended up the ancestors). */
async function assertContrast(page, where) {
  const low = await page.evaluate(() => {
    const parse = (css) => {
      const m = /rgba?\(([^)]+)\)/.exec(css);
      if (!m) return null;
      const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
      return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
    };
    const over = (top, under) => ({
      r: top.r * top.a + under.r * (1 - top.a),
      g: top.g * top.a + under.g * (1 - top.a),
      b: top.b * top.a + under.b * (1 - top.a),
      a: 1,
    });
    const luminance = ({ r, g, b }) => {
      const f = (v) => {
        const c = v / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const backgroundOf = (element) => {
      const layers = [];
      for (let n = element; n; n = n.parentElement) {
        const colour = parse(getComputedStyle(n).backgroundColor);
        if (colour && colour.a > 0) {
          layers.push(colour);
          if (colour.a >= 1) break;
        }
      }
      return layers.reverse().reduce((under, top) => over(top, under), { r: 255, g: 255, b: 255, a: 1 });
    };
    const found = [];
    const done = new Set();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const element = walker.currentNode.parentElement;
      const text = walker.currentNode.textContent.trim();
      if (!text || done.has(element)) continue;
      done.add(element);
      if (!element.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
      if (element.closest('.visually-hidden, noscript')) continue;
      const rect = element.getBoundingClientRect();
      if (rect.width === 0 || rect.height === 0) continue;
      const background = backgroundOf(element);
      const colour = over(parse(getComputedStyle(element).color), background);
      const [light, dark] = [luminance(colour), luminance(background)].sort((a, b) => b - a);
      const ratio = (light + 0.05) / (dark + 0.05);
      if (ratio < 4.5) found.push(`${JSON.stringify(text.slice(0, 30))} in ${element.tagName.toLowerCase()}.${element.className}: ${ratio.toFixed(2)}`);
    }
    return found;
  });
  assert.deepEqual(low, [], `text under 4.5:1 on ${where}`);
}

/** Every visible input has a label (a <label>, aria-label or aria-labelledby). */
async function assertLabelled(page, where) {
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, textarea, select')]
    .filter((e) => e.checkVisibility())
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
    .map((e) => e.id || e.outerHTML.slice(0, 80)));
  assert.deepEqual(unlabelled, [], `inputs without a label on ${where}`);
}

async function shot(page, name) {
  mkdirSync(RESULTS, { recursive: true });
  await page.screenshot({ path: join(RESULTS, `${name}.png`) });
}

/** One user in one browser context. */
class User {
  constructor(name, page, context) {
    this.name = name;
    this.page = page;
    this.context = context;
    this.errors = [];
    /** Requests the page sent on its WebSocket, parsed. */
    this.sent = [];
    page.on('websocket', (ws) => ws.on('framesent', (frame) => {
      try {
        this.sent.push(JSON.parse(frame.payload));
      } catch {
        // not JSON: not a request
      }
    }));
    page.on('pageerror', (error) => this.errors.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') this.errors.push(`console: ${message.text()}`);
    });
  }

  conv(id) {
    return this.page.locator(`${tid('conv-item')}[data-conv-id="${id}"]`);
  }

  badge(id) {
    return this.conv(id).locator(tid('unread-badge'));
  }

  message(text) {
    return this.page.locator(tid('message'), { has: this.page.locator(tid('message-text'), { hasText: text }) });
  }

  label(text) {
    return this.message(text).locator(tid('receipt-label'));
  }

  async open(id) {
    await this.conv(id).click();
    await this.page.locator(`#chat-pane[data-conv-id="${id}"]`).waitFor({ timeout: WAIT_MS });
  }

  async send(text, { receipts = true } = {}) {
    const toggle = this.page.locator(tid('receipt-toggle'));
    if (!(await toggle.isDisabled()) && (await toggle.isChecked()) !== receipts) await toggle.click();
    await this.page.locator(tid('composer-input')).fill(text);
    await this.page.locator(tid('send-button')).click();
    await this.message(text).waitFor({ timeout: WAIT_MS });
  }

  async online() {
    await this.page.locator('body[data-conn="online"]').waitFor({ timeout: WAIT_MS });
  }

  async unreadOf(id) {
    return Number(await this.conv(id).getAttribute('data-unread', { timeout: WAIT_MS }));
  }

  /** The total in the top bar (onTotalUnreadMessageCountChanged) and whether the tab's title
   * carries it. */
  async total() {
    const total = Number(await this.page.locator(tid('total-unread')).getAttribute('data-total', { timeout: WAIT_MS }));
    const title = await this.page.title();
    return { total, titled: total > 0 ? title.startsWith(`(${total}) `) : !title.startsWith('(') };
  }

  /** The sum of the list's badges. */
  async badgeSum() {
    const counts = await this.page.locator(tid('conv-item')).evaluateAll((items) => items.map((item) => Number(item.dataset.unread)));
    return counts.reduce((sum, n) => sum + n, 0);
  }

  /** Errors shown to the user (toasts). */
  async toasts() {
    return this.page.locator(tid('error-toast')).allTextContents();
  }
}

// ---------------------------------------------------------------------------------------------
// The suite.

describe('Tidings web chat', () => {
  let dataDir;
  let server;
  let browser;
  const users = {};

  async function signIn(name, query = '', options = {}) {
    const context = await browser.newContext({ viewport: DESKTOP, ...options });
    const page = await context.newPage();
    const user = new User(name, page, context);
    await page.goto(`${server.url}/?user=${encodeURIComponent(name)}${query}`);
    await waitText(`${name}'s name in the top bar`, page.locator(tid('me')), name);
    await user.online();
    return user;
  }

  before(async () => {
    assert.ok(existsSync(BIN), `${BIN} is missing: run cargo build -p tidings first`);
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
    rmSync(RESULTS, { recursive: true, force: true });
    mkdirSync(RESULTS, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'tidings-web-'));
    server = await startServer({ dataDir });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    // alice reads lists one member per page, to show paging.
    users.alice = await signIn('alice', '&memberPage=1');
    users.bob = await signIn('bob');
    users.carol = await signIn('carol');
  });

  after(async () => {
    const problems = Object.values(users).flatMap((u) => u.errors.map((e) => `${u.name}: ${e}`));
    await browser?.close();
    await server?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (problems.length) console.error(`page errors:\n${problems.join('\n')}`);
    console.log(`screenshots: ${RESULTS}`);
  });

  test('the sign-in page offers demo users', async () => {
    for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
      const context = await browser.newContext({ viewport });
      const page = await context.newPage();
      await page.goto(server.url);
      await page.locator(tid('demo-user-alice')).waitFor({ timeout: WAIT_MS });
      assert.equal(await page.locator(tid('login-sig')).isVisible(), false, 'demo mode needs no UserSig');
      // The hint names the demo group as the page does.
      assert.match(await page.locator(tid('login-mode')).textContent(), /share the group “Demo group”/);
      await assertContrast(page, `sign-in (${size})`);
      await assertLabelled(page, `sign-in (${size})`);
      await shot(page, `01-sign-in-${size}`);
      // Signing in moves the focus into the app.
      await page.locator(tid('demo-user-carol')).click();
      await page.locator('body[data-conn="online"]').waitFor({ timeout: WAIT_MS });
      await waitFor('the focus in the app', () => page.evaluate(() => {
        const active = document.activeElement;
        return active && (active.dataset.testid === 'conv-item' || active.id === 'new-chat-input');
      }));
      await context.close();
    }
  });

  test('group: Unread, then "1 read", then "All read", with read and unread member lists', async () => {
    const { alice, bob, carol } = users;
    for (const user of [alice, bob, carol]) await user.conv('group_demo').waitFor({ timeout: WAIT_MS });
    await alice.open('group_demo');
    await alice.send('Hello team, please confirm');
    await waitText("alice's label", alice.label('Hello team'), 'Unread');

    // bob has not opened the group yet: a badge, and no receipt.
    await waitFor("bob's unread badge", async () => (await bob.unreadOf('group_demo')) === 1);
    await waitText("bob's badge", bob.badge('group_demo'), '1');
    // The total in the top bar and the title follows the server's pushes: the sum of the badges.
    await waitFor("bob's total", async () => {
      const { total, titled } = await bob.total();
      return total >= 1 && titled && total === (await bob.badgeSum());
    });
    await shot(bob.page, '02-bob-unread-badge');
    await shot(alice.page, '03-alice-group-unread');

    // bob opens the group: the message is on screen, so it is receipted; the badge goes.
    await bob.open('group_demo');
    await bob.message('Hello team').waitFor({ timeout: WAIT_MS });
    await waitText("alice's label", alice.label('Hello team'), '1 read');
    await waitFor("bob's badge to clear", async () => (await bob.badge('group_demo').count()) === 0);
    await waitFor("bob's total without the group", async () => {
      const { total, titled } = await bob.total();
      return titled && total === (await bob.badgeSum());
    });
    await shot(alice.page, '04-alice-group-1-read');

    // alice opens the member lists: bob read it; carol and dave did not (one per page).
    await alice.label('Hello team').click();
    const dialog = alice.page.locator(tid('read-members-dialog'));
    await dialog.waitFor({ timeout: WAIT_MS });
    const readList = dialog.locator(tid('read-list')).locator(tid('member-item'));
    const unreadList = dialog.locator(tid('unread-list')).locator(tid('member-item'));
    await waitFor('one read member', async () => (await readList.count()) === 1);
    assert.match(await readList.first().textContent(), /^B\s*Bob\s*@bob$/, 'avatar initial, nickname, ID');
    // One member per page (memberPage=1): the list loads its next page while its end is in
    // view, until it is complete.
    await waitFor('both unread pages', async () => (await unreadList.count()) === 2);
    assert.deepEqual(
      (await unreadList.evaluateAll((items) => items.map((i) => i.dataset.userId))).sort(),
      ['carol', 'dave'],
    );
    const unreadPages = alice.sent.filter((f) => f.method === 'getGroupMessageReadMemberList' && f.params.filter === 1);
    assert.ok(unreadPages.length >= 2 && unreadPages.some((f) => f.params.nextSeq > 0), JSON.stringify(unreadPages));
    assert.equal(await dialog.locator(tid('read-empty')).isVisible(), false);
    assert.equal(await dialog.locator(tid('unread-empty')).isVisible(), false);
    // The dialog has the focus, on its close button.
    assert.equal(await alice.page.evaluate(() => document.activeElement.dataset.testid), 'members-close');
    await waitText('read count', dialog.locator(tid('read-count')), '(1)');
    await waitText('unread count', dialog.locator(tid('unread-count')), '(2)');
    await assertContrast(alice.page, 'member panel');
    await shot(alice.page, '05-alice-member-lists');
    await dialog.locator(tid('members-close')).click();
    // The focus returns to the label that opened it.
    assert.equal(await alice.page.evaluate(() => document.activeElement.dataset.testid), 'receipt-label');

    // carol views it: "2 read"; then dave, in a fourth context: "All read".
    await carol.open('group_demo');
    await waitText("alice's label", alice.label('Hello team'), '2 read');
    users.dave = await signIn('dave');
    await users.dave.open('group_demo');
    await waitText("alice's label", alice.label('Hello team'), 'All read');
    await shot(alice.page, '06-alice-group-all-read');

    // A list box that shows less than two rows: the next page comes only when its end is
    // scrolled into view.
    const short = await alice.page.addStyleTag({ content: '.member-list { max-height: 30px !important; }' });
    await alice.label('Hello team').click();
    await waitFor('two read members', async () => (await readList.count()) === 2);
    await assertStays('read members before scrolling', { textContent: async () => String(await readList.count()) }, '2', 1000);
    await dialog.locator(tid('read-list')).evaluate((list) => { list.scrollTop = list.scrollHeight; });
    await waitFor('the third read member, after the scroll', async () => (await readList.count()) === 3);
    await short.evaluate((style) => style.remove());
    assert.deepEqual((await readList.evaluateAll((items) => items.map((i) => i.dataset.userId))).sort(), ['bob', 'carol', 'dave']);
    assert.equal(await unreadList.count(), 0);
    await waitText('the empty side', dialog.locator(tid('unread-empty')), 'Everyone has read it.');
    const names = await readList.locator('.member-name').allTextContents();
    assert.deepEqual(names.sort(), ['Bob', 'Carol', 'Dave']);
    await shot(alice.page, '07-alice-member-lists-all-read');
    await dialog.locator(tid('members-close')).click();

    // Messages without a receipt request get no label, and are not receipted.
    await bob.send('no receipt needed', { receipts: false });
    await alice.message('no receipt needed').waitFor({ timeout: WAIT_MS });
    assert.equal(await bob.label('no receipt needed').count(), 0);
    // Own messages are never receipted by their sender: still exactly 3 readers.
    await waitText("alice's label", alice.label('Hello team'), 'All read');
  });

  test('C2C: "Unread" turns "Read" when bob views it; opening clears the badge', async () => {
    const { alice, bob } = users;
    await bob.open('group_demo'); // bob looks elsewhere
    await alice.page.locator(tid('new-chat-input')).fill('bob');
    await alice.page.locator(tid('new-chat-submit')).click();
    await alice.page.locator('#chat-pane[data-conv-id="c2c_bob"]').waitFor({ timeout: WAIT_MS });
    await alice.send('Hi Bob, did you see this?');
    await waitText("alice's C2C label", alice.label('Hi Bob'), 'Unread');

    await waitFor("bob's C2C badge", async () => (await bob.unreadOf('c2c_alice')) === 1);
    await shot(bob.page, '08-bob-c2c-badge');
    await shot(alice.page, '09-alice-c2c-unread');

    await bob.open('c2c_alice');
    await bob.message('Hi Bob').waitFor({ timeout: WAIT_MS });
    await waitText("alice's C2C label", alice.label('Hi Bob'), 'Read');
    await shot(alice.page, '10-alice-c2c-read');

    // bob answers; alice has the chat open: it arrives live and she reads it at once.
    await bob.send('Yes, got it', { receipts: true });
    await alice.message('Yes, got it').waitFor({ timeout: WAIT_MS });
    await waitText("bob's label", bob.label('Yes, got it'), 'Read');

    // The badge stays cleared away from the chat and after a reload (the server's count).
    await bob.open('group_demo');
    assert.equal(await bob.unreadOf('c2c_alice'), 0);
    await bob.page.reload();
    await bob.online();
    await bob.conv('c2c_alice').waitFor({ timeout: WAIT_MS });
    assert.equal(await bob.unreadOf('c2c_alice'), 0);
    assert.equal(await bob.badge('c2c_alice').count(), 0);
    await shot(bob.page, '11-bob-badge-cleared');
  });

  test('names, avatars and dates agree everywhere', async () => {
    const { alice, bob } = users;
    await alice.open('group_demo');
    // The group's name, as the sign-in hint, the README and the banner give it.
    await waitText('the group in the list', alice.conv('group_demo').locator(tid('conv-name')), 'Demo group');
    await waitText('the chat title', alice.page.locator(tid('chat-title')), 'Demo group');
    await waitText('the chat subtitle', alice.page.locator(tid('chat-subtitle')), 'Group demo · 4 members');
    // Nicknames from the profiles, with initials for avatars, in the list, previews and bubbles.
    await waitText("bob's C2C conversation", alice.conv('c2c_bob').locator(tid('conv-name')), 'Bob');
    await waitText('the name in the top bar', alice.page.locator(tid('me-name')), 'Alice');
    assert.equal(await alice.page.locator('#me-id').textContent(), '@alice');
    assert.equal(await alice.page.locator('#me-id').isVisible(), true);
    assert.equal(await alice.page.locator('.whoami [data-testid="avatar"]').textContent(), 'A');
    assert.equal(await alice.conv('c2c_bob').locator(tid('avatar')).textContent(), 'B');
    assert.equal(await alice.conv('group_demo').locator(tid('conv-preview')).textContent(), 'Bob: no receipt needed');
    const sender = alice.message('no receipt needed').locator(tid('message-sender'));
    await waitText("the bubble's sender", sender, 'Bob');
    assert.equal(await alice.message('no receipt needed').locator(tid('avatar')).textContent(), 'B');
    // Dates: a day separator, the clock on messages and in the list, the full date on hover.
    const separators = alice.page.locator(tid('day-separator'));
    assert.equal(await separators.count(), 1);
    assert.equal((await separators.first().textContent()).trim(), 'Today');
    const year = String(new Date().getFullYear());
    const time = alice.message('no receipt needed').locator(tid('message-time'));
    assert.match(await time.textContent(), /^\d{2}:\d{2}/);
    assert.ok((await time.getAttribute('title')).includes(year), await time.getAttribute('title'));
    const listTime = alice.conv('group_demo').locator(tid('conv-time'));
    assert.match(await listTime.textContent(), /^\d{2}:\d{2}/);
    assert.ok((await listTime.getAttribute('title')).includes(year));
    await shot(alice.page, '19-desktop-group-chat');

    // A day later, the same messages are "Yesterday" (the browser's clock moved, not the server's).
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    await page.clock.setFixedTime(new Date(Date.now() + 86400000));
    await page.goto(`${server.url}/?user=bob`);
    await page.locator('body[data-conn="online"]').waitFor({ timeout: WAIT_MS });
    const item = page.locator(`${tid('conv-item')}[data-conv-id="group_demo"]`);
    await waitText('the list time a day later', item.locator(tid('conv-time')), 'Yesterday');
    await item.click();
    await page.locator(tid('day-separator')).first().waitFor({ timeout: WAIT_MS });
    assert.equal((await page.locator(tid('day-separator')).first().textContent()).trim(), 'Yesterday');
    // The rules for older days, with the page's own module.
    const labels = await page.evaluate(async () => {
      const time = await import('/js/time.js');
      const now = new Date(2026, 5, 17, 12, 0); // a Wednesday
      const at = (y, m, d, h = 9) => new Date(y, m, d, h).getTime() / 1000;
      return [
        time.dayLabel(at(2026, 5, 17, 0), now),
        time.dayLabel(at(2026, 5, 16, 23), now),
        time.dayLabel(at(2026, 5, 14), now),
        time.dayLabel(at(2026, 4, 2), now).includes('May'),
        time.dayLabel(at(2025, 4, 2), now).includes('2025'),
        time.listTime(at(2026, 5, 14), now),
        time.listTime(at(2026, 4, 2), now).includes('May'),
      ];
    });
    assert.deepEqual(labels, ['Today', 'Yesterday', 'Sunday', true, true, 'Sun', true]);
    // A message's copy of its sender's profile names a sender not known yet, and never
    // overrides a known profile.
    const names = await page.evaluate(async () => {
      const people = await import('/js/people.js');
      people.learnSender({ sender: 'zed', nickName: 'Zed', faceURL: '' });
      people.learnSender({ sender: 'zed', nickName: 'Zed (old)', faceURL: '' });
      people.learnSender({ sender: 'bob', nickName: 'Bobby (old)', faceURL: '' });
      people.learnSender({ sender: 'yan' });
      return [people.nameOf('zed'), people.nameOf('bob'), people.nameOf('yan')];
    });
    assert.deepEqual(names, ['Zed', 'Bob', 'yan']);
    // A profile picture is shown where there is one; initials where there is none or it fails.
    const avatars = await page.evaluate(async () => {
      const people = await import('/js/people.js');
      const pixel = 'data:image/gif;base64,R0lGODlhAQABAAAAACw=';
      people.learn([{ userID: 'pic', nickName: 'Pic Ture', faceURL: pixel }, { userID: 'broken', nickName: 'Bro Ken', faceURL: 'data:image/png;base64,AAAA' }]);
      const withPicture = people.avatar({ userID: 'pic' });
      const broken = people.avatar({ userID: 'broken' });
      document.body.append(broken);
      await new Promise((resolve) => broken.querySelector('img').addEventListener('error', resolve));
      const result = [withPicture.querySelector('img')?.getAttribute('src') === pixel, broken.textContent, people.avatar({ userID: 'zed' }).textContent];
      broken.remove();
      return result;
    });
    assert.deepEqual(avatars, [true, 'BK', 'Z']);
    await context.close();
    void bob;
  });

  test('accessibility basics: roles, current marker, labels, live announcements, contrast', async () => {
    const { alice, bob } = users;
    await alice.open('c2c_bob');
    const items = alice.page.locator(tid('conv-item'));
    assert.deepEqual(await items.evaluateAll((all) => [...new Set(all.map((i) => i.tagName))]), ['BUTTON']);
    assert.deepEqual(
      await alice.page.locator(`${tid('conv-item')}[aria-current="true"]`).evaluateAll((all) => all.map((i) => i.dataset.convId)),
      ['c2c_bob'],
    );
    await assertLabelled(alice.page, 'the chat');
    await bob.open('c2c_alice');
    await bob.send('announce this', { receipts: true });
    const live = alice.page.locator(tid('live-region'));
    await waitFor('the announcement of the new message', async () => (await live.textContent()).includes('New message from Bob: announce this'));
    await alice.page.locator(tid('composer-input')).fill('and this one');
    await alice.page.locator(tid('send-button')).click();
    await waitText("alice's label", alice.label('and this one'), 'Read');
    await waitFor('the announcement of the receipt', async () => (await live.textContent()).includes('Your message “and this one”: Read'));
    await assertContrast(alice.page, 'the chat (desktop)');
    await shot(alice.page, '20-desktop-c2c-chat');
  });

  test('phone: the list and the chat are two screens, the member panel full-screen', async () => {
    const dave = await signIn('dave', '', { viewport: PHONE });
    users.davePhone = dave;
    const visible = (id) => dave.page.locator(`#${id}`).isVisible();
    assert.equal(await visible('sidebar'), true);
    assert.equal(await visible('chat'), false);
    await assertContrast(dave.page, 'the list (phone)');
    await shot(dave.page, '21-phone-list');

    await dave.open('group_demo');
    assert.equal(await visible('sidebar'), false);
    assert.equal(await visible('topbar'), false, 'one title: the chat header');
    assert.equal(await dave.page.locator(tid('chat-back')).isVisible(), true);
    const titles = await dave.page.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((e) => e.childElementCount === 0 && e.textContent.trim() === 'Demo group' && e.checkVisibility()).length);
    assert.equal(titles, 1);
    await dave.send('sent from a phone');
    await assertContrast(dave.page, 'the chat (phone)');
    await shot(dave.page, '22-phone-chat');

    await dave.label('sent from a phone').click();
    const dialog = dave.page.locator(tid('read-members-dialog'));
    await dialog.waitFor({ timeout: WAIT_MS });
    const box = await dialog.boundingBox();
    assert.deepEqual([box.x, box.y, box.width, box.height], [0, 0, PHONE.width, PHONE.height]);
    await waitFor('the unread members', async () => (await dialog.locator(tid('unread-list')).locator(tid('member-item')).count()) >= 1);
    await shot(dave.page, '23-phone-member-panel');
    await dialog.locator(tid('members-close')).click();

    // Back, by the page's button and by the browser's.
    await dave.page.locator(tid('chat-back')).click();
    await waitFor('the list again', () => visible('sidebar'));
    assert.equal(await visible('chat'), false);
    await dave.open('group_demo');
    await dave.page.goBack();
    await waitFor('the list after the browser back', () => visible('sidebar'));
    await dave.context.close();
  });

  test('history scrolls back page by page', async () => {
    const { alice } = users;
    await alice.page.locator(tid('new-chat-input')).fill('carol');
    await alice.page.locator(tid('new-chat-submit')).click();
    await alice.page.locator('#chat-pane[data-conv-id="c2c_carol"]').waitFor({ timeout: WAIT_MS });
    for (let i = 1; i <= 12; i += 1) await alice.send(`history ${String(i).padStart(2, '0')}`, { receipts: false });

    // A short window, so that one page of five fills it and the next waits for a scroll.
    const carol = await signIn('carol', '&historyPage=5', { viewport: { width: 1200, height: 360 } });
    await carol.open('c2c_alice');
    const texts = () => carol.page.locator(tid('message-text')).allTextContents();
    await waitFor('the newest page', async () => (await texts()).length === 5);
    assert.deepEqual(await texts(), ['history 08', 'history 09', 'history 10', 'history 11', 'history 12']);
    // The button, pressed where it is (a click would first scroll it into view, and reaching
    // the top loads the older page by itself).
    await carol.page.locator(tid('load-older')).dispatchEvent('click');
    await waitFor('the second page', async () => (await texts()).length === 10);
    await carol.page.locator(tid('message-list')).evaluate((list) => { list.scrollTop = 0; });
    await waitFor('the last page', async () => (await texts()).length === 12);
    await carol.page.locator(tid('history-start')).waitFor({ timeout: WAIT_MS });
    assert.deepEqual(await texts(), Array.from({ length: 12 }, (_, i) => `history ${String(i + 1).padStart(2, '0')}`));
    await shot(carol.page, '12-carol-history');
    await carol.context.close();

    // A tall window and pages of two: older pages load until the list can scroll (or the
    // conversation starts), since a list that cannot scroll cannot be scrolled back.
    const tall = await signIn('carol', '&historyPage=2');
    await tall.open('c2c_alice');
    await waitFor('a screen filled with history', () => tall.page.evaluate(() => {
      const list = document.getElementById('message-list');
      const start = !document.querySelector('[data-testid="history-start"]').hidden;
      return (start || list.scrollHeight > list.clientHeight) && document.querySelectorAll('[data-testid="message"]').length > 2;
    }));
    await tall.context.close();
  });

  test('a refused request is shown with its code', async () => {
    const { alice } = users;
    // The address names a chat with a user who does not exist (a link, an old bookmark).
    await alice.page.evaluate(() => { location.hash = 'c2c_nobody-here'; });
    await alice.page.locator('#chat-pane[data-conv-id="c2c_nobody-here"]').waitFor({ timeout: WAIT_MS });
    await alice.page.locator(tid('composer-input')).fill('hello?');
    await alice.page.locator(tid('send-button')).click();
    const toast = alice.page.locator(`${tid('error-toast')}[data-code="20003"]`);
    await toast.waitFor({ timeout: WAIT_MS });
    assert.match(await toast.textContent(), /Error 20003.*send/s);
    assert.equal(await alice.page.locator(tid('composer-input')).inputValue(), 'hello?', 'the text is kept to retry');
    await shot(alice.page, '13-refused-request');
    await toast.locator('button').click();
    // No such user: the conversation is not kept in the list, nor restored by a reload.
    await waitFor('the conversation to leave the list', async () => (await alice.conv('c2c_nobody-here').count()) === 0);
    await alice.page.reload();
    await alice.online();
    await alice.conv('c2c_bob').waitFor({ timeout: WAIT_MS });
    await alice.page.locator(tid('chat-placeholder')).waitFor({ timeout: WAIT_MS });
    assert.equal(await alice.conv('c2c_nobody-here').count(), 0);
    assert.equal(new URL(alice.page.url()).hash, '');

    // Where the server tells profiles (getUsersInfo), "Chat" with an unknown ID is refused at
    // once and opens nothing.
    const profiles = await alice.page.evaluate(() => window.tidingsDebug.state.conn
      .call('getUsersInfo', { userIDList: ['bob'] }).then(() => true, () => false));
    if (profiles) {
      await alice.page.locator(tid('new-chat-input')).fill('nobody-else');
      await alice.page.locator(tid('new-chat-submit')).click();
      await alice.page.locator(`${tid('error-toast')}[data-code="20003"]`).waitFor({ timeout: WAIT_MS });
      assert.equal(await alice.conv('c2c_nobody-else').count(), 0);
      await alice.page.locator(tid('chat-placeholder')).waitFor({ timeout: WAIT_MS });
    }

    // A reload restores the open conversation.
    await alice.open('c2c_bob');
    await alice.page.reload();
    await alice.online();
    await alice.page.locator('#chat-pane[data-conv-id="c2c_bob"]').waitFor({ timeout: WAIT_MS });
    await alice.message('Hi Bob').waitFor({ timeout: WAIT_MS });
  });

  test('a lost connection is shown, and the page reconnects and catches up', async () => {
    const { alice, bob } = users;
    await alice.open('c2c_bob');
    const groupUnread = await alice.unreadOf('group_demo');
    // The connection drops and stays down while bob writes: the push is missed.
    await alice.page.evaluate(() => window.tidingsDebug.dropConnection(true));
    const banner = alice.page.locator(tid('conn-banner'));
    await banner.waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.match(await banner.textContent(), /Connection lost/);
    await bob.open('c2c_alice');
    await bob.send('sent while you were away');
    await shot(alice.page, '14-connection-lost');
    await alice.page.evaluate(() => window.tidingsDebug.release());
    await alice.online();
    await alice.message('sent while you were away').waitFor({ timeout: WAIT_MS });
    // The catch-up reloaded the conversation list: every count is the server's, and alice has
    // read everything that arrived while she had a chat open.
    assert.equal(await alice.unreadOf('group_demo'), groupUnread, 'the group count is the same as before');
    await waitFor("alice's C2C count (she saw it)", async () => (await alice.unreadOf('c2c_bob')) === 0);
    await waitText("bob's label after alice caught up", bob.label('sent while you were away'), 'Read');

    // The server itself goes away and comes back on the same port and data.
    await server.stop();
    await banner.waitFor({ state: 'visible', timeout: WAIT_MS });
    await waitFor('the reconnect countdown', async () => /Reconnecting/.test(await banner.textContent()));
    await shot(alice.page, '15-server-down');
    server = await startServer({ dataDir, listen: `127.0.0.1:${server.port}` });
    await alice.online();
    await bob.online();
    await waitFor('the banner to go', async () => !(await banner.isVisible()), 8000);
    await bob.send('back again');
    await alice.message('back again').waitFor({ timeout: WAIT_MS });
    await waitText("bob's label after the restart", bob.label('back again'), 'Read');
  });

  test('a connection that stops answering is detected by the heartbeat', async () => {
    const { bob } = users;
    const banner = bob.page.locator(tid('conn-banner'));
    await waitFor('the previous banner to go', async () => !(await banner.isVisible()), 8000);
    // Frames vanish both ways, as on a dead connection after a laptop slept: nothing the page
    // sends arrives, and nothing the server sends (late pushes of earlier tests included) is read.
    await bob.page.evaluate(() => {
      const conn = window.tidingsDebug.state.conn;
      conn.ws.send = () => {};
      conn.ws.onmessage = () => {};
      conn.lastFrameAt = 0;
    });
    await waitFor('the heartbeat to give up', async () => /Connection lost/.test(await banner.textContent()), 20000);
    await bob.online();
    await waitFor('the banner to go', async () => !(await banner.isVisible()), 8000);
  });

  test('an expired UserSig is shown, and signing in again works', async () => {
    const erin = await signIn('erin', '&expire=3');
    const banner = erin.page.locator(tid('auth-banner'));
    await banner.waitFor({ state: 'visible', timeout: 10000 });
    assert.match(await banner.textContent(), /expired/i);
    assert.equal(await erin.page.locator('body').getAttribute('data-conn'), 'expired');
    await shot(erin.page, '16-usersig-expired');
    await erin.page.locator(tid('auth-renew')).click();
    await erin.online();
    await banner.waitFor({ state: 'hidden', timeout: WAIT_MS });
    await erin.context.close();
  });

  test('C2C "Read" only for what the peer saw; a "new messages" button below the fold', async () => {
    const frank = await signIn('frank');
    const gina = await signIn('gina', '&historyPage=50');
    users.frank = frank;
    users.gina = gina;
    await frank.page.locator(tid('new-chat-input')).fill('gina');
    await frank.page.locator(tid('new-chat-submit')).click();
    await frank.page.locator('#chat-pane[data-conv-id="c2c_gina"]').waitFor({ timeout: WAIT_MS });
    for (let i = 1; i <= 26; i += 1) await frank.send(`filler ${i}`, { receipts: false });
    await gina.conv('c2c_frank').waitFor({ timeout: WAIT_MS });
    await gina.open('c2c_frank');
    await gina.message('filler 26').waitFor({ timeout: WAIT_MS });
    await waitFor("gina's badge to clear (she saw the newest)", async () => (await gina.unreadOf('c2c_frank')) === 0);

    // gina scrolls back to the top; frank's next message arrives below the fold.
    await gina.page.locator(tid('message-list')).evaluate((list) => { list.scrollTop = 0; });
    await waitFor('the top of the history', async () => (await gina.page.locator(tid('message-list')).evaluate((list) => list.scrollTop)) === 0);
    await frank.send('below the fold');
    await gina.message('below the fold').waitFor({ state: 'attached', timeout: WAIT_MS });
    const newBelow = gina.page.locator(tid('new-below'));
    await waitText('the new-messages button', newBelow, '1 new message ↓');
    await waitFor("gina's badge: the message is unseen", async () => (await gina.unreadOf('c2c_frank')) === 1);
    assert.equal(await gina.message('below the fold').getAttribute('data-seen'), null, 'not seen');
    // Nothing on gina's screen changed: frank's label stays "Unread" (it turned "Read" within
    // half a second when the page marked the whole conversation read).
    await assertStays("frank's label", frank.label('below the fold'), 'Unread');
    await shot(gina.page, '18-gina-new-below');

    // gina follows the button: she sees it, the receipt goes out, the badge and button go.
    await newBelow.click();
    await waitText("frank's label", frank.label('below the fold'), 'Read');
    await waitFor("gina's badge to clear", async () => (await gina.unreadOf('c2c_frank')) === 0);
    await newBelow.waitFor({ state: 'hidden', timeout: WAIT_MS });
  });

  test('a visible window without focus sees nothing until focus returns', async () => {
    const { frank, gina } = users;
    // Real focus: another page of gina's browser comes to the front; hers stays visible.
    const cdp = await gina.context.newCDPSession(gina.page);
    await cdp.send('Emulation.setFocusEmulationEnabled', { enabled: false });
    const other = await gina.context.newPage();
    await other.bringToFront();
    await waitFor("gina's page to lose focus", async () => !(await gina.page.evaluate(() => document.hasFocus())));
    assert.equal(await gina.page.evaluate(() => document.visibilityState), 'visible');

    await frank.send('while you look away');
    await gina.message('while you look away').waitFor({ timeout: WAIT_MS });
    await waitFor("gina's badge", async () => (await gina.unreadOf('c2c_frank')) === 1);
    await assertStays("frank's label", frank.label('while you look away'), 'Unread');
    assert.equal(await gina.unreadOf('c2c_frank'), 1, 'the badge stays while unfocused');

    await gina.page.bringToFront();
    await waitText("frank's label", frank.label('while you look away'), 'Read');
    await waitFor("gina's badge to clear", async () => (await gina.unreadOf('c2c_frank')) === 0);
    await other.close();
    await cdp.send('Emulation.setFocusEmulationEnabled', { enabled: true });
  });

  test('images show as pictures of their stated size, files as download links with name and size', async () => {
    const { alice, bob } = users;
    // The app's media storage: a one-pixel PNG for every URL under it.
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
    for (const user of [alice, bob]) {
      await user.context.route('https://cdn.example/**', (route) => route.fulfill({ status: 200, contentType: 'image/png', body: png }));
    }
    await bob.open('c2c_alice');
    const send = (params) => alice.page.evaluate((p) => window.tidingsDebug.state.conn.call('sendMessage', p), params);
    const image = await send({ receiver: 'bob', imageElem: { uuid: 'i1', imageFormat: 3, imageList: [
      { type: 0, size: 204800, width: 1280, height: 960, url: 'https://cdn.example/o.png' },
      { type: 1, size: 4096, width: 198, height: 148, url: 'https://cdn.example/t.png' },
    ] } });
    const picture = bob.page.locator(`${tid('message')}[data-msg-id="${image.msgID}"] ${tid('message-image')}`);
    await picture.waitFor({ timeout: WAIT_MS });
    // The thumbnail, drawn at its stated size, links to the original.
    assert.equal(await picture.getAttribute('src'), 'https://cdn.example/t.png');
    assert.deepEqual([await picture.getAttribute('width'), await picture.getAttribute('height')], ['198', '148']);
    assert.equal(await picture.locator('xpath=..').getAttribute('href'), 'https://cdn.example/o.png');
    await waitFor('the thumbnail to load', () => picture.evaluate((img) => img.complete && img.naturalWidth === 1));
    const box = await picture.boundingBox();
    assert.deepEqual([Math.round(box.width), Math.round(box.height)], [198, 148]);

    const file = await send({ receiver: 'bob', fileElem: { UUID: 'f1', fileName: 'report Q3.pdf', fileSize: 12345, url: 'https://cdn.example/report.pdf' } });
    const link = bob.page.locator(`${tid('message')}[data-msg-id="${file.msgID}"] ${tid('message-file')}`);
    await link.waitFor({ timeout: WAIT_MS });
    assert.equal(await link.getAttribute('href'), 'https://cdn.example/report.pdf');
    assert.equal(await link.getAttribute('download'), 'report Q3.pdf');
    assert.deepEqual(await link.locator('span').allTextContents(), ['report Q3.pdf', '12.3 KB']);
    // The conversation list previews it as a line of text.
    await waitFor('the file preview', async () => (await bob.conv('c2c_alice').textContent()).includes('[file] report Q3.pdf (12.3 KB)'));
    await shot(bob.page, '20-image-and-file');
    // The sender's page shows the same.
    await alice.open('c2c_bob');
    await alice.page.locator(`${tid('message')}[data-msg-id="${image.msgID}"] ${tid('message-image')}`).waitFor({ timeout: WAIT_MS });
    await alice.page.locator(`${tid('message')}[data-msg-id="${file.msgID}"] ${tid('message-file')}`).waitFor({ timeout: WAIT_MS });
  });

  test('the profile dialog: a new nickname shows at once and reaches the peer with the next message', async () => {
    const { frank, gina } = users;
    const dialog = frank.page.locator(tid('profile-dialog'));
    await frank.page.locator(tid('profile-open')).click();
    await dialog.waitFor({ state: 'visible', timeout: WAIT_MS });
    await frank.page.locator(tid('profile-nick')).fill('Frank F.');
    await frank.page.locator(tid('profile-private')).check();
    await frank.page.locator(tid('profile-save')).click();
    await dialog.waitFor({ state: 'hidden', timeout: WAIT_MS });
    await waitText("frank's name in the top bar", frank.page.locator(tid('me-name')), 'Frank F.');
    // gina knew frank by his ID; his next message carries the new nickname.
    await frank.send('new name', { receipts: false });
    await gina.message('new name').waitFor({ timeout: WAIT_MS });
    await waitText("frank's name in gina's list", gina.conv('c2c_frank').locator(tid('conv-name')), 'Frank F.');
    // The dialog reads the profile back from the server: the switch is on; turn it off again.
    await frank.page.locator(tid('profile-open')).click();
    await dialog.waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.equal(await frank.page.locator(tid('profile-nick')).inputValue(), 'Frank F.');
    assert.equal(await frank.page.locator(tid('profile-private')).isChecked(), true);
    await frank.page.locator(tid('profile-private')).uncheck();
    await frank.page.locator(tid('profile-save')).click();
    await dialog.waitFor({ state: 'hidden', timeout: WAIT_MS });
  });

  test('a message to oneself has no receipt label', async () => {
    const { frank } = users;
    await frank.page.locator(tid('new-chat-input')).fill('frank');
    await frank.page.locator(tid('new-chat-submit')).click();
    await frank.page.locator('#chat-pane[data-conv-id="c2c_frank"]').waitFor({ timeout: WAIT_MS });
    // Nothing to ask for: nobody else can read it.
    assert.equal(await frank.page.locator(tid('receipt-toggle')).isDisabled(), true);
    await frank.send('note to self', { receipts: true });
    assert.equal(await frank.label('note to self').count(), 0);
    await frank.page.reload();
    await frank.online();
    await frank.open('c2c_frank');
    await frank.message('note to self').waitFor({ timeout: WAIT_MS });
    assert.equal(await frank.label('note to self').count(), 0, 'nor after a reload');
  });

  test('a push overtaken or missed: the chat shows every message once, in order', async () => {
    const { alice } = users;
    // ivy's pushes pass through the test, which holds back those that `hold` matches.
    const context = await browser.newContext({ viewport: DESKTOP });
    let hold = null;
    const held = [];
    let toPage = null;
    await context.routeWebSocket(/\/ws$/, (ws) => {
      const server = ws.connectToServer();
      toPage = (frame) => ws.send(frame);
      server.onMessage((frame) => (hold && hold.test(String(frame)) ? held.push(frame) : ws.send(frame)));
    });
    const page = await context.newPage();
    const ivy = new User('ivy', page, context);
    users.ivy = ivy;
    await page.goto(`${server.url}/?user=ivy`);
    await ivy.online();
    const send = (text) => alice.page.evaluate((t) => window.tidingsDebug.state.conn.call('sendMessage', { receiver: 'ivy', textElem: { text: t } }), text);
    await send('gap 1');
    await ivy.open('c2c_alice');
    await ivy.message('gap 1').waitFor({ timeout: WAIT_MS });

    // Overtaken: 2's push arrives after 3's.
    hold = /"event":"onRecvNewMessage".*"gap 2"/;
    await send('gap 2');
    await send('gap 3');
    await waitFor("2's push held back", () => held.length === 1);
    await new Promise((r) => setTimeout(r, 100));
    hold = null;
    toPage(held.shift());
    await ivy.message('gap 3').waitFor({ timeout: WAIT_MS });

    // Missed: 5's push never comes in time (it arrives late, after history filled it in).
    hold = /"event":"onRecvNewMessage".*"gap 5"/;
    await send('gap 4');
    await send('gap 5');
    await send('gap 6');
    await ivy.message('gap 6').waitFor({ timeout: WAIT_MS });
    await ivy.message('gap 5').waitFor({ timeout: WAIT_MS });
    hold = null;
    toPage(held.shift());
    await new Promise((r) => setTimeout(r, 500));

    const shown = await page.locator(tid('message')).evaluateAll((nodes) => nodes.map((n) => [Number(n.dataset.seq), n.querySelector('[data-testid="message-text"]').textContent]));
    assert.deepEqual(shown, [1, 2, 3, 4, 5, 6].map((i) => [i, `gap ${i}`]));
    // The page took them in order: the live region read them out in order, and the list's
    // preview is the newest.
    const spoken = await page.locator('#live p').allTextContents();
    assert.deepEqual(spoken.map((t) => /: (gap \d)$/.exec(t)?.[1]), ['gap 2', 'gap 3', 'gap 4', 'gap 5', 'gap 6']);
    assert.equal((await ivy.conv('c2c_alice').locator(tid('conv-preview')).textContent()).trim(), 'gap 6');
  });

  test('no page errors', () => {
    const problems = Object.values(users).flatMap((u) => u.errors.map((e) => `${u.name}: ${e}`))
      // A refused WebSocket while the server was down is logged by Chromium itself.
      .filter((e) => !/WebSocket connection to .* failed/.test(e));
    assert.deepEqual(problems, []);
  });
});

describe('Tidings web chat without demo mode', () => {
  test('the page asks for a UserSig, and one made by `tidings usersig` signs in', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tidings-web-nodemo-'));
    const server = await startServer({ dataDir, demo: false });
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: DESKTOP });
      await page.goto(server.url);
      await page.locator(tid('login-sig')).waitFor({ state: 'visible', timeout: WAIT_MS });
      assert.equal(await page.locator(tid('demo-users')).isVisible(), false);
      // A wrong UserSig is refused, with the server's code.
      await page.locator(tid('login-user')).fill('alice');
      await page.locator(tid('login-sig')).fill('not-a-usersig');
      await page.locator(tid('login-submit')).click();
      await waitFor('the refusal', async () => /Error 700\d\d/.test(await page.locator(tid('login-error')).textContent()));
      await shot(page, '17-sign-in-usersig-refused');
      const sig = execFileSync(BIN, ['usersig', '--data-dir', dataDir, '--user', 'alice']).toString().trim();
      await page.locator(tid('login-sig')).fill(sig);
      await page.locator(tid('login-submit')).click();
      await waitText('the signed-in user', page.locator(tid('me')), 'alice');
      await page.locator('body[data-conn="online"]').waitFor({ timeout: WAIT_MS });
    } finally {
      await browser.close();
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
