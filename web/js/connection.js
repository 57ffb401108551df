// The WebSocket connection to /ws: JSON requests with ids, their responses, and pushes
// (docs/protocol.md §3). Knows nothing of the page.

export const REQUEST_TIMEOUT_MS = 15000;

/** A refused or failed request: `code` from the server (or -1 locally) and its `desc`. */
export class RequestError extends Error {
  constructor(method, code, desc) {
    super(`${method}: ${code} ${desc}`);
    this.method = method;
    this.code = code;
    this.desc = desc;
  }
}

export class Connection {
  /** `onPush(event, data)`, `onClose(event)` after an unplanned close, `onStray(error)` for a
   * frame nobody waits for. */
  constructor({ onPush, onClose, onStray }) {
    this.onPush = onPush;
    this.onClose = onClose;
    this.onStray = onStray;
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
      this.onStray(new RequestError('frame', -1, `unreadable frame from the server: ${String(text).slice(0, 80)}`));
      return;
    }
    if (typeof frame.event === 'string') {
      this.onPush(frame.event, frame.data);
      return;
    }
    const waiter = this.pending.get(frame.id);
    if (!waiter) {
      if (frame.code) this.onStray(new RequestError('server', frame.code, frame.desc));
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
