// Following an alert up (每日跟进): who has it, its notes, and the dialog to assign it and add
// a note. The row's follow-up line is drawn here too; the alert list opens the dialog.
import { formatTime } from "./config.js";
import { $, el } from "./dom.js";
import { addStrings, t } from "./i18n.js";

const SHOWN_NOTES = 200; // the newest; the count on the alert says how many there are

addStrings({
  "followup.open": ["跟进", "Follow up"],
  "followup.title": ["告警跟进", "Alert follow-up"],
  "followup.assignee": ["负责人", "Assigned to"],
  "followup.unassigned": ["未分配", "Unassigned"],
  "followup.assign-me": ["分配给我", "Assign to me"],
  "followup.assign": ["分配", "Assign"],
  "followup.unassign": ["取消分配", "Unassign"],
  "followup.choose": ["选择民警…", "Choose an officer…"],
  "followup.officer": ["民警", "Officer"],
  "followup.notes": ["跟进记录", "Follow-up notes"],
  "followup.no-notes": ["暂无跟进记录", "No follow-up notes yet"],
  "followup.earlier": ["另有 {n} 条更早的记录未显示", "{n} earlier notes not shown"],
  "followup.note": ["新增跟进记录", "New follow-up note"],
  "followup.add-note": ["添加记录", "Add note"],
  "followup.close": ["关闭", "Close"],
  "followup.count": ["跟进 {n} 条", "Notes: {n}"],
  "followup.due": ["今日待跟进", "Follow-up due"],
  "followup.failed": ["跟进操作失败：{message}", "Follow-up failed: {message}"],
  "filters.assigned": ["负责人", "Assigned"],
  "filters.assigned.me": ["我的", "Mine"],
  "filters.assigned.none": ["未分配", "Unassigned"],
  "filters.followup-due": ["待跟进", "Follow-up due"],
});

/** Due when unresolved and a day has passed since the last note (or the opening): the server
 * says when (`followup_due_at`), the clock says whether that has come. */
export function isFollowupDue(alert, now = Date.now()) {
  return alert.status !== "resolved" && Boolean(alert.followup_due_at) && Date.parse(alert.followup_due_at) <= now;
}

/** The row's line: who has the alert, how many notes, and the due mark. */
export function followupLine(alert) {
  const due = isFollowupDue(alert);
  const line = el("div", { className: "meta followup" },
    el("span", { className: "assignee", textContent: `${t("followup.assignee")}: ${alert.assigned_to_name || t("followup.unassigned")}` }),
    alert.notes_count ? el("span", { className: "notes-count", textContent: t("followup.count", { n: alert.notes_count }) }) : "",
    due ? el("span", { className: "followup-due", textContent: t("followup.due") }) : "");
  line.dataset.assignedTo = alert.assigned_to ?? "";
  return line;
}

export class FollowUp {
  /** session: for the API; view(): {role, me}; onChanged(alert) with the alert as it is now;
   * onNotify(text) for what went wrong. */
  constructor({ session, view, onChanged, onNotify }) {
    Object.assign(this, { session, view, onChanged, onNotify, alert: null });
    $("followup-assign-me").addEventListener("click", () => this.assign(this.view().me));
    $("followup-assign-to").addEventListener("click", () => {
      const chosen = Number($("followup-officer").value);
      if (chosen) this.assign(chosen);
    });
    $("followup-unassign").addEventListener("click", () => this.assign(null));
    $("followup-add-note").addEventListener("click", () => this.addNote());
    $("followup-dialog").addEventListener("close", () => { this.alert = null; });
  }

  get openId() {
    return this.alert?.id ?? null;
  }

  async open(alert) {
    this.alert = alert;
    const writer = this.view().role && this.view().role !== "oversight"; // oversight reads only
    for (const id of ["followup-assign-controls", "followup-note-controls"]) $(id).hidden = !writer;
    $("followup-note-body").value = "";
    this.show();
    $("followup-dialog").showModal();
    await Promise.all([this.loadNotes(), writer ? this.loadOfficers() : null]);
  }

