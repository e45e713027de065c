// The person panel: a drawer over the map's left side answering "who is this, where are they now,
// what binds them, what is open" from the registry and alert APIs, with the track playback below.
import { CONFIG, LABELS, formatTime, label } from "./config.js";
import { $, el } from "./dom.js";
import { addStrings, onLanguageChange, t, translate } from "./i18n.js";
import { Playback } from "./playback.js";
import { ago } from "./triage.js";

addStrings({
  "panel.close": ["关闭", "Close"],
  "panel.loading": ["加载中…", "Loading…"],
  "panel.failed": ["加载失败：{error}", "Loading failed: {error}"],
  "panel.now": ["当前", "Now"],
  "panel.office": ["辖区", "Office"],
  "panel.no_position": ["尚无定位", "no position yet"],
  "panel.inside": ["围栏内", "inside"],
  "panel.outside": ["围栏外", "outside"],
  "panel.devices": ["设备", "Devices"],
  "panel.no_devices": ["未绑定设备", "No device enrolled"],
  "panel.never_seen": ["从未上报", "never reported"],
  "panel.silent": ["已静默", "silent"],
  "panel.silent_title": ["超过 {min} 分钟未收到上报", "nothing received for over {min} min"],
  "panel.tamper": ["拆卸报警", "tamper"],
  "panel.revoked": ["已停用", "revoked"],
  "panel.received": ["接收于 {time}", "received {time}"],
  "panel.battery": ["电量 {pct}%", "battery {pct}%"],
  "panel.kind.ankle": ["脚环", "ankle band"],
  "panel.kind.wrist": ["手环", "wrist band"],
  "panel.kind.phone": ["手机", "phone"],
  "panel.rules": ["规则", "Rules"],
  "panel.no_rules": ["无特别规则", "No rules beyond the allowed area"],
  "panel.allowed": ["活动范围：{names}", "Allowed area: {names}"],
  "panel.exclusion": ["禁入区：{names}", "Exclusion zones: {names}"],
  "panel.curfew": ["宵禁 {start}–{end}（{days}），须在 {fence}", "Curfew {start}–{end} ({days}), at {fence}"],
  "panel.checkin": ["签到 {at}，时段 {window} 分钟，宽限 {grace} 分钟（{days}）", "Check-in at {at}, {window} min window, {grace} min grace ({days})"],
  "panel.suspension": ["暂停告警 {from} – {to}（{types}）", "Alerts suspended {from} – {to} ({types})"],
  "panel.thresholds": ["个别阈值：{values}", "Own thresholds: {values}"],
  "panel.all_types": ["全部类型", "all types"],
  "panel.every_day": ["每天", "every day"],
  "panel.weekdays": ["一二三四五六日", "Mo Tu We Th Fr Sa Su"],
  "panel.permit": ["外出 {from} – {to}，{destination}", "Leave {from} – {to}, {destination}"],
  "panel.permit_now": ["外出中", "away now"],
  "panel.order": ["监管决定", "Monitoring order"],
  "panel.no_order": ["无有效监管决定：不接收定位", "No active order: pings are refused"],
  "panel.order_line": ["{kind}，至 {end}（{left}）", "{kind}, ends {end} ({left})"],
  "panel.order_kind.electronic_positioning": ["电子定位", "electronic positioning"],
  "panel.order_kind.information_check": ["信息化核查", "information check"],
  "panel.days_left": ["剩 {n} 天", "{n} d left"],
  "panel.hours_left": ["剩 {n} 小时", "{n} h left"],
  "panel.alerts": ["未结告警", "Open alerts"],
  "panel.no_alerts": ["无未结告警", "No open alerts"],
  "panel.late": ["迟报", "late"],
});

const OPEN_STATUSES = ["open", "escalated", "acknowledged"];
const FOLLOW_MS = 1000; // while open, a burst of the person's stream events costs one refresh
const FENCE_LIMIT_NAMES = 6; // names listed before "…" in the allowed area line

