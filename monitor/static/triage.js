// The alert list's triage: the filter form as a /v1/alerts query, the same filter and order
// applied to live events as they merge, and the lines a row shows beside the alert itself.
import { LABELS, formatTime, label, zonedToIso } from "./config.js";
import { isFollowupDue } from "./followup.js";
import { addStrings, t } from "./i18n.js";

const VIEWS = { // the status select: a view is one or several statuses
  active: ["open", "escalated", "acknowledged"], open: ["open"], escalated: ["escalated"],
  acknowledged: ["acknowledged"], history: ["resolved"],
};
// as the server's `severity` order (alerts/queries.py): type urgency, rung, longest waiting
const URGENCY = { out_of_area: 3, exclusion_zone: 3, tamper: 3, device_separation: 3,
  overdue_return: 2, curfew: 2, signal_lost: 2, missed_checkin: 1, low_battery: 0 };
const RUNG = { street: 0, district: 1, city: 2, province: 3, ministry: 4 };

addStrings({
  "ago.seconds": ["{n} 秒前", "{n} s ago"],
  "ago.minutes": ["{n} 分钟前", "{n} min ago"],
  "ago.hours": ["{n} 小时前", "{n} h ago"],
  "ago.days": ["{n} 天前", "{n} d ago"],
  "triage.fix": ["定位 {ago}", "Fix {ago}"],
  "triage.returned": ["已返回 {time}", "Returned {time}"],
});

/** The filter as chosen in the form: what the API is asked and what live events must match.
 * Its times are read on the configured zone's clock, as every time shown is. */
export function readFilter(form, jurisdictions) {
  const data = new FormData(form);
  const instant = (name) => zonedToIso(data.get(name));
  const jurisdiction = jurisdictions.get(Number(data.get("jurisdiction_id")));
  return { type: data.get("type") || "", statuses: VIEWS[data.get("view")] || VIEWS.active,
    jurisdictionId: jurisdiction?.id ?? null, under: jurisdiction?.path ?? "",
    from: instant("opened_from"), to: instant("opened_to"), sort: data.get("sort") || "newest",
    assigned: data.get("assigned") || "", followupDue: data.get("followup_due") === "true" };
}

export function queryOf(filter, limit) {
  const q = new URLSearchParams({ sort: filter.sort, limit });
  for (const status of filter.statuses) q.append("status", status);
  if (filter.type) q.set("type", filter.type);
  if (filter.jurisdictionId) q.set("jurisdiction_id", filter.jurisdictionId);
  if (filter.from) q.set("opened_from", filter.from);
  if (filter.to) q.set("opened_to", filter.to);
  if (filter.assigned) q.set("assigned_to", filter.assigned); // me, none
  if (filter.followupDue) q.set("followup_due", "true");
  return `/v1/alerts?${q}`;
}

/** Whether an alert (from the stream, say) belongs in the list as filtered; `me`: the
 * officer's id, for "mine". */
export function matches(alert, filter, jurisdictions, me = null) {
  const opened = Date.parse(alert.opened_at);
  const path = jurisdictions.get(alert.jurisdiction_id)?.path ?? "";
  return filter.statuses.includes(alert.status) && (!filter.type || alert.type === filter.type)
    && (!filter.under || path.startsWith(filter.under))
    && (!filter.from || opened >= Date.parse(filter.from)) && (!filter.to || opened < Date.parse(filter.to))
    && assignedMatches(alert, filter.assigned, me) && (!filter.followupDue || isFollowupDue(alert));
}

function assignedMatches(alert, assigned, me) {
  if (assigned === "me") return alert.assigned_to != null && alert.assigned_to === me;
  if (assigned === "none") return alert.assigned_to == null;
  return true;
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

/** "5 分钟前" ("5 min ago"), from an instant; "" when unknown. */
export function ago(iso, now = Date.now()) {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return "";
  if (s < 60) return t("ago.seconds", { n: s });
  if (s < 3600) return t("ago.minutes", { n: Math.floor(s / 60) });
  if (s < 86400) return t("ago.hours", { n: Math.floor(s / 3600) });
  return t("ago.days", { n: Math.floor(s / 86400) });
}

/** Who, where, how strictly supervised, when last fixed, back or not; then how it ended. */
export function triageLines(alert, { el, lastFix, office }) {
  const level = alert.supervision_level;
  const returned = alert.returned_at ?? alert.details?.returned_at;
  const who = el("div", { className: "meta who" },
    alert.full_name ? el("span", { className: "name", textContent: alert.full_name }) : "",
    el("span", { className: "office", textContent: alert.jurisdiction_name || office || "" }),
    level ? el("span", { className: `level level-${level}`, textContent: label(LABELS.levels, level) }) : "",
    lastFix ? el("time", { className: "fix", dateTime: lastFix, title: formatTime(lastFix),
      textContent: t("triage.fix", { ago: ago(lastFix) }) }) : "",
    returned ? el("span", { className: "returned", title: formatTime(returned),
      textContent: t("triage.returned", { time: formatTime(returned) }) }) : "");
  if (alert.status !== "resolved") return [who];
  const disposition = el("span", { className: "disposition", textContent: label(LABELS.dispositions, alert.disposition) });
  disposition.dataset.disposition = alert.disposition ?? "";
  return [who, el("div", { className: "meta outcome" }, disposition,
    el("q", { className: "note", textContent: alert.note || "" }))];
}
