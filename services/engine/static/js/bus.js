// The hall event bus client (docs/bus.md), shared by the engine's pages.
//
// A first connection gets a snapshot; after any break the client resumes with
// `since` (the last sequence number it dealt with), so nothing is lost; then live
// events. Heartbeats both ways: silence for three periods means a dead link, and
// the client reconnects with a growing, jittered delay.

export const REFUSED = { 4401: "unauthorized", 4403: "forbidden", 4404: "not_found" };

export class HallBus {
  /**
   * @param {object} options
   * @param {string} options.hall      the hall's code
   * @param {() => string} options.token  the bearer token (read at each connect)
   * @param {(snapshot: object) => void} [options.onSnapshot]
   * @param {(event: object, info: {catchingUp: boolean}) => void} [options.onEvent]
   * @param {(state: string, detail?: object) => void} [options.onState]
   *        "connecting", "live", "offline" or "refused" ({code, reason})
   */
  constructor({ hall, token, onSnapshot, onEvent, onState }) {
    this.hall = hall;
    this.token = token;
    this.onSnapshot = onSnapshot || (() => {});
    this.onEvent = onEvent || (() => {});
    this.onState = onState || (() => {});
    this.seq = null; // last sequence number dealt with: the resume point
    this.heartbeat = 15;
    this.ws = null;
    this.attempt = 0;
    this.lastHeard = Date.now();
    this.lastPing = 0;
    this.catchUpUntil = null; // while resuming: events older than this are "catching up"
    this.timer = null;
    this.reconnect = null;
    this.stopped = true;
    this.snapshots = 0;
    this.events = 0;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
    // Our ping every period; three periods of silence close a dead link.
    this.timer = setInterval(() => this.beat(), 2000);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.reconnect);
    const socket = this.ws;
    this.ws = null;
    if (socket) socket.close(1000, "page closed");
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  requestSnapshot() {
    this.send({ kind: "snapshot" });
  }

  /** Cut the link now (tests; a page that knows its network changed): it reconnects. */
  drop() {
    if (this.ws) {
      const socket = this.ws;
      socket.close(4000, "dropped");
      this.closed(socket, { code: 4000 });
    }
  }

  connect() {
    if (this.stopped) return;
    this.onState("connecting");
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const query = this.seq === null ? "" : `?since=${this.seq}`;
    const url = `${proto}//${location.host}/api/v1/halls/${encodeURIComponent(this.hall)}/events${query}`;
    // Browsers cannot set headers on a WebSocket: the token rides as a subprotocol.
    const socket = new WebSocket(url, ["jiaohao.v1", `jiaohao.bearer.${this.token()}`]);
    this.ws = socket;
    socket.onopen = () => { this.lastHeard = Date.now(); };
    socket.onmessage = (m) => this.message(socket, m);
    socket.onclose = (e) => this.closed(socket, e);
  }

  message(socket, m) {
    if (socket !== this.ws) return;
    this.lastHeard = Date.now();
    let msg;
    try { msg = JSON.parse(m.data); } catch (e) { return; }
    switch (msg.kind) {
      case "snapshot":
        this.seq = msg.seq;
        this.snapshots++;
        this.onSnapshot(msg);
        break;
      case "resume":
        this.catchUpUntil = Date.parse(msg.at) - 30000;
        break;
      case "event":
        if (this.seq !== null && msg.seq <= this.seq) break; // seen already
        this.events++;
        this.onEvent(msg, {
          catchingUp: this.catchUpUntil !== null && Date.parse(msg.at) < this.catchUpUntil,
        });
        this.seq = msg.seq;
        break;
      case "live":
        this.catchUpUntil = null;
        this.heartbeat = msg.heartbeat || this.heartbeat;
        this.attempt = 0;
        this.onState("live");
        break;
      case "ping":
        if (this.seq === null || msg.seq > this.seq) this.seq = msg.seq;
        this.send({ kind: "pong" });
        break;
      default:
        break;
    }
  }

  closed(socket, e) {
    if (socket !== this.ws) return;
    this.ws = null;
    this.catchUpUntil = null;
    if (this.stopped) return;
    let delay = Math.min(15000, 500 * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
    this.attempt++;
    if (REFUSED[e.code]) {
      this.onState("refused", { code: e.code, reason: REFUSED[e.code] });
      delay = 60000;
    } else {
      this.onState("offline");
    }
    clearTimeout(this.reconnect);
    this.reconnect = setTimeout(() => this.connect(), delay);
  }

  beat() {
    const socket = this.ws;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastHeard > this.heartbeat * 3000) {
      socket.close(4000, "no heartbeat");
      this.closed(socket, { code: 4000 });
      return;
    }
    if (Date.now() - this.lastPing >= this.heartbeat * 1000) {
      this.lastPing = Date.now();
      this.send({ kind: "ping" });
    }
  }

  /** Connect again at once (a new token after logging in again). */
  restart() {
    clearTimeout(this.reconnect);
    this.attempt = 0;
    const socket = this.ws;
    this.ws = null;
    if (socket) socket.close(1000, "restart");
    this.connect();
  }
}