export class PersonPanel {
  /**
   * session: for the API; persons: the map's latest positions (live); jurisdictions: id → office;
   * onPickAlert(alert) when one of the person's alerts is clicked.
   */
  constructor({ session, map, persons, jurisdictions, onPickAlert }) {
    Object.assign(this, { session, persons, jurisdictions, onPickAlert,
      personId: null, data: null, error: "", loads: 0, alertId: null, due: new Set(), timer: null, followed: 0 });
    this.root = $("person-panel");
    this.playback = new Playback({ session, map, padLeft: () => this.root.offsetWidth });
    translate(this.root);
    $("person-close").addEventListener("click", () => this.close());
    this.root.addEventListener("keydown", (e) => { if (e.key === "Escape") this.close(); });
    onLanguageChange(() => this.render());
    setInterval(() => { if (this.personId !== null) this.render(); }, 30000); // ages move on
  }

  /** Show a person (again: details refreshed, the track kept); alert: the one clicked, if any. */
  async open(personId, alert = null) {
    this.alertId = alert?.id ?? null;
    if (personId === this.personId) {
      this.render();
      return this.load();
    }
    this.close();
    Object.assign(this, { personId, data: null, error: "" });
    this.root.dataset.personId = personId;
    this.root.hidden = false;
    this.render();
    await Promise.all([this.load(), this.playback.open(personId)]);
  }

  /** Hide the panel and take its track off the map. */
  close() {
    if (this.personId === null) return;
    clearTimeout(this.timer);
    Object.assign(this, { timer: null, due: new Set() });
    this.playback.close();
    Object.assign(this, { personId: null, data: null, alertId: null });
    this.loads++; // what is still loading is for nobody now
    this.root.hidden = true;
    delete this.root.dataset.personId;
    delete this.root.dataset.ready;
  }

  /** A stream event. The open person's alert events refresh the open alerts, positions the
   * "now" line, at most once a FOLLOW_MS; the track and its playback are left as they are. */
  heard(message) {
    if (this.personId === null || message.person_id !== this.personId && message.alert?.person_id !== this.personId) return;
    if (message.type === "person.transferred") this.transferred(message);
    else if (message.type === "position") this.soon("now");
    else if (message.alert) this.soon("alerts");
  }

  /** Out of this officer's reach now: the panel closes; still in reach: the new office shown. */
  transferred(message) {
    if (!this.jurisdictions.has(message.to_jurisdiction_id)) return this.close();
    if (this.data) this.data.person = { ...this.data.person, jurisdiction_id: message.to_jurisdiction_id };
    this.render();
  }

  soon(part) {
    this.due.add(part);
    if (this.timer === null) this.timer = setTimeout(() => this.follow(), Math.max(0, this.followed + FOLLOW_MS - Date.now()));
  }

  async follow() {
    if (!this.data && !this.error) { // the first load is on its way: asked again after it
      this.timer = setTimeout(() => this.follow(), FOLLOW_MS);
      return;
    }
    const due = this.due, load = this.loads;
    Object.assign(this, { due: new Set(), timer: null, followed: Date.now() });
    if (this.error) return; // the panel says loading failed; reopening it asks again
    if (due.has("now")) this.root.querySelector("#person-now").replaceWith(this.now(this.data));
    if (!due.has("alerts")) return;
    try {
      const open = await this.session.api(this.alertsPath());
      if (load !== this.loads || !this.data || this.error) return; // closed, or loaded again since
      this.data.alerts = open;
      this.root.querySelector("section.person-alerts").replaceWith(this.alertsSection(this.data));
    } catch {
      if (load === this.loads) this.soon("alerts"); // asked again a second later
    }
  }

  alertsPath() {
    const alerts = new URLSearchParams({ person_id: this.personId, sort: "newest", limit: 50 });
    for (const status of OPEN_STATUSES) alerts.append("status", status);
    return `/v1/alerts?${alerts}`;
  }

  async load() {
    const id = this.personId, load = ++this.loads, api = (path) => this.session.api(path);
    try {
      const [person, devices, rules, permits, orders, open, fences] = await Promise.all([
        api(`/v1/persons/${id}`), api(`/v1/persons/${id}/devices`), api(`/v1/persons/${id}/rules`),
        api(`/v1/persons/${id}/permits`), api(`/v1/persons/${id}/orders`), api(this.alertsPath()),
        api("/v1/fences"),
      ]);
      if (load !== this.loads) return;
      this.data = { person, devices, rules, permits, orders, alerts: open,
        fences: new Map(fences.map((f) => [f.id, f.name])) };
      this.error = "";
    } catch (error) {
      if (load !== this.loads) return;
      this.error = error.message;
    }
    this.render();
    this.root.dataset.ready = "true";
  }

