// What differs between localities: colours, labels and timings of the duty console, and the
// server's settings for it (/console/config.json: basemap, time zone). Edit here; the other
// modules only read these.
import { addStrings, t } from "./i18n.js";

export const CONFIG = {
  // dot colour per supervision level (严管 / 普管 / 宽管)
  levelColours: { strict: "#ef4444", normal: "#3b82f6", lenient: "#22c55e" },
  unknownColour: "#a3a3a3",
  fenceColours: { allowed: "#94a3b8", exclusion: "#f97316" },
  fenceFills: { allowed: "rgba(148,163,184,0.07)", exclusion: "rgba(249,115,22,0.12)" },
  // track playback: the line, the stretches outside the allowed area, the marker on the slider's fix
  track: { line: "#38bdf8", outside: "#f43f5e", marker: "#facc15" },
  outsideRing: "#f87171", // persons currently outside their allowed area: larger dot and this ring
  selectedRing: "#facc15", // the person of the alert last clicked
  dotRadius: { inside: 3.5, outside: 6 },
  staleMs: 45000, // nothing at all from the stream (not even a heartbeat) for this long: reconnect
  retryMinMs: 1000, // reconnect backoff: doubles from here, with jitter, up to retryMaxMs
  retryMaxMs: 30000,
  shownAlerts: 300, // rows in the alert list; older resolved alerts are dropped beyond this
  flashMs: 4000, // how long a newly opened alert's row stays marked .flash
  beep: true, // sound on until the officer mutes it (the header button; kept per browser)
  // stale marking, desktop notifications, sound (staleness.js, alerting.js)
  staleGraceMs: 2000, // the stream not live this long (or the snapshot failed): mark the map stale
  urgentTypes: ["out_of_area", "exclusion_zone", "tamper", "device_separation"], // these sound and notify, opened or escalated
  alertBurstMs: 10000, // one tone and one desktop notification (with a count) per burst this long
};

// wire value → [zh-CN, English]; registered as "<table>.<wire value>" (data-i18n can name them)
const LABEL_TABLES = {
  types: {
    out_of_area: ["越界", "Out of area"], exclusion_zone: ["进入禁区", "Exclusion zone"],
    curfew: ["违反宵禁", "Curfew"], signal_lost: ["信号丢失", "Signal lost"],
    overdue_return: ["逾期未归", "Overdue return"], missed_checkin: ["未按时签到", "Missed check-in"],
    tamper: ["设备拆卸", "Tamper"], low_battery: ["电量低", "Low battery"],
    device_separation: ["人机分离", "Device separation"],
  },
  statuses: { open: ["待处理", "Open"], escalated: ["已升级", "Escalated"],
    acknowledged: ["已签收", "Acknowledged"], resolved: ["已处置", "Resolved"] },
  rungs: { street: ["街道", "Street office"], district: ["区", "District"], city: ["市", "City"],
    province: ["省", "Province"], ministry: ["部", "Ministry"] },
  levels: { strict: ["严管", "Strict"], normal: ["普管", "Normal"], lenient: ["宽管", "Lenient"] },
  connection: { connecting: ["连接中", "Connecting"], live: ["实时", "Live"],
    reconnecting: ["重连中", "Reconnecting"] },
  dispositions: {
    false_alarm: ["误报", "False alarm"], verbal_reminder: ["口头提醒", "Verbal reminder"],
    admonition: ["训诫", "Admonition"], warning: ["警告", "Warning"],
    public_security_referral: ["提请治安处罚", "Public-security referral"],
    revocation_referral: ["提请撤销缓刑/假释", "Revocation referral"],
    auto_cleared: ["自动解除", "Cleared automatically"],
  },
  roles: { admin: ["管理员", "Admin"], supervisor: ["主管", "Supervisor"], officer: ["工作人员", "Officer"],
    oversight: ["检察监督", "Oversight"] },
  places: { inside: ["围栏内", "inside"], outside: ["围栏外", "outside"], uncertain: ["不确定", "uncertain"] },
};

