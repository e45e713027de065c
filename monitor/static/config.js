// What differs between localities: colours, labels and timings of the duty console.
// Edit here; console.js and map.js only read these.

export const CONFIG = {
  // dot colour per supervision level (严管 / 普管 / 宽管)
  levelColours: { strict: "#ef4444", normal: "#3b82f6", lenient: "#22c55e" },
  unknownColour: "#a3a3a3",
  fenceColours: { allowed: "#94a3b8", exclusion: "#f97316" },
  fenceFills: { allowed: "rgba(148,163,184,0.07)", exclusion: "rgba(249,115,22,0.12)" },
  outsideRing: "#f87171", // persons currently outside their allowed area: larger dot and this ring
  selectedRing: "#facc15", // the person of the alert last clicked
  dotRadius: { inside: 3.5, outside: 6 },
  staleMs: 45000, // nothing at all from the stream (not even a heartbeat) for this long: reconnect
  retryMinMs: 1000, // reconnect backoff: doubles from here, with jitter, up to retryMaxMs
  retryMaxMs: 30000,
  shownAlerts: 300, // rows in the alert list; older resolved alerts are dropped beyond this
  flashMs: 4000, // how long a newly opened alert's row stays marked .flash
  beep: true, // a short tone when an alert opens (browsers allow sound only after a click)
};

export const LABELS = {
  types: {
    out_of_area: "越界", exclusion_zone: "进入禁区", curfew: "违反宵禁", signal_lost: "信号丢失",
    overdue_return: "逾期未归", missed_checkin: "未按时签到", tamper: "设备拆卸", low_battery: "电量低",
    device_separation: "人机分离",
  },
  statuses: { open: "待处理", escalated: "已升级", acknowledged: "已签收", resolved: "已处置" },
  rungs: { street: "街道", district: "区", city: "市" },
  levels: { strict: "严管", normal: "普管", lenient: "宽管" },
  connection: { connecting: "连接中 connecting", live: "实时 live", reconnecting: "重连中 reconnecting" },
};

/** "越界 out_of_area": the Chinese label, then the wire value. */
export const bilingual = (table, key) => `${table[key] || ""} ${key ?? ""}`.trim();

const timeFormat = new Intl.DateTimeFormat("zh-CN", { month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });

export const formatTime = (iso) => (Number.isFinite(Date.parse(iso)) ? timeFormat.format(new Date(iso)) : "");
