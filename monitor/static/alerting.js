// What calls the officer back to the console: an urgent alert opening (the person may be gone,
// or the band cut) or climbing a rung unanswered. A burst is told once: one tone and one desktop
// notification per CONFIG.alertBurstMs, with a count, so a mass event does not flood the desk.
import { CONFIG, LABELS, label } from "./config.js";
import { DesktopNotices } from "./desktop.js";
import { addStrings, t } from "./i18n.js";
import { Sound } from "./sound.js";

addStrings({
  "alerting.opened": ["紧急告警：{type}", "Urgent alert: {type}"],
  "alerting.escalated": ["告警已升级至{rung}：{type}", "Alert escalated to {rung}: {type}"],
  "alerting.line": ["{type} · 案号 {case} · {office}", "{type} · case {case} · {office}"],
  "alerting.burst": ["{n} 条新紧急告警", "{n} new urgent alerts"],
  "alerting.more": ["另有 {n} 条", "and {n} more"],
});

const SHOWN_IN_A_BURST = 3; // lines of a burst's notification; the rest are counted

/** An urgent type's alert opening, or climbing to a higher rung (alert.escalated). */
export function isUrgent(message) {
  const alert = message.alert;
  return Boolean(alert) && CONFIG.urgentTypes.includes(alert.type)
    && (message.type === "alert.opened" || message.type === "alert.escalated");
}

export class Alerting {
  /**
   * officeOf(jurisdictionId) → the office's name; isActive(alertId) → still open or escalated
   * (a burst's latecomers taken up meanwhile are not told); onPick(personId) from a click on
   * a notification.
   */
  constructor({ officeOf, isActive, onPick }) {
    Object.assign(this, { officeOf, isActive, onPick, timer: null });
    this.sound = new Sound();
    this.desktop = new DesktopNotices();
    this.reset();
  }

  reset() {
    clearTimeout(this.timer);
    Object.assign(this, { told: new Set(), pending: [], timer: null });
  }

  /** From a user gesture (the login click): browsers start audio only then. */
  unlock() {
    this.sound.unlock();
  }

  /** A stream event whose alert merged as news. */
  receive(message) {
    if (!isUrgent(message)) return;
    const { alert } = message;
    const key = `${alert.id}:${message.type === "alert.escalated" ? alert.escalation_level : "opened"}`;
    if (this.told.has(key)) return; // the same news again (the snapshot and the stream overlap)
    this.told.add(key);
    this.pending.push(message);
    if (!this.timer) this.flush(); // the first of a burst is told at once
  }

  /** Tell what is pending, then hold the rest of the burst for CONFIG.alertBurstMs. */
  flush() {
    const messages = this.pending.filter((m) => this.isActive(m.alert.id));
    Object.assign(this, { pending: [], timer: null });
    if (!messages.length) return;
    const latest = messages.at(-1).alert;
    this.sound.playUrgent();
    this.desktop.show({ ...this.describe(messages), onClick: () => this.onPick(latest.person_id) });
    this.timer = setTimeout(() => this.flush(), CONFIG.alertBurstMs);
  }

  describe(messages) {
    const lines = messages.map((m) => t("alerting.line", { type: typeOf(m.alert),
      case: m.alert.case_number || `#${m.alert.person_id}`, office: this.officeOf(m.alert.jurisdiction_id) || "" }));
    if (messages.length === 1) {
      const [{ type, alert }] = messages;
      const title = type === "alert.escalated"
        ? t("alerting.escalated", { type: typeOf(alert), rung: label(LABELS.rungs, alert.escalation_level) })
        : t("alerting.opened", { type: typeOf(alert) });
      return { title, body: lines[0] };
    }
    const shown = lines.slice(-SHOWN_IN_A_BURST).reverse(); // newest first
    if (lines.length > shown.length) shown.push(t("alerting.more", { n: lines.length - shown.length }));
    return { title: t("alerting.burst", { n: messages.length }), body: shown.join("\n") };
  }
}

const typeOf = (alert) => label(LABELS.types, alert.type);
