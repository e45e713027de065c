// The stale mark: when the live stream is not live (dropped, reconnecting, silenced by the
// watchdog) or the snapshot failed to load, the map and the header counters say so, with the
// time of the last event and its age ticking on, so nobody mistakes a frozen picture for now.
import { CONFIG, formatTime } from "./config.js";
import { $ } from "./dom.js";
import { addStrings, onLanguageChange, t } from "./i18n.js";

addStrings({
  "stale.title": ["数据已停止更新", "Data stopped updating"],
  "stale.lastEvent": ["最后事件 {time}（{age}前）", "Last event {time} ({age} ago)"],
  "stale.snapshot": ["未收到实时事件 · 快照 {time}（{age}前）", "No live event yet · snapshot {time} ({age} ago)"],
  "stale.nothing": ["尚未收到实时事件", "No live event received yet"],
  "stale.heard": ["最后联系服务器 {time}（{age}前）", "Server last heard {time} ({age} ago)"],
  "stale.why.stream": ["实时连接中断，正在重连；地图与计数可能已过时", "Live connection lost, reconnecting: the map and counts may be out of date"],
  "stale.why.snapshot": ["初始数据加载失败，地图与计数不完整", "The initial data failed to load: the map and counts are incomplete"],
  "stale.reload": ["重新加载", "Reload"],
  "stale.age.s": ["{n} 秒", "{n} s"],
  "stale.age.m": ["{n} 分钟", "{n} min"],
  "stale.age.h": ["{h} 小时 {m} 分钟", "{h} h {m} min"],
});

/** "12 秒", "5 分钟", "2 小时 5 分钟": whole units, so the age reads at a glance. */
export function ageOf(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return t("stale.age.s", { n: s });
  if (s < 3600) return t("stale.age.m", { n: Math.floor(s / 60) });
  return t("stale.age.h", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
}

export class Staleness {
  /** marked: the elements that carry data-stale (the map pane and the header counters). */
  constructor({ marked }) {
    this.marked = marked;
    this.banner = $("stale-banner");
    $("stale-reload").addEventListener("click", () => location.reload()); // the token survives it
    this.stop();
    setInterval(() => this.render(), 1000); // the age ticks on
    // a background tab's timers are slowed to once a minute: be right the moment it is looked at
    document.addEventListener("visibilitychange", () => this.render());
    onLanguageChange(() => this.render());
  }

  /** Logged in: watch from now (the first connect gets CONFIG.staleGraceMs like any other). */
  start() {
    this.stop();
    Object.assign(this, { watching: true, notLiveSince: Date.now() });
  }

  /** Logged out: nothing to mark. */
  stop() {
    Object.assign(this, { watching: false, state: null, live: false, notLiveSince: Date.now(), heardAt: 0,
      eventAt: 0, snapshotAt: 0, snapshotFailed: false });
    this.render();
  }

  /** The stream's onStatus: "connecting" | "live" | "reconnecting". */
  status(value) {
    if (value === this.state) return; // said again (a language switch redraws it): no news
    this.state = value;
    const live = value === "live";
    if (live) this.heardAt = Date.now();
    else if (this.live) this.notLiveSince = Date.now();
    this.live = live;
    this.render();
  }

  /** Any message from the stream, heartbeats included: the server was there then. */
  heard() {
    this.heardAt = Date.now();
  }

  /** A data event (not a heartbeat): what the map and counters last changed by. */
  event() {
    this.eventAt = this.heardAt = Date.now();
  }

  snapshot(loaded) {
    if (loaded) this.snapshotAt = Date.now(); else this.snapshotFailed = true;
    this.render();
  }

  /** A blip shorter than the grace (a reconnect within a second or two) is not marked. */
  isStale() {
    if (!this.watching) return false;
    return this.snapshotFailed || (!this.live && Date.now() - this.notLiveSince >= CONFIG.staleGraceMs);
  }

  render() {
    const stale = this.isStale();
    for (const node of this.marked) node.dataset.stale = String(stale);
    if (stale !== !this.banner.hidden) this.banner.hidden = !stale;
    if (!stale) return write(this.banner, ".stale-title", ""); // so the next outage is read out again
    const now = Date.now(), at = (ms) => ({ time: formatTime(new Date(ms).toISOString()), age: ageOf(now - ms) });
    let last = t("stale.nothing");
    if (this.eventAt) last = t("stale.lastEvent", at(this.eventAt));
    else if (this.snapshotAt) last = t("stale.snapshot", at(this.snapshotAt));
    const heard = this.heardAt && this.heardAt !== this.eventAt ? t("stale.heard", at(this.heardAt)) : "";
    // only what changed is written: the title is a live region, read out once, not every tick
    write(this.banner, ".stale-title", t("stale.title"));
    write(this.banner, ".stale-last", last);
    write(this.banner, ".stale-heard", heard);
    write(this.banner, ".stale-why", t(this.snapshotFailed ? "stale.why.snapshot" : "stale.why.stream"));
    $("stale-reload").hidden = !this.snapshotFailed;
    this.banner.dataset.lastEventAt = this.eventAt ? new Date(this.eventAt).toISOString() : "";
  }
}

function write(root, selector, text) {
  const node = root.querySelector(selector);
  if (node.textContent !== text) node.textContent = text;
  node.hidden = !text;
}
