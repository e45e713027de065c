// The alert list's triage: the filter form as a /v1/alerts query, the same filter and order
// applied to live events as they merge, and the lines a row shows beside the alert itself.
import { LABELS, bilingual, formatTime } from "./config.js";

const VIEWS = { // the status select: a view is one or several statuses
  active: ["open", "escalated", "acknowledged"], open: ["open"], escalated: ["escalated"],
  acknowledged: ["acknowledged"], history: ["resolved"],
};
// as the server's `severity` order (alerts/queries.py): type urgency, rung, longest waiting
const URGENCY = { out_of_area: 3, exclusion_zone: 3, tamper: 3, device_separation: 3,
  overdue_return: 2, curfew: 2, signal_lost: 2, missed_checkin: 1, low_battery: 0 };
const RUNG = { street: 0, district: 1, city: 2 };
const DISPOSITIONS = { false_alarm: "误报", verbal_reminder: "口头提醒", admonition: "训诫", warning: "警告",
  public_security_referral: "提请治安处罚", revocation_referral: "提请撤销", auto_cleared: "自动解除" };

/** The filter as chosen in the form: what the API is asked and what live events must match. */
export function readFilter(form, jurisdictions) {
  const data = new FormData(form);
  const instant = (name) => (data.get(name) ? new Date(data.get(name)).toISOString() : "");
  const jurisdiction = jurisdictions.get(Number(data.get("jurisdiction_id")));
  return { type: data.get("type") || "", statuses: VIEWS[data.get("view")] || VIEWS.active,
    jurisdictionId: jurisdiction?.id ?? null, under: jurisdiction?.path ?? "",
    from: instant("opened_from"), to: instant("opened_to"), sort: data.get("sort") || "newest" };
}

export function queryOf(filter, limit) {
  const q = new URLSearchParams({ sort: filter.sort, limit });
  for (const status of filter.statuses) q.append("status", status);
  if (filter.type) q.set("type", filter.type);
  if (filter.jurisdictionId) q.set("jurisdiction_id", filter.jurisdictionId);
  if (filter.from) q.set("opened_from", filter.from);
  if (filter.to) q.set("opened_to", filter.to);
  return `/v1/alerts?${q}`;
}

/** Whether an alert (from the stream, say) belongs in the list as filtered. */
export function matches(alert, filter, jurisdictions) {
  const opened = Date.parse(alert.opened_at);
  const path = jurisdictions.get(alert.jurisdiction_id)?.path ?? "";
  return filter.statuses.includes(alert.status) && (!filter.type || alert.type === filter.type)
    && (!filter.under || path.startsWith(filter.under))
    && (!filter.from || opened >= Date.parse(filter.from)) && (!filter.to || opened < Date.parse(filter.to));
}

export function comparator(sort) {
  const age = (a, b) => Date.parse(a.opened_at) - Date.parse(b.opened_at) || a.id - b.id;
  if (sort === "oldest") return age;
  if (sort === "severity") {
    return (a, b) => (URGENCY[b.type] ?? 0) - (URGENCY[a.type] ?? 0)
      || (RUNG[b.escalation_level] ?? 0) - (RUNG[a.escalation_level] ?? 0) || age(a, b);
  }
  return (a, b) => age(b, a);
}

/** "5 min ago", from an instant; "" when unknown. */
export function ago(iso, now = Date.now()) {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return "";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** Who, where, how strictly supervised, when last fixed, back or not; then how it ended. */
export function triageLines(alert, { el, lastFix, office }) {
  const level = alert.supervision_level;
  const returned = alert.returned_at ?? alert.details?.returned_at;
  const who = el("div", { className: "meta who" },
    alert.full_name ? el("span", { className: "name", textContent: alert.full_name }) : "",
    el("span", { className: "office", textContent: alert.jurisdiction_name || office || "" }),
    level ? el("span", { className: `level level-${level}`, textContent: bilingual(LABELS.levels, level) }) : "",
    lastFix ? el("time", { className: "fix", dateTime: lastFix, title: formatTime(lastFix),
      textContent: `定位 fix ${ago(lastFix)}` }) : "",
    returned ? el("span", { className: "returned", title: formatTime(returned),
      textContent: `已返回 returned ${formatTime(returned)}` }) : "");
  if (alert.status !== "resolved") return [who];
  return [who, el("div", { className: "meta outcome" },
    el("span", { className: "disposition", textContent: bilingual(DISPOSITIONS, alert.disposition) }),
    el("q", { className: "note", textContent: alert.note || "" }))];
}
