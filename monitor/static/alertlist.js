// The alert list: loaded as filtered from /v1/alerts, merged with stream events (either may
// arrive first), rendered with its triage lines, and acted on (acknowledge, resolve).
import { CONFIG, LABELS, formatTime, label } from "./config.js";
import { $, el } from "./dom.js";
import { FollowUp, followupLine, isFollowupDue } from "./followup.js";
import { addStrings, t } from "./i18n.js";
import { comparator, matches, queryOf, readFilter, triageLines } from "./triage.js";

const STATUS_RANK = { open: 0, escalated: 1, acknowledged: 2, resolved: 3 }; // alerts only move up
const RUNG_RANK = { street: 0, district: 1, city: 2, province: 3, ministry: 4 };
const ACTIVE = new Set(["open", "escalated"]);

addStrings({
  "alerts.load-failed": ["加载失败：{message}", "Loading failed: {message}"],
  "alerts.late": ["迟报", "late"],
  "alerts.acknowledge": ["签收", "Acknowledge"],
  "alerts.resolve": ["处置", "Resolve"],
  "alerts.checkin-window": ["签到时段", "Check-in window"],
  "alerts.checked-in": ["已签到", "Checked in"],
});

export class AlertList {
  /**
   * session: for the API; jurisdictions: id → the officer's jurisdictions; persons: the map's
   * latest positions (a row's fix age); view(): {role, me, selected} as the console has them now;
   * onPick(personId, alert) when a row is chosen; onNotify(text) for what went wrong;
   * onRendered(active) after each render, with the count of open and escalated alerts.
   */
  constructor({ session, jurisdictions, persons, view, onPick, onNotify, onRendered }) {
    Object.assign(this, { session, jurisdictions, persons, view, onPick, onNotify, onRendered });
    this.alerts = new Map(); // alert id → alert
    this.people = new Map(); // person id → {full_name, supervision_level}, or a promise of it
    this.form = $("alert-filters");
    this.reset();
    this.form.addEventListener("change", () => this.load().then(() => this.render(), (error) => {
      if (this.session.token) this.onNotify(t("alerts.load-failed", { message: error.message }));
    }));
    $("resolve-dialog").addEventListener("close", () => this.onResolveClosed());
    this.followup = new FollowUp({ session, view, onNotify,
      onChanged: (alert) => { if (this.merge(alert)) this.render(); } });
  }

  reset() {
    this.followup?.close();
    this.alerts.clear();
    this.people.clear();
    this.form.reset();
    this.form.jurisdiction_id.replaceChildren(this.form.jurisdiction_id.options[0]);
    Object.assign(this, { filter: readFilter(this.form, this.jurisdictions), loads: 0, flash: new Map() });
  }

  addJurisdiction(j) {
    this.form.jurisdiction_id.append(el("option", { value: j.id, textContent: officeName(j) }));
  }

  /** After a language switch (or the time zone's arrival): the offices' levels, then the rows. */
  relabel() {
    for (const option of this.form.jurisdiction_id.options) {
      const j = this.jurisdictions.get(Number(option.value));
      if (j) option.textContent = officeName(j);
    }
    this.render();
  }

  /** The list as filtered, from the API; stream events merge into it meanwhile. */
  async load() {
    const load = ++this.loads, filter = readFilter(this.form, this.jurisdictions);
    const rows = await this.session.api(queryOf(filter, CONFIG.shownAlerts));
    if (load !== this.loads) return; // the filter changed again while this was asked
    this.filter = filter;
    this.alerts.clear();
    for (const alert of rows) this.merge(alert);
  }

  /** Keep the newer of what is known and what arrived; false when it was older news. */
  merge(alert) {
    const known = this.alerts.get(alert.id);
    const rank = (a) => [STATUS_RANK[a.status] ?? 0, RUNG_RANK[a.escalation_level] ?? 0, Date.parse(a.last_evidence_at) || 0];
    if (known) {
      const [a, b] = [rank(alert), rank(known)];
      if ((a[0] - b[0] || a[1] - b[1] || a[2] - b[2]) < 0) return false; // older news of a known alert
    }
    const merged = { ...this.people.get(alert.person_id), ...known, ...alert };
    this.alerts.set(alert.id, merged);
    this.followup?.heard(merged); // its dialog may be open
    if (merged.full_name === undefined) this.learnPerson(alert.person_id); // an event, not a row
    else this.people.set(alert.person_id, { full_name: merged.full_name, supervision_level: merged.supervision_level });
    return true;
  }

  /** Stream events carry no name: ask once per person, then fill every row of theirs. */
  learnPerson(personId) {
    if (this.people.has(personId)) return;
    const asked = this.session.api(`/v1/persons/${personId}`).then((p) => {
      const person = { full_name: p.full_name, supervision_level: p.supervision_level };
      this.people.set(personId, person);
      for (const a of this.alerts.values()) if (a.person_id === personId) Object.assign(a, { ...person, ...a });
      this.render();
    }, () => this.people.delete(personId)); // asked again with the next event
    this.people.set(personId, asked);
  }

  /** A newly opened alert's row is marked for a few seconds. */
  flashOpened(id) {
    this.flash.set(id, Date.now() + CONFIG.flashMs);
  }

