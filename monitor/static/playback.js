// Track playback in the person panel: a time range read from /v1/persons/{id}/track (an audited
// read), drawn on the map once, then a slider, play/pause and a speed that move only the marker,
// so a long track never freezes the page.
import { formatTime, timeZone, zoneLabel, zonedToIso } from "./config.js";
import { $ } from "./dom.js";
import { addStrings, onLanguageChange, t } from "./i18n.js";

addStrings({
  "track.title": ["轨迹回放", "Track playback"],
  "track.h1": ["1小时", "1 h"],
  "track.h6": ["6小时", "6 h"],
  "track.h24": ["24小时", "24 h"],
  "track.h72": ["3天", "3 d"],
  "track.start": ["从", "From"],
  "track.end": ["至", "To"],
  "track.show": ["查询", "Show"],
  "track.slider": ["定位点", "Fix"],
  "track.speed": ["速度", "Speed"],
  "track.by_fix": ["逐点", "fix by fix"],
  "track.play": ["▶ 播放", "▶ Play"],
  "track.pause": ["❚❚ 暂停", "❚❚ Pause"],
  "track.loading": ["正在读取轨迹…", "Reading the track…"],
  "track.failed": ["轨迹读取失败：{error}", "Reading the track failed: {error}"],
  "track.bad_range": ["起始时间须早于结束时间", "The start must be before the end"],
  "track.none": ["此时段无定位", "No fixes in this range"],
  "track.count": ["{n} 个定位点，其中围栏外 {outside} 个", "{n} fixes, {outside} outside the allowed area"],
  "track.cut": ["时段内定位过多：仅显示前 {n} 个，至 {until}。请缩短时段查看其后", "Too many fixes: showing the first {n}, up to {until}. Narrow the range to see later ones"],
  "track.accuracy": ["精度 ±{m} 米", "accuracy ±{m} m"],
  "track.area.inside": ["围栏内", "inside"],
  "track.area.outside": ["围栏外", "outside"],
  "track.area.uncertain": ["边界附近", "at the edge"],
});

const LIMIT = 10000; // fixes drawn at most; one more is asked for, to know when the range was cut
const FIX_STEP_MS = 400; // "fix by fix": one fix this often
const MIN_STEP_MS = 16; // about a frame: at high speed dense fixes are shown as fast as drawn
const DEFAULT_HOURS = 24;

