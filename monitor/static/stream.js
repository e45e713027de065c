// The live stream: /v1/stream, resumed with since=<last event id> after any drop, reconnected
// with a jittered, doubling delay, and dropped when silent (not even a heartbeat) for too long.
import { CONFIG } from "./config.js";

export class Stream {
  /**
   * onEvent(message) for each event (heartbeats are kept here); onStatus("connecting" | "live" |
   * "reconnecting"); onRefused() when the server closed it for the token (4401); onFailed() when
   * it never opened, so the caller can check the token (a refused handshake looks like 1006);
   * onHeard() on every message, heartbeats included.
   */
  constructor({ onEvent, onStatus, onRefused, onFailed, onHeard = () => {} }) {
    Object.assign(this, { onEvent, onStatus, onRefused, onFailed, onHeard, token: null });
    this.reset();
    setInterval(() => this.watchdog(), 5000);
  }

  reset() {
    Object.assign(this, { lastId: 0, socket: null, opened: false, everLive: false,
      retryMs: CONFIG.retryMinMs, retryTimer: null, heard: 0 });
  }

  open(token) {
    this.token = token;
    this.connect();
  }

  /** Stop for good (logout): no socket, no retry, nothing remembered. */
  close() {
    this.detach();
    clearTimeout(this.retryTimer);
    this.token = null;
    this.reset();
  }

  /** After the browser says it is online again: do not wait out the backoff. */
  nudge() {
    if (this.token && !this.opened) this.connect();
  }

  /** Forget the current socket: whatever it still says or does is ignored. */
  detach() {
    const socket = this.socket;
    this.socket = null;
    if (socket) { socket.onopen = socket.onmessage = socket.onclose = null; socket.close(); }
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.detach();
    if (!this.token) return;
    const url = new URL("/v1/stream", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", this.token);
    if (this.lastId) url.searchParams.set("since", this.lastId);
    const socket = new WebSocket(url);
    Object.assign(this, { socket, opened: false, heard: Date.now() });
    this.onStatus(this.everLive ? "reconnecting" : "connecting");
    socket.onopen = () => {
      Object.assign(this, { opened: true, everLive: true, retryMs: CONFIG.retryMinMs });
      this.onStatus("live");
    };
    socket.onmessage = (event) => {
      this.heard = Date.now();
      this.onHeard();
      try { this.receive(JSON.parse(event.data)); } catch (error) { console.error("bad stream message", error); }
    };
    socket.onclose = (event) => this.retry(event.code);
  }

  receive(message) {
    if (message.type === "heartbeat") { // everything up to last_id was sent to us or is not ours
      this.lastId = Math.max(this.lastId, message.last_id || 0);
      return;
    }
    if (message.id) this.lastId = Math.max(this.lastId, message.id);
    this.onEvent(message);
  }

  /** Drop the socket and try again after a jittered, doubling delay. */
  retry(code) {
    const opened = this.opened;
    this.detach();
    if (code === 4401) return this.onRefused();
    if (!opened) this.onFailed();
    this.onStatus("reconnecting");
    this.retryTimer = setTimeout(() => this.connect(), this.retryMs * (0.75 + Math.random() / 2));
    this.retryMs = Math.min(this.retryMs * 2, CONFIG.retryMaxMs);
  }

  watchdog() {
    if (this.socket && Date.now() - this.heard > CONFIG.staleMs) this.retry(); // silent, or stuck connecting
  }
}