  render() {
    const fits = (a) => matches(a, this.filter, this.jurisdictions, this.view().me);
    for (const a of this.alerts.values()) if (a.status === "resolved" && !fits(a)) this.alerts.delete(a.id);
    const sorted = [...this.alerts.values()].filter(fits).sort(comparator(this.filter.sort));
    for (const a of sorted.slice(CONFIG.shownAlerts)) if (a.status === "resolved") this.alerts.delete(a.id);
    for (const [id, until] of this.flash) if (until < Date.now()) this.flash.delete(id);
    $("alert-list").replaceChildren(...sorted.slice(0, CONFIG.shownAlerts).map((a) => this.item(a)));
    $("alert-empty").hidden = sorted.length > 0;
    this.onRendered([...this.alerts.values()].filter((a) => ACTIVE.has(a.status)).length);
  }

  item(alert) {
    const { role, selected } = this.view();
    const actions = el("div", { className: "actions" });
    const li = el("li", { className: "alert", tabIndex: 0 },
      el("div", { className: "title" },
        el("b", { className: "type", textContent: label(LABELS.types, alert.type) }),
        el("span", { className: "case", textContent: alert.case_number })),
      el("div", { className: "meta" },
        el("time", { className: "opened", dateTime: alert.opened_at, textContent: formatTime(alert.opened_at) }),
        el("span", { className: "status", textContent: label(LABELS.statuses, alert.status) }),
        el("span", { className: "rung", textContent: label(LABELS.rungs, alert.escalation_level) }),
        el("span", { className: "id", textContent: `#${alert.id}` }),
        alert.late ? el("span", { className: "late", textContent: t("alerts.late") }) : ""),
      ...triageLines(alert, { el, lastFix: this.lastFixOf(alert), office: this.jurisdictions.get(alert.jurisdiction_id)?.name }),
      ...checkinLines(alert),
      followupLine(alert),
      actions);
    Object.assign(li.dataset, { alertId: alert.id, personId: alert.person_id, status: alert.status, type: alert.type,
      followupDue: isFollowupDue(alert), assignedTo: alert.assigned_to ?? "" });
    li.classList.toggle("selected", alert.person_id === selected);
    li.classList.toggle("flash", (this.flash.get(alert.id) || 0) > Date.now());
    if (role && role !== "oversight") { // oversight accounts read but never change
      if (ACTIVE.has(alert.status)) actions.append(button(t("alerts.acknowledge"), "ack", () => this.change(alert.id, "ack", { note: "" })));
      if (alert.status !== "resolved") actions.append(button(t("alerts.resolve"), "resolve", () => this.openResolve(alert.id)));
    }
    if (role) actions.append(button(t("followup.open"), "followup", () => this.followup.open(alert), { keep: true }));
    li.addEventListener("click", () => this.onPick(alert.person_id, alert));
    li.addEventListener("keydown", (e) => { if (e.key === "Enter" && e.target === li) this.onPick(alert.person_id, alert); });
    return li;
  }

  /** The later of the row's last fix and the live map's latest position of the person. */
  lastFixOf(alert) {
    const live = this.persons.get(alert.person_id)?.ts;
    return [alert.last_fix_at, live].filter(Boolean).sort((a, b) => Date.parse(b) - Date.parse(a))[0];
  }

  async change(id, verb, json) {
    try {
      this.merge(await this.session.api(`/v1/alerts/${id}/${verb}`, { method: "POST", json }));
      this.onNotify("");
    } catch (error) {
      if (!this.session.token) return;
      this.onNotify(`#${id}: ${error.message}`); // 409: a colleague got there first; show the alert as it is now
      await this.session.api(`/v1/alerts/${id}`).then((a) => this.merge(a)).catch(() => {});
    }
    this.render();
  }

  openResolve(id) {
    const form = $("resolve-form");
    form.reset();
    form.dataset.alertId = id;
    $("resolve-alert-id").textContent = `#${id}`;
    $("resolve-dialog").returnValue = ""; // Esc would otherwise keep the last "confirm"
    $("resolve-dialog").showModal();
  }

  onResolveClosed() {
    const form = $("resolve-form");
    if ($("resolve-dialog").returnValue !== "confirm") return this.render(); // re-enables the button
    const { disposition, note } = Object.fromEntries(new FormData(form));
    this.change(form.dataset.alertId, "resolve", { disposition, note });
  }
}

/** A missed check-in says which window was missed, and when the person checked in after all. */
function checkinLines(alert) {
  const d = alert.details || {};
  if (alert.type !== "missed_checkin" || !d.window_start) return [];
  const missed = Array.isArray(d.missed) && d.missed.length > 1 ? ` ×${d.missed.length}` : "";
  const lines = [el("div", { className: "meta checkin-window" },
    el("span", { textContent: `${t("alerts.checkin-window")}${missed}` }),
    el("time", { dateTime: d.window_start, textContent: formatTime(d.window_start) }),
    el("span", { textContent: "–" }),
    el("time", { dateTime: d.window_end, textContent: formatTime(d.window_end) }))];
  if (d.checked_in_at) {
    lines.push(el("div", { className: "meta checked-in" },
      el("span", { textContent: t("alerts.checked-in") }),
      el("time", { dateTime: d.checked_in_at, textContent: formatTime(d.checked_in_at) })));
  }
  return lines;
}

const officeName = (j) => `${j.name} · ${label(LABELS.rungs, j.level)}`;

/** keep: the button stays enabled after its click (it opens something, changes nothing). */
function button(text, action, onClick, { keep = false } = {}) {
  const b = el("button", { type: "button", className: "secondary", textContent: text });
  b.dataset.action = action;
  b.addEventListener("click", (event) => { event.stopPropagation(); b.disabled = !keep; onClick(); });
  return b;
}