/** LABELS.types.out_of_area: the label in the language shown now (read it at render time). */
export const LABELS = Object.fromEntries(Object.entries(LABEL_TABLES).map(([name, table]) => {
  addStrings(Object.fromEntries(Object.entries(table).map(([key, pair]) => [`${name}.${key}`, pair])));
  const labels = {};
  for (const key of Object.keys(table)) Object.defineProperty(labels, key, { enumerable: true, get: () => t(`${name}.${key}`) });
  return [name, labels];
}));

/** A wire value's label in the language shown now; the wire value itself when it has none. */
export const label = (table, key) => table[key] ?? key ?? "";
/** Kept for modules written when labels were "越界 out_of_area": now one language, as label(). */
export const bilingual = label;

// ---- the server's settings for the console ---------------------------------------------------

const DEFAULTS = { tile_url: null, tile_crs: "wgs84", tile_attribution: "", time_zone: "Asia/Shanghai" };
let loading = null;

/** /console/config.json, asked once (the defaults if it fails: offline map, Asia/Shanghai). */
export function loadConfig() {
  loading ||= fetch("config.json").then((r) => (r.ok ? r.json() : {})).catch(() => ({}))
    .then((body) => {
      const settings = { ...DEFAULTS, ...body };
      useZone(settings.time_zone);
      return settings;
    });
  return loading;
}

// ---- times: every one shown in the configured zone, and saying which --------------------------

let zone = DEFAULTS.time_zone, parts = null, offsetParts = null;
useZone(zone);

function useZone(name) {
  try {
    parts = new Intl.DateTimeFormat("en-US", { timeZone: name, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
    offsetParts = new Intl.DateTimeFormat("en-US", { timeZone: name, timeZoneName: "shortOffset" });
    zone = name;
  } catch { /* a zone this browser does not know: keep the last one */ }
}

export const timeZone = () => zone;

/** {year, month, day, hour, minute, second} of an instant, on the configured zone's clock. */
function wallClock(date) {
  const p = Object.fromEntries(parts.formatToParts(date).map(({ type, value }) => [type, Number(value)]));
  return { year: p.year, month: p.month, day: p.day, hour: p.hour, minute: p.minute, second: p.second };
}

/** "UTC+8" (or "UTC-4:30", "UTC"): the zone's offset at that instant (now by default). */
export function zoneLabel(date = new Date()) {
  const name = offsetParts.formatToParts(date).find((p) => p.type === "timeZoneName")?.value ?? "";
  return name.replace(/^GMT/, "UTC");
}

const pad = (n) => String(n).padStart(2, "0");

/** "12-06 23:05:12 UTC+8" ("2025-12-06 …" when not this year); "" when not a time. */
export function formatTime(iso) {
  if (!Number.isFinite(Date.parse(iso))) return "";
  const date = new Date(iso), c = wallClock(date);
  const day = `${c.year === wallClock(new Date()).year ? "" : `${c.year}-`}${pad(c.month)}-${pad(c.day)}`;
  return `${day} ${pad(c.hour)}:${pad(c.minute)}:${pad(c.second)} ${zoneLabel(date)}`;
}

/** "2026-12-06T08:00" (a datetime-local input) read on the configured zone's clock, as an ISO
 * instant; "" when empty or not a time. Not new Date(local): that reads the PC's own zone. */
export function zonedToIso(local) {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?/.exec(local || "");
  if (!m) return "";
  const [year, month, day, hour, minute, second] = m.slice(1).map((n) => Number(n ?? 0));
  const wanted = Date.UTC(year, month - 1, day, hour, minute, second);
  if (!Number.isFinite(wanted)) return "";
  let guess = wanted;
  for (let i = 0; i < 3; i++) { // the offset at the guess, then again: it may differ across a DST change
    const c = wallClock(new Date(guess));
    const shown = Date.UTC(c.year, c.month - 1, c.day, c.hour, c.minute, c.second);
    if (shown === wanted) break;
    guess += wanted - shown;
  }
  return new Date(guess).toISOString();
}