  /** The alert changed (here or on another console): show it, and its notes if they grew. */
  heard(alert) {
    if (!this.alert || alert.id !== this.alert.id) return;
    const grew = alert.notes_count !== this.alert.notes_count;
    this.alert = { ...this.alert, ...alert };
    this.show();
    if (grew) this.loadNotes();
  }

  show() {
    const a = this.alert;
    $("followup-alert-id").textContent = `#${a.id} ${a.case_number ?? ""}`;
    $("followup-assignee").textContent = a.assigned_to_name || t("followup.unassigned");
    $("followup-assignee").dataset.assignedTo = a.assigned_to ?? "";
    $("followup-unassign").disabled = a.assigned_to == null;
    const resolved = a.status === "resolved"; // a resolved alert is no longer assigned
    for (const id of ["followup-assign-me", "followup-assign-to", "followup-officer"]) $(id).disabled = resolved;
    $("followup-due").hidden = !isFollowupDue(a);
  }

  async loadNotes() {
    const a = this.alert, skipped = Math.max(0, (a.notes_count ?? 0) - SHOWN_NOTES);
    try {
      const notes = await this.session.api(`/v1/alerts/${a.id}/notes?limit=${SHOWN_NOTES}&offset=${skipped}`);
      if (this.alert?.id !== a.id) return;
      $("followup-notes").replaceChildren(...notes.map(noteItem));
      $("followup-no-notes").hidden = notes.length > 0;
      $("followup-earlier").hidden = !skipped;
      $("followup-earlier").textContent = skipped ? t("followup.earlier", { n: skipped }) : "";
    } catch (error) {
      this.fail(error);
    }
  }

  async loadOfficers() {
    const a = this.alert;
    try {
      const officers = await this.session.api(`/v1/officers?alert_id=${a.id}&limit=1000`);
      if (this.alert?.id !== a.id) return;
      $("followup-officer").replaceChildren(el("option", { value: "", textContent: t("followup.choose") }),
        ...officers.map((o) => el("option", { value: o.id, textContent: `${o.display_name || o.username} · ${o.jurisdiction_name}` })));
    } catch (error) {
      this.fail(error);
    }
  }

  async assign(officerId) {
    await this.act(`/v1/alerts/${this.alert.id}/assign`, { officer_id: officerId ?? null });
  }

  async addNote() {
    const body = $("followup-note-body").value;
    if (!body.trim()) return;
    if (await this.act(`/v1/alerts/${this.alert.id}/notes`, { body })) {
      $("followup-note-body").value = "";
      const alert = await this.session.api(`/v1/alerts/${this.alert.id}`).catch(() => null);
      if (alert) this.changed(alert); // its notes_count grew: heard() reloads the notes
      else await this.loadNotes();
    }
  }

  /** POST it; an alert in the answer is the alert as it is now. True when it was done. */
  async act(path, json) {
    try {
      const answer = await this.session.api(path, { method: "POST", json });
      if (answer.case_number !== undefined) this.changed(answer);
      this.onNotify("");
      return true;
    } catch (error) {
      this.fail(error);
      return false;
    }
  }

  changed(alert) {
    this.heard(alert);
    this.onChanged(alert);
  }

  fail(error) {
    if (this.session.token) this.onNotify(t("followup.failed", { message: error.message }));
  }

  close() {
    if ($("followup-dialog").open) $("followup-dialog").close();
  }
}

function noteItem(note) {
  const li = el("li", { className: "note" },
    el("div", { className: "meta" },
      el("b", { className: "author", textContent: note.officer_name }),
      el("time", { dateTime: note.created_at, textContent: formatTime(note.created_at) })),
    el("p", { className: "body", textContent: note.body }));
  li.dataset.noteId = note.id;
  return li;
}