  render() {
    if (this.personId === null) return;
    $("person-title").replaceChildren(...(this.data ? titleOf(this.data.person) : [`#${this.personId}`]));
    $("person-body").replaceChildren(...this.sections());
  }

  sections() {
    const d = this.data;
    if (this.error) return [el("p", { className: "error", textContent: t("panel.failed", { error: this.error }) })];
    if (!d) return [el("p", { className: "muted", textContent: t("panel.loading") })];
    return [this.now(d),
      section("devices", t("panel.devices"), devicesOf(d.devices), t("panel.no_devices")),
      section("order", t("panel.order"), orderOf(d.orders), t("panel.no_order")),
      section("rules", t("panel.rules"), rulesOf(d), t("panel.no_rules")),
      this.alertsSection(d)];
  }

  alertsSection(d) {
    return section("alerts", t("panel.alerts"), d.alerts.map((a) => this.alertItem(a)), t("panel.no_alerts"));
  }

  /** Where the person is now, by the live map: inside or out, when, where; and their office. */
  now({ person }) {
    const p = this.persons.get(person.id), office = this.jurisdictions.get(person.jurisdiction_id);
    const where = p && Number.isFinite(p.lat)
      ? [el("span", { className: `status status-${p.status || "unknown"}`,
        textContent: { inside: t("panel.inside"), outside: t("panel.outside") }[p.status] ?? p.status ?? "?" }),
        el("time", { dateTime: p.ts, textContent: `${formatTime(p.ts)} · ${ago(p.ts)}` }),
        el("span", { className: "coords", textContent: `${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}` })]
      : [el("span", { className: "muted", textContent: t("panel.no_position") })];
    return el("div", { id: "person-now" },
      el("div", { className: "line" }, el("b", { textContent: t("panel.now") }), ...where),
      el("div", { className: "line" }, el("b", { textContent: t("panel.office") }),
        el("span", { id: "person-office", textContent: office?.name ?? `#${person.jurisdiction_id}` })));
  }

  alertItem(alert) {
    const li = el("li", { className: "alert", tabIndex: 0 },
      el("b", { textContent: label(LABELS.types, alert.type) }),
      el("span", { className: "status", textContent: label(LABELS.statuses, alert.status) }),
      el("time", { dateTime: alert.opened_at, textContent: formatTime(alert.opened_at) }),
      el("span", { className: "id", textContent: `#${alert.id}` }),
      alert.late ? el("span", { className: "late", textContent: t("panel.late") }) : "");
    Object.assign(li.dataset, { alertId: alert.id, status: alert.status });
    li.classList.toggle("selected", alert.id === this.alertId);
    const pick = () => this.onPickAlert(alert);
    li.addEventListener("click", pick);
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") pick(); });
    return li;
  }
}

function titleOf(person) {
  const level = el("span", { className: "level", textContent: label(LABELS.levels, person.supervision_level) });
  level.style.background = CONFIG.levelColours[person.supervision_level] || CONFIG.unknownColour;
  level.dataset.level = person.supervision_level;
  return [el("span", { id: "person-case", textContent: person.case_number }),
    el("span", { id: "person-name", textContent: person.full_name }), level];
}

function section(name, title, items, empty) {
  return el("section", { className: `person-${name}` }, el("h3", { textContent: title }),
    items.length ? el("ul", { id: `person-${name}` }, ...items)
      : el("p", { id: `person-${name}`, className: "muted", textContent: empty }));
}

/** Each device as the server judged it: silent (and after how long) by the signal_lost rule. */
function devicesOf(devices) {
  return devices.map((d) => {
    const limitS = d.silent_after_s, silent = Boolean(d.silent);
    const li = el("li", { className: "device" }, el("b", { textContent: t(`panel.kind.${d.kind}`) }),
      el("code", { textContent: d.device_id }), ...deviceState(d, silent, limitS));
    Object.assign(li.dataset, { deviceId: d.device_id, silent });
    return li;
  });
}