export class Playback {
  /** map: the MapPanel drawn on; padLeft(): pixels of map the panel covers, kept clear. */
  constructor({ session, map, padLeft }) {
    Object.assign(this, { session, map, padLeft, personId: null, points: [], times: null,
      i: 0, timer: null, loads: 0, note: null, cut: false });
    this.form = $("track-form");
    this.slider = $("track-slider");
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.loadCustom(); });
    for (const button of this.form.querySelectorAll("button[data-hours]")) {
      button.addEventListener("click", () => this.loadLast(Number(button.dataset.hours)));
    }
    this.slider.addEventListener("input", () => this.seek(Number(this.slider.value)));
    $("track-play").addEventListener("click", () => (this.timer ? this.pause() : this.play()));
    $("track-speed").addEventListener("change", () => { if (this.timer) this.play(); });
    onLanguageChange(() => this.render());
  }

  open(personId) {
    this.personId = personId;
    return this.loadLast(DEFAULT_HOURS);
  }

  close() {
    this.pause();
    this.loads++;
    this.map.hideTrack();
    delete $("track-panel").dataset.fixes;
    Object.assign(this, { personId: null, points: [], times: null, i: 0, note: null });
    this.render();
  }

  loadLast(hours) {
    const end = new Date(), start = new Date(end.getTime() - hours * 3600000);
    this.form.from.value = toZonedInput(start);
    this.form.to.value = toZonedInput(end);
    for (const small of this.form.querySelectorAll(".time-zone")) Object.assign(small, { textContent: zoneLabel(), title: timeZone() });
    for (const b of this.form.querySelectorAll("button[data-hours]")) b.setAttribute("aria-pressed", b.dataset.hours === String(hours));
    return this.load(start, end);
  }

  loadCustom() {
    // read on the configured zone's clock, as every time the console shows (not the PC's zone)
    const [start, end] = [new Date(zonedToIso(this.form.from.value)), new Date(zonedToIso(this.form.to.value))];
    for (const b of this.form.querySelectorAll("button[data-hours]")) b.setAttribute("aria-pressed", "false");
    if (!(start < end)) return this.show({ key: "track.bad_range" }); // also an empty field
    return this.load(start, end);
  }

  async load(start, end) {
    const personId = this.personId, load = ++this.loads;
    this.pause();
    delete $("track-panel").dataset.fixes; // until this range is drawn
    this.show({ key: "track.loading" });
    const q = new URLSearchParams({ start: start.toISOString(), end: end.toISOString(), limit: LIMIT + 1 });
    try {
      const rows = await this.session.api(`/v1/persons/${personId}/track?${q}`);
      if (load !== this.loads) return; // another range, or another person, was asked for since
      this.draw(rows.slice(0, LIMIT), rows.length > LIMIT);
    } catch (error) {
      if (load === this.loads) this.show({ key: "track.failed", vars: { error: error.message } });
    }
  }

  draw(points, cut) {
    this.points = points;
    this.times = Float64Array.from(points, (p) => Date.parse(p.ts));
    this.cut = cut;
    this.map.showTrack(points, { padLeft: this.padLeft() });
    Object.assign(this.slider, { max: Math.max(0, points.length - 1), value: 0, disabled: points.length < 2 });
    $("track-play").disabled = points.length < 2;
    $("track-panel").dataset.fixes = points.length;
    this.seek(0);
    this.show(null);
  }

  /** Put the marker on fix i; playing goes on from there. */
  seek(i) {
    this.i = Math.max(0, Math.min(i, this.points.length - 1));
    this.map.moveTrackMarker(this.i);
    if (this.timer) this.schedule();
    this.render();
  }

  play() {
    if (this.i >= this.points.length - 1) this.seek(0); // from the end: again from the start
    this.schedule();
    this.render();
  }

  pause() {
    clearTimeout(this.timer);
    this.timer = null;
    this.render();
  }

  /** The step to the next fix; none after the last (playing stops there). */
  schedule() {
    clearTimeout(this.timer);
    const more = this.i < this.points.length - 1;
    this.timer = more ? setTimeout(() => this.seek(this.i + 1), this.wait()) : null;
  }

  /** Until the next fix: its real gap divided by the speed, or a fixed step fix by fix. */
  wait() {
    const speed = $("track-speed").value;
    if (speed === "fix") return FIX_STEP_MS;
    return Math.max(MIN_STEP_MS, (this.times[this.i + 1] - this.times[this.i]) / Number(speed));
  }

  /** A status line: {key, vars} from the strings, or null for the track's own summary. */
  show(note) {
    this.note = note;
    this.render();
  }

  render() {
    const p = this.points[this.i];
    $("track-note").textContent = this.note ? t(this.note.key, this.note.vars) : this.summary();
    $("track-note").dataset.cut = this.cut && !this.note;
    $("track-play").textContent = t(this.timer ? "track.pause" : "track.play");
    $("track-play").setAttribute("aria-pressed", Boolean(this.timer));
    this.slider.value = this.i;
    const readout = $("track-readout");
    readout.hidden = !p;
    if (!p) return;
    $("track-time").textContent = formatTime(p.ts);
    $("track-time").dateTime = p.ts;
    $("track-accuracy").textContent = t("track.accuracy", { m: Math.round(p.accuracy_m) });
    $("track-area").textContent = p.area ? t(`track.area.${p.area}`) : "";
    $("track-area").dataset.area = p.area ?? "";
    $("track-index").textContent = `${this.i + 1} / ${this.points.length}`;
  }

  summary() {
    if (this.personId === null) return "";
    if (!this.points.length) return t("track.none");
    const n = this.points.length, outside = this.points.filter((p) => p.area === "outside").length;
    const until = formatTime(this.points[n - 1].ts);
    return this.cut ? t("track.cut", { n, until }) : t("track.count", { n, outside });
  }
}

/** A Date as a datetime-local input's value, on the configured zone's clock (zonedToIso's inverse). */
function toZonedInput(date) {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone: timeZone(), year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(date);
  const p = Object.fromEntries(parts.map(({ type, value }) => [type, value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}
