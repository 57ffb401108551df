// Tidings web chat: plain JavaScript, no build step, served by the server at /.
//
// It speaks only the documented WebSocket protocol at /ws: JSON requests
// {id, method, params}, responses {id, code, desc, data} and pushes {event, data}, with V2TIM's
// method, event and field names. Read receipts behave as in Tencent's TUIKit: messages that
// become visible on screen are receipted automatically (own messages, messages without
// needReadReceipt and messages already receipted are skipped, each message once, batched per
// conversation); the sender's label shows "Unread"/"Read" (C2C) or "Unread"/"N read"/"All read"
// (groups), live; opening a conversation marks it read.
'use strict';

(() => {
  // ---------------------------------------------------------------------------------------
  // Settings (URL parameters are for trying things out and for the browser tests).

  const query = new URLSearchParams(location.search);
  const intParam = (name, min, max, fallback) => {
    const value = Number.parseInt(query.get(name) ?? '', 10);
    return Number.isFinite(value) ? Math.min(max, Math.max(min, value)) : fallback;
  };
  /** Page size of history requests (scroll back). */
  const HISTORY_PAGE = intParam('historyPage', 1, 100, 20);
  /** Page size of read/unread member lists (TUIKit uses 100). */
  const MEMBER_PAGE = intParam('memberPage', 1, 100, 100);
  /** Demo mode only: lifetime of the UserSig asked for at sign-in, in seconds. */
  const SIG_EXPIRE = query.has('expire') ? intParam('expire', 1, 86400, 86400) : undefined;
  const REQUEST_TIMEOUT_MS = 15000;
  /** Browsers cannot send WebSocket pings: after this long without a frame, ask something cheap. */
  const HEARTBEAT_IDLE_MS = 25000;
  /** A heartbeat unanswered for this long means a dead connection (e.g. after sleep). */
  const HEARTBEAT_TIMEOUT_MS = 10000;
  const RECEIPT_BATCH = 100;
  const RECEIPT_FLUSH_MS = 120;
  const BACKOFF_INITIAL_MS = 500;
  const BACKOFF_MAX_MS = 10000;

  /** UserSig problems: codes the server answers a login with. */
  const SIG_CODES = new Set([70001, 70002, 70003, 70009, 70013, 70014, 70052]);

  // ---------------------------------------------------------------------------------------
  // Small DOM helpers.

  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key === 'testid') node.dataset.testid = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  };
  const isValidId = (id) => /^[\x21-\x7e]{1,32}$/.test(id);
  const timeOf = (seconds) => new Date(seconds * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** A refused or failed request: `code` from the server (or -1 locally) and its `desc`. */
  class RequestError extends Error {
    constructor(method, code, desc) {
      super(`${method}: ${code} ${desc}`);
      this.method = method;
      this.code = code;
      this.desc = desc;
    }
  }

  // ---------------------------------------------------------------------------------------
  // The WebSocket connection: requests with ids, responses, pushes.

  class Connection {
    constructor({ onPush, onClose }) {
      this.onPush = onPush;
      this.onClose = onClose;
      this.ws = null;
      this.nextId = 1;
      this.pending = new Map();
      this.closedOnPurpose = false;
      this.lastFrameAt = Date.now();
    }

    /** Opens the socket; resolves once open, rejects when it cannot open. */
    open() {
      const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
      return new Promise((resolve, reject) => {
        let opened = false;
        const ws = new WebSocket(url);
        this.ws = ws;
        ws.onopen = () => {
          opened = true;
          resolve();
        };
        ws.onmessage = (event) => this.receive(event.data);
        ws.onclose = (event) => {
          if (!opened) reject(new RequestError('connect', -1, `cannot connect to ${url}`));
          else if (!this.closedOnPurpose) this.onClose(event);
          this.failPending('the connection closed');
        };
      });
    }

    get isOpen() {
      return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
    }

    receive(text) {
      this.lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(text);
      } catch {
        showError(new RequestError('frame', -1, `unreadable frame from the server: ${String(text).slice(0, 80)}`));
        return;
      }
      if (typeof frame.event === 'string') {
        this.onPush(frame.event, frame.data);
        return;
      }
      const waiter = this.pending.get(frame.id);
      if (!waiter) {
        if (frame.code) showError(new RequestError('server', frame.code, frame.desc));
        return;
      }
      this.pending.delete(frame.id);
      clearTimeout(waiter.timer);
      if (frame.code === 0) waiter.resolve(frame.data);
      else waiter.reject(new RequestError(waiter.method, frame.code, frame.desc));
    }

    call(method, params = {}, timeoutMs = REQUEST_TIMEOUT_MS) {
      if (!this.isOpen) return Promise.reject(new RequestError(method, -1, 'not connected to the server'));
      const id = this.nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new RequestError(method, -1, `no answer within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        this.pending.set(id, { method, resolve, reject, timer });
        this.ws.send(JSON.stringify({ id, method, params }));
      });
    }

    failPending(why) {
      for (const [id, waiter] of this.pending) {
        clearTimeout(waiter.timer);
        waiter.reject(new RequestError(waiter.method, -1, why));
        this.pending.delete(id);
      }
    }

    /** Gives up on a connection that stopped answering; reports it lost at once. */
    abandon() {
      if (this.closedOnPurpose) return;
      this.closedOnPurpose = true;
      if (this.ws) this.ws.close(4001, 'no answer');
      this.onClose({ code: 4001 });
      this.failPending('the connection stopped answering');
    }

    close() {
      this.closedOnPurpose = true;
      if (this.ws) this.ws.close(1000, 'bye');
      this.failPending('signed out');
    }
  }

  // ---------------------------------------------------------------------------------------
  // State.

  const state = {
    demo: null, // true / false once probed
    me: null, // user ID
    userSig: null,
    conn: null, // Connection
    status: 'signed-out', // signed-out | connecting | online | reconnecting | expired | kicked
    attempt: 0,
    reconnectTimer: null,
    countdownTimer: null,
    holdReconnect: false, // test hook: keep the connection down
    conversations: new Map(), // conversationID -> Conversation
    open: null, // the open chat, see openChat()
    receiptsSent: new Set(), // msgIDs receipted (or being receipted) in this session
    receiptQueue: new Map(), // conversationID -> Set(msgID) waiting to be sent
    receiptTimer: null,
    readState: new Map(), // group msgID -> {readCount, unreadCount}
    markTimer: null,
    markPending: null, // the chat a scheduled mark-as-read is for
    drafts: new Map(), // conversationID -> unsent text
    convReloadTimer: null,
    members: null, // the open member-list dialog
  };

  const call = (method, params) => {
    if (!state.conn) return Promise.reject(new RequestError(method, -1, 'not signed in'));
    return state.conn.call(method, params);
  };

  const convIdOf = (msg) => (msg.groupID ? `group_${msg.groupID}` : `c2c_${msg.userID}`);
  const pageVisible = () => document.visibilityState === 'visible';

  function setStatus(status) {
    state.status = status;
    document.body.dataset.conn = status;
    $('conn-dot').title = status;
  }

  // ---------------------------------------------------------------------------------------
  // Errors and banners: shown, never swallowed.

  function showError(error, context) {
    const code = error instanceof RequestError ? error.code : -1;
    const desc = error instanceof RequestError ? error.desc : String(error && error.message ? error.message : error);
    const method = error instanceof RequestError ? error.method : '';
    console.warn('tidings:', context || method, code, desc);
    // A request cut off by a lost connection: the banner says so, and the catch-up after the
    // reconnect redoes the background work. Only the user's own sends are reported.
    if (code === -1 && state.status !== 'online' && state.status !== 'connecting' && context !== 'send') return;
    const toast = el('div', { class: 'toast', testid: 'error-toast', role: 'alert', 'data-code': code },
      el('span', { class: 'code', text: code === -1 ? 'Error' : `Error ${code}` }),
      ` ${context || method}: ${desc}`,
      el('button', { type: 'button', 'aria-label': 'dismiss', text: '×', onclick: () => toast.remove() }));
    $('errors').append(toast);
    setTimeout(() => toast.remove(), 15000);
  }

  function connBanner(text, kind = 'warn', retry = false) {
    const banner = $('conn-banner');
    banner.hidden = text === null;
    if (text === null) return;
    banner.className = `banner ${kind === 'ok' ? 'banner-ok' : kind === 'error' ? 'banner-error' : ''}`;
    banner.dataset.kind = kind;
    $('conn-banner-text').textContent = text;
    $('conn-retry').hidden = !retry;
  }

  function authBanner(text) {
    $('auth-banner').hidden = text === null;
    if (text !== null) $('auth-banner-text').textContent = text;
  }

  // ---------------------------------------------------------------------------------------
  // Sign-in.

  /** The server marks the page it serves with data-demo="on" in demo mode. */
  function setupLoginMode() {
    state.demo = document.body.dataset.demo === 'on';
    $('login-sig-field').hidden = state.demo;
    $('login-sig').required = !state.demo;
    $('demo-users').hidden = !state.demo;
    $('login-mode').textContent = state.demo
      ? 'Demo mode: sign in as any user name; the server issues its UserSig. alice, bob, carol and dave share the group "Demo group".'
      : 'Enter your user ID and a UserSig for it (make one with `tidings usersig`).';
    if (state.demo) {
      const box = $('demo-users');
      box.replaceChildren('Try: ');
      for (const name of ['alice', 'bob', 'carol', 'dave']) {
        box.append(el('button', { type: 'button', testid: `demo-user-${name}`, text: name, onclick: () => signIn(name, '') }));
      }
    }
  }

  async function demoSig(userID, expire) {
    const body = { userID };
    if (expire !== undefined) body.expire = expire;
    const response = await fetch('/demo/usersig', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new RequestError('demo/usersig', response.status, data.error || response.statusText);
    return data.userSig;
  }

  function loginError(text) {
    $('login-error').hidden = !text;
    $('login-error').textContent = text || '';
  }

  async function signIn(userID, userSig) {
    userID = userID.trim();
    userSig = userSig.trim();
    loginError(null);
    if (!isValidId(userID)) {
      loginError('A user ID is 1 to 32 printable ASCII characters without spaces.');
      return;
    }
    $('login-submit').disabled = true;
    try {
      if (state.demo && !userSig) userSig = await demoSig(userID, SIG_EXPIRE);
      if (!userSig) throw new RequestError('login', 70002, 'enter a UserSig');
      state.me = userID;
      state.userSig = userSig;
      setStatus('connecting');
      await connect();
      sessionStorage.setItem('tidings.session', JSON.stringify({ userID, userSig: state.demo ? '' : userSig }));
      showApp();
    } catch (error) {
      teardown();
      setStatus('signed-out');
      loginError(error instanceof RequestError ? `${error.code === -1 ? '' : `Error ${error.code}: `}${error.desc}` : String(error));
      showLogin();
    } finally {
      $('login-submit').disabled = false;
    }
  }

  /** Opens a connection and logs in; throws on failure (the caller decides what to show). */
  async function connect() {
    if (state.conn) state.conn.close();
    const conn = new Connection({ onPush, onClose: () => connectionLost(conn) });
    state.conn = conn;
    await conn.open();
    await conn.call('login', { userID: state.me, userSig: state.userSig });
    setStatus('online');
    state.attempt = 0;
    authBanner(null);
    catchUp().catch((error) => showError(error, 'catch-up after login'));
  }

  /** Reloads everything the pushes may have missed: conversations, the open chat, receipts. */
  async function catchUp() {
    await loadConversations();
    if (state.open) await reloadOpenChat(state.open);
    flushReceipts();
    rescanVisible();
  }

  function teardown() {
    if (state.conn) state.conn.close();
    state.conn = null;
    stopReconnectTimers();
  }

  function signOut() {
    if (state.conn && state.conn.isOpen) state.conn.call('logout').catch(() => {});
    teardown();
    setStatus('signed-out');
    closeMembers();
    closeChat();
    sessionStorage.removeItem('tidings.session');
    state.me = null;
    state.userSig = null;
    state.conversations.clear();
    state.receiptsSent.clear();
    state.receiptQueue.clear();
    state.readState.clear();
    state.drafts.clear();
    $('composer-input').value = '';
    renderConversations();
    connBanner(null);
    authBanner(null);
    showLogin();
  }

  function showLogin() {
    $('app').hidden = true;
    $('login-screen').hidden = false;
    if (state.me) $('login-user').value = state.me;
  }

  function showApp() {
    $('login-screen').hidden = true;
    $('app').hidden = false;
    $('me').textContent = state.me;
  }

  // ---------------------------------------------------------------------------------------
  // Lost connection: banner, reconnect with backoff, catch-up.

  function connectionLost(conn) {
    if (conn !== state.conn || state.status === 'signed-out' || state.status === 'kicked') return;
    if (state.status === 'expired') return;
    setStatus('reconnecting');
    scheduleReconnect();
  }

  function stopReconnectTimers() {
    clearTimeout(state.reconnectTimer);
    clearInterval(state.countdownTimer);
    state.reconnectTimer = null;
    state.countdownTimer = null;
  }

  function scheduleReconnect() {
    stopReconnectTimers();
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** state.attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    state.attempt += 1;
    const due = Date.now() + delay;
    const tick = () => {
      const left = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      connBanner(`Connection lost. Reconnecting in ${left} s (attempt ${state.attempt})…`, 'warn', true);
    };
    tick();
    state.countdownTimer = setInterval(tick, 500);
    state.reconnectTimer = setTimeout(reconnect, delay);
  }

  async function reconnect() {
    stopReconnectTimers();
    if (state.status !== 'reconnecting') return;
    if (state.holdReconnect) {
      connBanner('Connection lost. Waiting to reconnect…', 'warn', true);
      return;
    }
    connBanner('Connection lost. Reconnecting now…', 'warn');
    try {
      await connect();
      connBanner('Reconnected; caught up.', 'ok');
      setTimeout(() => {
        if (state.status === 'online') connBanner(null);
      }, 2500);
    } catch (error) {
      if (error instanceof RequestError && SIG_CODES.has(error.code)) {
        sigProblem(`The server refused the UserSig (error ${error.code}: ${error.desc}).`);
        return;
      }
      if (error instanceof RequestError && error.code !== -1) showError(error, 'login after reconnect');
      if (state.status === 'reconnecting') scheduleReconnect();
    }
  }

  function retryNow() {
    if (state.status !== 'reconnecting') return;
    state.holdReconnect = false;
    reconnect();
  }

  function sigProblem(text) {
    setStatus('expired');
    connBanner(null);
    teardown();
    authBanner(`${text} ${state.demo ? 'Sign in again to get a fresh one.' : 'Sign in again with a fresh UserSig.'}`);
  }

  async function renewSignIn() {
    if (state.status === 'kicked' || state.status === 'expired') {
      if (!state.demo) {
        const me = state.me;
        signOut();
        $('login-user').value = me;
        loginError('Sign in again with a fresh UserSig.');
        return;
      }
      try {
        state.userSig = await demoSig(state.me);
        setStatus('connecting');
        await connect();
        authBanner(null);
      } catch (error) {
        teardown();
        setStatus('expired');
        showError(error, 'sign in again');
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Pushes.

  function onPush(event, data) {
    switch (event) {
      case 'onRecvNewMessage':
        return onNewMessage(data);
      case 'onConversationChanged':
        for (const conv of data) state.conversations.set(conv.conversationID, conv);
        return renderConversations();
      case 'onRecvMessageReadReceipts':
        return onMessageReceipts(data);
      case 'onRecvC2CReadReceipt':
        return onC2CReadReceipt(data);
      case 'onMessageReceiptsSent':
        return onReceiptsSentElsewhere(data.messageIDList || []);
      case 'onUserSigExpired':
        return sigProblem('Your UserSig expired (onUserSigExpired).');
      case 'onKickedOffline':
        setStatus('kicked');
        teardown();
        connBanner(null);
        return authBanner(`Signed out by the server (onKickedOffline): ${data.reason || 'no reason given'}.`);
      case 'onMemberEnter':
      case 'onMemberInvited':
        if ((data.memberList || []).some((m) => m.userID === state.me)) scheduleConversationReload();
        if (state.open && state.open.groupID === data.groupID) loadGroupNames(state.open);
        return undefined;
      case 'onMemberLeave':
        if (data.member && data.member.userID === state.me) leftGroup(data.groupID, 'You left');
        return undefined;
      case 'onMemberKicked':
        if ((data.memberList || []).some((m) => m.userID === state.me)) leftGroup(data.groupID, 'You were removed from');
        return undefined;
      case 'onGroupDismissed':
        return leftGroup(data.groupID, 'Dismissed:');
      default:
        return console.debug('tidings: push', event, data);
    }
  }

  function leftGroup(groupID, why) {
    const id = `group_${groupID}`;
    const name = state.conversations.get(id)?.showName || groupID;
    state.conversations.delete(id);
    renderConversations();
    if (state.open && state.open.id === id) closeChat();
    showError(new RequestError('group', -1, `${why} ${name}`), 'group');
  }

  function onNewMessage(msg) {
    const id = convIdOf(msg);
    const open = state.open && state.open.id === id ? state.open : null;
    if (open) {
      addMessages(open, [msg], { live: true });
      if (!msg.isSelf && pageVisible()) scheduleMarkRead();
    }
    let conv = state.conversations.get(id);
    if (!conv) {
      conv = placeholderConversation(id, msg);
      state.conversations.set(id, conv);
      if (msg.groupID) scheduleConversationReload();
    }
    conv.lastMessage = msg;
    conv.orderKey = Math.max(conv.orderKey || 0, msg.timestamp);
    // Group messages come without onConversationChanged (one push per member would be too
    // many): count them here. C2C counts come from the server's onConversationChanged.
    if (msg.groupID && !msg.isSelf && !msg.isExcludedFromUnreadCount && !(open && pageVisible())) {
      conv.unreadCount = (conv.unreadCount || 0) + 1;
    }
    renderConversations();
  }

  function onMessageReceipts(receipts) {
    for (const receipt of receipts) {
      let changed = false;
      if (receipt.groupID) {
        const before = state.readState.get(receipt.msgID);
        const after = { readCount: receipt.readCount ?? 0, unreadCount: receipt.unreadCount ?? 0 };
        changed = !before || before.provisional || before.readCount !== after.readCount || before.unreadCount !== after.unreadCount;
        state.readState.set(receipt.msgID, after);
      }
      const open = state.open;
      const msg = open && open.messages.get(receipt.msgID);
      if (msg && !receipt.groupID && receipt.isPeerRead) msg.receiptPeerRead = true;
      if (msg) updateReceiptLabel(open, msg);
      // The member lists follow the counts live.
      if (changed && state.members && state.members.msg.msgID === receipt.msgID) refreshMemberDialog();
    }
  }

  function onC2CReadReceipt(list) {
    for (const { userID, timestamp } of list) {
      const open = state.open;
      if (!open || open.userID !== userID) continue;
      for (const msg of open.messages.values()) {
        if (msg.isSelf && !msg.isPeerRead && msg.timestamp <= timestamp) {
          msg.isPeerRead = true;
          updateReceiptLabel(open, msg);
        }
      }
    }
  }

  function onReceiptsSentElsewhere(ids) {
    for (const id of ids) {
      state.receiptsSent.add(id);
      const msg = state.open && state.open.messages.get(id);
      if (msg) msg.hasSentReceipt = true;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Conversations.

  function placeholderConversation(id, msg) {
    const group = id.startsWith('group_');
    const key = id.slice(group ? 6 : 4);
    return {
      conversationID: id,
      type: group ? 2 : 1,
      userID: group ? undefined : key,
      groupID: group ? key : undefined,
      showName: key,
      unreadCount: 0,
      lastMessage: msg || null,
      orderKey: msg ? msg.timestamp : Math.floor(Date.now() / 1000),
    };
  }

  async function loadConversations() {
    const fresh = new Map();
    let nextSeq = 0;
    for (let page = 0; page < 1000; page += 1) {
      const result = await call('getConversationList', { nextSeq, count: 100 });
      for (const conv of result.conversationList) fresh.set(conv.conversationID, conv);
      if (result.isFinished || result.conversationList.length === 0 || result.nextSeq === nextSeq) break;
      nextSeq = result.nextSeq;
    }
    // Keep a conversation opened by hand that has no message yet.
    if (state.open && !fresh.has(state.open.id)) fresh.set(state.open.id, state.conversations.get(state.open.id) || placeholderConversation(state.open.id));
    state.conversations = fresh;
    renderConversations();
  }

  function scheduleConversationReload() {
    clearTimeout(state.convReloadTimer);
    state.convReloadTimer = setTimeout(() => {
      loadConversations().catch((error) => showError(error, 'conversation list'));
    }, 200);
  }

  function previewOf(msg) {
    if (!msg) return '';
    const body = textOf(msg);
    return msg.groupID && !msg.isSelf ? `${msg.sender}: ${body}` : msg.isSelf ? `You: ${body}` : body;
  }

  function textOf(msg) {
    if (msg.textElem) return msg.textElem.text;
    if (msg.customElem) return `[custom] ${msg.customElem.desc || msg.customElem.data}`;
    return '[message]';
  }

  function renderConversations() {
    const list = $('conv-list');
    const sorted = [...state.conversations.values()].sort((a, b) => (b.orderKey || 0) - (a.orderKey || 0));
    list.replaceChildren(...sorted.map((conv) => {
      const active = state.open && state.open.id === conv.conversationID;
      // The open chat is being read: its count goes to 0 with the next mark-as-read.
      const unread = active && pageVisible() ? 0 : conv.unreadCount || 0;
      return el('li', {
        class: `conv${active ? ' active' : ''}`,
        testid: 'conv-item',
        'data-conv-id': conv.conversationID,
        'data-unread': unread,
        tabindex: 0,
        onclick: () => openConversation(conv.conversationID),
        onkeydown: (e) => { if (e.key === 'Enter') openConversation(conv.conversationID); },
      },
      el('span', { class: 'conv-name', testid: 'conv-name' }, conv.showName || conv.conversationID,
        el('span', { class: 'conv-kind', text: conv.type === 2 ? 'group' : '' })),
      unread > 0 ? el('span', { class: 'badge', testid: 'unread-badge', text: unread > 99 ? '99+' : String(unread) }) : null,
      el('span', { class: 'conv-preview', testid: 'conv-preview', text: previewOf(conv.lastMessage) }));
    }));
    $('conv-empty').hidden = sorted.length > 0;
  }

  // ---------------------------------------------------------------------------------------
  // The open chat.

  const observer = new IntersectionObserver(onIntersect, { root: $('message-list'), threshold: [0, 0.5, 1] });

  function closeChat() {
    flushMarkRead();
    if (state.open) state.drafts.set(state.open.id, $('composer-input').value);
    observer.disconnect();
    state.open = null;
    $('messages').replaceChildren();
    $('chat-pane').hidden = true;
    $('chat-placeholder').hidden = false;
    renderConversations();
  }

  function openConversation(id) {
    if (state.open && state.open.id === id) return;
    let conv = state.conversations.get(id);
    if (!conv) {
      conv = placeholderConversation(id);
      state.conversations.set(id, conv);
    }
    flushMarkRead();
    if (state.open) state.drafts.set(state.open.id, $('composer-input').value);
    $('composer-input').value = state.drafts.get(id) || '';
    observer.disconnect();
    const open = {
      id,
      userID: conv.userID,
      groupID: conv.groupID,
      messages: new Map(), // msgID -> Message
      elements: new Map(), // msgID -> element
      finished: false,
      loadingOlder: false,
      names: new Map(), // group: userID -> nickname
    };
    state.open = open;
    $('chat-placeholder').hidden = true;
    $('chat-pane').hidden = false;
    $('chat-pane').dataset.convId = id;
    $('chat-title').textContent = conv.showName || id;
    $('chat-subtitle').textContent = conv.groupID ? `group ${conv.groupID}` : `chat with ${conv.userID}`;
    $('messages').replaceChildren();
    $('history-start').hidden = true;
    $('load-older').hidden = false;
    renderConversations();
    reloadOpenChat(open).catch((error) => showError(error, 'open conversation'));
    $('composer-input').focus();
  }

  /** Loads the newest history page (on open and after a reconnect), receipts and names. */
  async function reloadOpenChat(open) {
    const page = await fetchHistory(open);
    if (state.open !== open) return;
    const newest = page.slice().reverse();
    const known = [...open.messages.values()];
    const maxKnown = known.reduce((max, m) => Math.max(max, m.seq || 0), 0);
    // After a gap (missed more than a page), start over from the newest page.
    if (known.length && newest.length && newest[0].seq > maxKnown + 1) {
      open.messages.clear();
      open.elements.clear();
      observer.disconnect();
      $('messages').replaceChildren();
    }
    if (!known.length || !open.messages.size) setFinished(open, page.length < HISTORY_PAGE);
    addMessages(open, newest, { scrollToEnd: true });
    markRead();
    if (open.groupID) {
      loadGroupNames(open);
      await fetchGroupReceipts(open, [...open.messages.values()]);
    }
    rescanVisible();
  }

  function fetchHistory(open, lastMsgID) {
    const params = { count: HISTORY_PAGE };
    if (lastMsgID) params.lastMsgID = lastMsgID;
    return open.groupID
      ? call('getGroupHistoryMessageList', { groupID: open.groupID, ...params })
      : call('getC2CHistoryMessageList', { userID: open.userID, ...params });
  }

  function setFinished(open, finished) {
    open.finished = finished;
    $('load-older').hidden = finished;
    $('history-start').hidden = !finished;
  }

  async function loadOlder() {
    const open = state.open;
    if (!open || open.finished || open.loadingOlder) return;
    const oldest = sortedMessages(open)[0];
    if (!oldest) return;
    open.loadingOlder = true;
    try {
      const page = await fetchHistory(open, oldest.msgID);
      if (state.open !== open) return;
      const list = $('message-list');
      const before = list.scrollHeight - list.scrollTop;
      addMessages(open, page.slice().reverse(), {});
      list.scrollTop = list.scrollHeight - before; // keep the view where it was
      setFinished(open, page.length < HISTORY_PAGE);
      if (open.groupID) await fetchGroupReceipts(open, page);
    } catch (error) {
      showError(error, 'load older messages');
    } finally {
      open.loadingOlder = false;
    }
  }

  function sortedMessages(open) {
    return [...open.messages.values()].sort(compareMessages);
  }

  function compareMessages(a, b) {
    // seq numbers a conversation without gaps; online-only messages (seq 0) go last.
    const sa = a.seq || Number.MAX_SAFE_INTEGER;
    const sb = b.seq || Number.MAX_SAFE_INTEGER;
    return sa - sb || a.timestamp - b.timestamp;
  }

  function nearBottom() {
    const list = $('message-list');
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  /** Adds or updates messages of the open chat, keeping seq order in the DOM. */
  function addMessages(open, messages, { live = false, scrollToEnd = false } = {}) {
    const stick = scrollToEnd || nearBottom();
    let ownSent = false;
    for (const msg of messages) {
      const existing = open.messages.get(msg.msgID);
      if (existing) {
        existing.isPeerRead = existing.isPeerRead || msg.isPeerRead;
        existing.receiptPeerRead = existing.receiptPeerRead || msg.receiptPeerRead;
        existing.hasSentReceipt = existing.hasSentReceipt || msg.hasSentReceipt || state.receiptsSent.has(msg.msgID);
        existing.isRead = existing.isRead || msg.isRead;
        updateReceiptLabel(open, existing);
        continue;
      }
      if (state.receiptsSent.has(msg.msgID)) msg.hasSentReceipt = true;
      if (msg.isSelf && msg.groupID && msg.needReadReceipt && !state.readState.has(msg.msgID)) {
        state.readState.set(msg.msgID, { readCount: 0, unreadCount: null, provisional: true });
      }
      open.messages.set(msg.msgID, msg);
      const node = renderMessage(open, msg);
      open.elements.set(msg.msgID, node);
      insertInOrder(open, msg, node);
      observer.observe(node);
      if (live && msg.isSelf) ownSent = true;
    }
    if (stick || ownSent) {
      const list = $('message-list');
      list.scrollTop = list.scrollHeight;
    }
  }

  function insertInOrder(open, msg, node) {
    const container = $('messages');
    let after = null;
    for (const child of container.children) {
      const other = open.messages.get(child.dataset.msgId);
      if (other && compareMessages(msg, other) < 0) {
        after = child;
        break;
      }
    }
    container.insertBefore(node, after);
  }

  function senderName(open, userID) {
    return open.names.get(userID) || userID;
  }

  function renderMessage(open, msg) {
    const node = el('div', {
      class: `msg${msg.isSelf ? ' self' : ''}`,
      testid: 'message',
      'data-msg-id': msg.msgID,
      'data-seq': msg.seq,
      'data-self': msg.isSelf ? 'true' : 'false',
      'data-need-receipt': msg.needReadReceipt ? 'true' : 'false',
    },
    el('div', { class: 'msg-meta' },
      msg.isSelf ? null : el('span', { class: 'msg-sender', testid: 'message-sender', 'data-user-id': msg.sender, text: senderName(open, msg.sender) }),
      el('time', { datetime: new Date(msg.timestamp * 1000).toISOString(), text: timeOf(msg.timestamp) })),
    el('div', { class: 'bubble', testid: 'message-text', text: textOf(msg) }));
    updateReceiptLabel(open, msg, node);
    return node;
  }

  /** The sender-side label, as TUIKit shows it; null when the message asked for no receipts. */
  function labelOf(msg) {
    if (!msg.isSelf || !msg.needReadReceipt) return null;
    // C2C: read by either mechanism, the conversation-level read position or a receipt.
    if (!msg.groupID) return msg.isPeerRead || msg.receiptPeerRead ? { text: 'Read', state: 'read' } : { text: 'Unread', state: 'unread' };
    const receipt = state.readState.get(msg.msgID);
    if (!receipt || receipt.readCount === 0) return { text: 'Unread', state: 'unread' };
    if (receipt.unreadCount === 0) return { text: 'All read', state: 'all-read' };
    return { text: `${receipt.readCount} read`, state: 'n-read' };
  }

  function updateReceiptLabel(open, msg, node = open.elements.get(msg.msgID)) {
    if (!node) return;
    const label = labelOf(msg);
    let current = node.querySelector('[data-testid="receipt-label"]');
    if (!label) {
      if (current) current.remove();
      return;
    }
    if (!current) {
      current = msg.groupID
        ? el('button', { type: 'button', class: 'receipt', testid: 'receipt-label', title: 'Who has read it', onclick: () => openMembers(msg) })
        : el('span', { class: 'receipt', testid: 'receipt-label' });
      node.append(current);
    }
    current.textContent = label.text;
    current.dataset.state = label.state;
  }

  async function fetchGroupReceipts(open, messages) {
    const ids = messages.filter((m) => m.isSelf && m.needReadReceipt).map((m) => m.msgID);
    for (let i = 0; i < ids.length; i += RECEIPT_BATCH) {
      try {
        const receipts = await call('getMessageReadReceipts', { messageIDList: ids.slice(i, i + RECEIPT_BATCH) });
        onMessageReceipts(receipts.map((r) => ({ ...r, groupID: r.groupID || open.groupID })));
      } catch (error) {
        showError(error, 'read receipts');
        return;
      }
    }
  }

  async function loadGroupNames(open) {
    try {
      const result = await call('getGroupMemberList', { groupID: open.groupID, filter: 0, nextSeq: 0, count: 100 });
      if (state.open !== open) return;
      for (const member of result.memberInfoList) open.names.set(member.userID, member.nickName || member.userID);
      for (const node of $('messages').querySelectorAll('[data-testid="message-sender"]')) {
        node.textContent = senderName(open, node.dataset.userId);
      }
    } catch (error) {
      showError(error, 'group members');
    }
  }

  // ---------------------------------------------------------------------------------------
  // Conversation-level read: opening a chat (and new messages in the open chat) marks it read.

  function markRead(open = state.open) {
    if (open === state.markPending) {
      clearTimeout(state.markTimer);
      state.markPending = null;
    }
    if (!open || !pageVisible() || state.status !== 'online') return;
    const conv = state.conversations.get(open.id);
    const request = open.groupID
      ? call('markGroupMessageAsRead', { groupID: open.groupID })
      : call('markC2CMessageAsRead', { userID: open.userID });
    request.then(() => {
      if (conv && open.groupID) {
        // Groups get no onConversationChanged for others' messages: clear locally too.
        conv.unreadCount = 0;
        renderConversations();
      }
    }).catch((error) => {
      // A C2C chat with a user who never wrote to us has nothing to mark: 20003 is expected there.
      if (!(error.code === 20003 && !conv?.lastMessage)) showError(error, 'mark as read');
    });
  }

  /** Marks the open chat read shortly (one request for a burst of messages). */
  function scheduleMarkRead() {
    const open = state.open;
    if (state.markPending && state.markPending !== open) markRead(state.markPending);
    clearTimeout(state.markTimer);
    state.markPending = open;
    state.markTimer = setTimeout(() => markRead(open), 250);
  }

  /** Leaving a chat: a pending mark-as-read for it is sent now, not dropped. */
  function flushMarkRead() {
    if (state.markPending) markRead(state.markPending);
  }

  // ---------------------------------------------------------------------------------------
  // Message-level receipts: sent for messages that become visible, each once, per conversation.

  function onIntersect(entries) {
    const root = $('message-list');
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      const enough = entry.intersectionRatio >= 0.5 || entry.intersectionRect.height >= root.clientHeight / 2;
      if (!enough) continue;
      considerReceipt(entry.target.dataset.msgId);
    }
  }

  /** Re-checks every message element (after reconnects and when the tab becomes visible). */
  function rescanVisible() {
    if (!state.open) return;
    for (const node of state.open.elements.values()) {
      observer.unobserve(node);
      observer.observe(node);
    }
  }

  function considerReceipt(msgID) {
    const open = state.open;
    const msg = open && open.messages.get(msgID);
    if (!msg || !pageVisible()) return;
    if (msg.isSelf || !msg.needReadReceipt || msg.hasSentReceipt || state.receiptsSent.has(msgID)) return;
    state.receiptsSent.add(msgID);
    if (!state.receiptQueue.has(open.id)) state.receiptQueue.set(open.id, new Set());
    state.receiptQueue.get(open.id).add(msgID);
    clearTimeout(state.receiptTimer);
    state.receiptTimer = setTimeout(flushReceipts, RECEIPT_FLUSH_MS);
  }

  function flushReceipts() {
    if (state.status !== 'online') return; // kept queued; flushed after the next login
    const queue = state.receiptQueue;
    state.receiptQueue = new Map();
    for (const [convID, set] of queue) {
      const ids = [...set];
      for (let i = 0; i < ids.length; i += RECEIPT_BATCH) {
        const batch = ids.slice(i, i + RECEIPT_BATCH);
        call('sendMessageReadReceipts', { messageIDList: batch })
          .then(() => {
            for (const id of batch) {
              const msg = state.open && state.open.messages.get(id);
              if (msg) msg.hasSentReceipt = true;
            }
          })
          .catch((error) => {
            if (error.code === -1) {
              // Not sent (connection lost): queue again for after the reconnect.
              if (!state.receiptQueue.has(convID)) state.receiptQueue.set(convID, new Set());
              for (const id of batch) state.receiptQueue.get(convID).add(id);
            } else {
              showError(error, 'read receipts');
            }
          });
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Read / unread member lists of a group message.

  function openMembers(msg) {
    const dialog = $('members-dialog');
    state.members = {
      msg,
      lists: { 0: { nextSeq: 0, finished: false, loading: false }, 1: { nextSeq: 0, finished: false, loading: false } },
    };
    $('members-message').textContent = `“${textOf(msg)}”, sent ${timeOf(msg.timestamp)}`;
    dialog.dataset.msgId = msg.msgID;
    if (!dialog.open) dialog.showModal();
    refreshMemberDialog();
    // Exact counts for the headings (a fresh message only has a provisional "Unread").
    if (state.open) fetchGroupReceipts(state.open, [msg]);
  }

  function refreshMemberDialog() {
    const members = state.members;
    if (!members) return;
    const receipt = state.readState.get(members.msg.msgID);
    $('read-count').textContent = receipt && !receipt.provisional ? `(${receipt.readCount})` : '';
    $('unread-count').textContent = receipt && receipt.unreadCount !== null && !receipt.provisional ? `(${receipt.unreadCount})` : '';
    for (const filter of [0, 1]) {
      members.lists[filter] = { nextSeq: 0, finished: false, loading: false };
      $(filter === 0 ? 'read-list' : 'unread-list').replaceChildren();
      loadMemberPage(filter);
    }
  }

  async function loadMemberPage(filter) {
    const members = state.members;
    if (!members) return;
    const page = members.lists[filter];
    if (page.finished || page.loading) return;
    page.loading = true;
    const list = $(filter === 0 ? 'read-list' : 'unread-list');
    const more = $(filter === 0 ? 'read-more' : 'unread-more');
    try {
      const result = await call('getGroupMessageReadMemberList', {
        messageID: members.msg.msgID, filter, nextSeq: page.nextSeq, count: MEMBER_PAGE,
      });
      if (state.members !== members || members.lists[filter] !== page) return;
      for (const member of result.memberInfoList) {
        list.append(el('li', { testid: 'member-item', 'data-user-id': member.userID },
          el('span', { class: 'member-name', text: member.nickName || member.userID }),
          member.nickName ? el('span', { class: 'member-id', text: `(${member.userID})` }) : null));
      }
      page.nextSeq = result.nextSeq;
      page.finished = result.isFinished;
      more.hidden = result.isFinished;
    } catch (error) {
      showError(error, filter === 0 ? 'read member list' : 'unread member list');
    } finally {
      page.loading = false;
    }
  }

  function closeMembers() {
    state.members = null;
    if ($('members-dialog').open) $('members-dialog').close();
  }

  // ---------------------------------------------------------------------------------------
  // Sending.

  async function send() {
    const open = state.open;
    const input = $('composer-input');
    const text = input.value.trim();
    if (!open || !text) return;
    const params = {
      textElem: { text },
      needReadReceipt: $('receipt-toggle').checked,
      random: Math.floor(Math.random() * 0xffffffff),
    };
    if (open.groupID) params.groupID = open.groupID;
    else params.receiver = open.userID;
    input.value = '';
    try {
      const msg = await call('sendMessage', params);
      if (state.open === open) addMessages(open, [msg], { live: true });
    } catch (error) {
      if (!input.value) input.value = text; // give the text back to retry
      showError(error, 'send');
    }
  }

  // ---------------------------------------------------------------------------------------
  // Wiring.

  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    signIn($('login-user').value, $('login-sig').value);
  });
  $('logout').addEventListener('click', signOut);
  $('conn-retry').addEventListener('click', retryNow);
  $('auth-renew').addEventListener('click', renewSignIn);
  $('new-chat').addEventListener('submit', (event) => {
    event.preventDefault();
    const id = $('new-chat-input').value.trim();
    if (!isValidId(id)) {
      showError(new RequestError('chat', 7003, `invalid user ID ${JSON.stringify(id)}: 1 to 32 printable ASCII characters without spaces`), 'start chat');
      return;
    }
    $('new-chat-input').value = '';
    openConversation(`c2c_${id}`);
  });
  $('composer').addEventListener('submit', (event) => {
    event.preventDefault();
    send();
  });
  $('composer-input').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  const toggle = $('receipt-toggle');
  toggle.checked = localStorage.getItem('tidings.requestReceipts') !== 'false';
  toggle.addEventListener('change', () => localStorage.setItem('tidings.requestReceipts', String(toggle.checked)));
  $('load-older').addEventListener('click', loadOlder);
  $('message-list').addEventListener('scroll', () => {
    if ($('message-list').scrollTop < 40) loadOlder();
  });
  $('read-more').addEventListener('click', () => loadMemberPage(0));
  $('unread-more').addEventListener('click', () => loadMemberPage(1));
  $('members-close').addEventListener('click', closeMembers);
  $('members-dialog').addEventListener('close', () => { state.members = null; });
  document.addEventListener('visibilitychange', () => {
    if (!pageVisible()) return;
    renderConversations();
    markRead();
    rescanVisible();
  });
  window.addEventListener('online', retryNow);
  // Heartbeat: detects connections that died without a close (sleep, network change).
  setInterval(() => {
    const conn = state.conn;
    if (state.status !== 'online' || !conn || Date.now() - conn.lastFrameAt < HEARTBEAT_IDLE_MS) return;
    conn.lastFrameAt = Date.now();
    conn.call('getConversationList', { nextSeq: 0, count: 1 }, HEARTBEAT_TIMEOUT_MS).catch((error) => {
      if (error.code === -1 && conn === state.conn) conn.abandon();
    });
  }, 5000);

  // Test and debugging hooks (the browser tests use them to cut the connection on purpose).
  window.tidingsDebug = {
    state,
    /** Closes the socket as a network failure would; with hold, waits for release(). */
    dropConnection(hold = false) {
      state.holdReconnect = hold;
      if (state.conn && state.conn.ws) state.conn.ws.close(4000, 'dropped by tidingsDebug');
    },
    release() {
      state.holdReconnect = false;
      retryNow();
    },
  };

  (async () => {
    setupLoginMode();
    let saved = null;
    try {
      saved = JSON.parse(sessionStorage.getItem('tidings.session') || 'null');
    } catch {
      saved = null;
    }
    const user = query.get('user');
    if (saved && (!user || user === saved.userID) && (state.demo || saved.userSig)) {
      await signIn(saved.userID, saved.userSig || '');
    } else if (user) {
      $('login-user').value = user;
      if (state.demo || query.get('sig')) await signIn(user, query.get('sig') || '');
    }
    await sleep(0);
  })();
})();