/** Battery, the latest fix (its age, and when it arrived on hover), silent and tamper flags. */
function deviceState(d, silent, limitS) {
  if (d.revoked_at) return [flag("revoked", t("panel.revoked"))];
  const battery = Number.isFinite(d.battery_pct)
    ? [el("span", { className: "battery", textContent: t("panel.battery", { pct: Math.round(d.battery_pct) }) })] : [];
  // never reported, and silent only once the rule says so (an enrolment of a minute ago is not)
  if (!d.last_fix_at) return [...battery, flag(silent ? "silent" : "unheard", t("panel.never_seen"))];
  return [...battery,
    el("time", { className: "last-fix", dateTime: d.last_fix_at, title: t("panel.received", { time: formatTime(d.last_received_at) }),
      textContent: `${formatTime(d.last_fix_at)} · ${ago(d.last_fix_at)}` }),
    silent ? flag("silent", t("panel.silent"), t("panel.silent_title", { min: Math.round(limitS / 60) })) : "",
    d.tamper ? flag("tamper", t("panel.tamper")) : ""];
}

const flag = (kind, text, title = "") => el("span", { className: `flag flag-${kind}`, textContent: text, title });

/** The order in force now, if any: when it ends matters most (a lapse stops all tracking). */
function orderOf(orders) {
  const now = Date.now();
  const live = orders.filter((o) => !o.revoked_at && Date.parse(o.starts_at) <= now && now < Date.parse(o.ends_at))
    .sort((a, b) => Date.parse(b.ends_at) - Date.parse(a.ends_at));
  return live.slice(0, 1).map((o) => {
    const hours = Math.floor((Date.parse(o.ends_at) - now) / 3600000);
    const left = hours >= 48 ? t("panel.days_left", { n: Math.floor(hours / 24) }) : t("panel.hours_left", { n: hours });
    const li = el("li", { textContent: t("panel.order_line", { kind: t(`panel.order_kind.${o.kind}`), end: formatTime(o.ends_at), left }) });
    li.classList.toggle("soon", hours < 7 * 24);
    return li;
  });
}

function rulesOf({ person, rules, permits, fences }) {
  const names = (ids) => ids.slice(0, FENCE_LIMIT_NAMES).map((id) => fences.get(id) ?? `#${id}`).join("、")
    + (ids.length > FENCE_LIMIT_NAMES ? " …" : "");
  const items = [el("li", { textContent: t("panel.allowed", { names: names(person.allowed_fence_ids) }) })];
  if (person.exclusion_fence_ids.length) items.push(el("li", { textContent: t("panel.exclusion", { names: names(person.exclusion_fence_ids) }) }));
  for (const rule of rules.filter((r) => r.active)) items.push(el("li", { className: `rule rule-${rule.kind}`, textContent: ruleText(rule, fences) }));
  const now = Date.now();
  for (const p of permits.filter((p) => !p.cancelled_at && !p.closed_at && !p.returned_at && Date.parse(p.ends_at) > now)) {
    const li = el("li", { className: "permit", textContent: t("panel.permit", { from: formatTime(p.starts_at), to: formatTime(p.ends_at), destination: p.destination || "—" }) });
    if (Date.parse(p.starts_at) <= now) li.append(" ", flag("away", t("panel.permit_now")));
    items.push(li);
  }
  return items;
}

function ruleText({ kind, params: p }, fences) {
  const days = daysOf(p.days);
  if (kind === "curfew") return t("panel.curfew", { start: p.start, end: p.end, days, fence: fences.get(p.fence_id) ?? `#${p.fence_id}` });
  if (kind === "checkin") return t("panel.checkin", { at: p.at, window: p.window_min ?? 60, grace: p.grace_min ?? 10, days });
  if (kind === "suspension") {
    const types = p.types?.length ? p.types.map((type) => label(LABELS.types, type)).join("、") : t("panel.all_types");
    return t("panel.suspension", { from: formatTime(p.starts_at), to: formatTime(p.ends_at), types });
  }
  return t("panel.thresholds", { values: Object.entries(p).map(([k, v]) => `${k}=${v}`).join(", ") });
}

/** [0..6] (Monday first) → "一三五" / "Mo We Fr"; all seven (or none given) → every day. */
function daysOf(days) {
  if (!Array.isArray(days) || days.length === 7) return t("panel.every_day");
  const names = t("panel.weekdays");
  const split = names.includes(" ") ? names.split(" ") : [...names];
  return [...days].sort().map((d) => split[d]).join(names.includes(" ") ? " " : "");
}
