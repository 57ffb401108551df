// End-to-end tests of the Tidings web chat in headless Debian Chromium, driven by playwright-core.
//
// Builds nothing: starts the real server binary (target/debug/tidings, or $TIDINGS_BIN) in demo
// mode on 127.0.0.1:0 with a temporary data directory, reads the page's URL from its banner, and
// opens one browser context per user. Screenshots of the key screens go to web/test-results/.
// Run through ./scripts/test-web, or `npm test` here after `cargo build -p tidings`.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const BIN = process.env.TIDINGS_BIN || join(repo, 'target', 'debug', 'tidings');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const RESULTS = join(repo, 'web', 'test-results');
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

const tid = (id) => `[data-testid="${id}"]`;

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
    if ((await toggle.isChecked()) !== receipts) await toggle.click();
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

  async function signIn(name, query = '') {
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
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
  });

  test('the sign-in page offers demo users', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    const page = await context.newPage();
    await page.goto(server.url);
    await page.locator(tid('demo-user-alice')).waitFor({ timeout: WAIT_MS });
    assert.equal(await page.locator(tid('login-sig')).isVisible(), false, 'demo mode needs no UserSig');
    await shot(page, '01-sign-in-demo');
    await context.close();
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
    await shot(bob.page, '02-bob-unread-badge');
    await shot(alice.page, '03-alice-group-unread');

    // bob opens the group: the message is on screen, so it is receipted; the badge goes.
    await bob.open('group_demo');
    await bob.message('Hello team').waitFor({ timeout: WAIT_MS });
    await waitText("alice's label", alice.label('Hello team'), '1 read');
    await waitFor("bob's badge to clear", async () => (await bob.badge('group_demo').count()) === 0);
    await shot(alice.page, '04-alice-group-1-read');

    // alice opens the member lists: bob read it; carol and dave did not (one per page).
    await alice.label('Hello team').click();
    const dialog = alice.page.locator(tid('read-members-dialog'));
    await dialog.waitFor({ timeout: WAIT_MS });
    const readList = dialog.locator(tid('read-list')).locator(tid('member-item'));
    const unreadList = dialog.locator(tid('unread-list')).locator(tid('member-item'));
    await waitFor('one read member', async () => (await readList.count()) === 1);
    assert.match(await readList.first().textContent(), /Bob\s*\(bob\)/);
    await waitFor('first unread page', async () => (await unreadList.count()) === 1);
    assert.equal(await dialog.locator(tid('read-more')).isVisible(), false, 'the read list is complete');
    await dialog.locator(tid('unread-more')).click();
    await waitFor('second unread page', async () => (await unreadList.count()) === 2);
    assert.deepEqual(
      (await unreadList.evaluateAll((items) => items.map((i) => i.dataset.userId))).sort(),
      ['carol', 'dave'],
    );
    await waitFor('the unread list to be finished', async () => !(await dialog.locator(tid('unread-more')).isVisible()));
    await waitText('read count', dialog.locator(tid('read-count')), '(1)');
    await waitText('unread count', dialog.locator(tid('unread-count')), '(2)');
    await shot(alice.page, '05-alice-member-lists');
    await dialog.locator(tid('members-close')).click();

    // carol views it: "2 read"; then dave, in a fourth context: "All read".
    await carol.open('group_demo');
    await waitText("alice's label", alice.label('Hello team'), '2 read');
    users.dave = await signIn('dave');
    await users.dave.open('group_demo');
    await waitText("alice's label", alice.label('Hello team'), 'All read');
    await shot(alice.page, '06-alice-group-all-read');

    await alice.label('Hello team').click();
    await waitFor('read members, one per page', async () => {
      if (await dialog.locator(tid('read-more')).isVisible()) await dialog.locator(tid('read-more')).click();
      return (await readList.count()) === 3;
    });
    assert.deepEqual((await readList.evaluateAll((items) => items.map((i) => i.dataset.userId))).sort(), ['bob', 'carol', 'dave']);
    assert.equal(await unreadList.count(), 0);
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

  test('history scrolls back page by page', async () => {
    const { alice } = users;
    await alice.page.locator(tid('new-chat-input')).fill('carol');
    await alice.page.locator(tid('new-chat-submit')).click();
    await alice.page.locator('#chat-pane[data-conv-id="c2c_carol"]').waitFor({ timeout: WAIT_MS });
    for (let i = 1; i <= 12; i += 1) await alice.send(`history ${String(i).padStart(2, '0')}`, { receipts: false });

    const carol = await signIn('carol', '&historyPage=5');
    await carol.open('c2c_alice');
    const texts = () => carol.page.locator(tid('message-text')).allTextContents();
    await waitFor('the newest page', async () => (await texts()).length === 5);
    assert.deepEqual(await texts(), ['history 08', 'history 09', 'history 10', 'history 11', 'history 12']);
    await carol.page.locator(tid('load-older')).click();
    await waitFor('the second page', async () => (await texts()).length === 10);
    await carol.page.locator(tid('message-list')).evaluate((list) => { list.scrollTop = 0; });
    await waitFor('the last page', async () => (await texts()).length === 12);
    await carol.page.locator(tid('history-start')).waitFor({ timeout: WAIT_MS });
    assert.deepEqual(await texts(), Array.from({ length: 12 }, (_, i) => `history ${String(i + 1).padStart(2, '0')}`));
    await shot(carol.page, '12-carol-history');
    await carol.context.close();
  });

  test('a refused request is shown with its code', async () => {
    const { alice } = users;
    await alice.page.locator(tid('new-chat-input')).fill('nobody-here');
    await alice.page.locator(tid('new-chat-submit')).click();
    await alice.page.locator('#chat-pane[data-conv-id="c2c_nobody-here"]').waitFor({ timeout: WAIT_MS });
    await alice.page.locator(tid('composer-input')).fill('hello?');
    await alice.page.locator(tid('send-button')).click();
    const toast = alice.page.locator(`${tid('error-toast')}[data-code="20003"]`);
    await toast.waitFor({ timeout: WAIT_MS });
    assert.match(await toast.textContent(), /Error 20003.*send/s);
    assert.equal(await alice.page.locator(tid('composer-input')).inputValue(), 'hello?', 'the text is kept to retry');
    await shot(alice.page, '13-refused-request');
    await toast.locator('button').click();
  });

  test('a lost connection is shown, and the page reconnects and catches up', async () => {
    const { alice, bob } = users;
    await alice.open('c2c_bob');
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
    assert.equal(await alice.unreadOf('group_demo'), 0, "alice read bob's group message while the group was open");
    assert.equal(await alice.unreadOf('c2c_bob'), 0);
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
      const page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
      await page.goto(server.url);
      await page.locator(tid('login-sig')).waitFor({ state: 'visible', timeout: WAIT_MS });
      assert.equal(await page.locator(tid('demo-users')).isVisible(), false);
      // A wrong UserSig is refused, with the server's code.
      await page.locator(tid('login-user')).fill('alice');
      await page.locator(tid('login-sig')).fill('not-a-usersig');
      await page.locator(tid('login-submit')).click();
      await waitFor('the refusal', async () => /Error 700\d\d/.test(await page.locator(tid('login-error')).textContent()));
      await shot(page, '17-sign-in-usersig-refused');
      const key = readFileSync(join(dataDir, 'secret.key'), 'utf8').trim();
      const sig = execFileSync(BIN, ['usersig', '--sdkappid', '1400000000', '--secret-key', key, '--user', 'alice']).toString().trim();
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
