// The roster: the Persons tab of the side pane, beside the alerts. Lists the officer's persons
// (or their devices) from /v1/persons and /v1/devices as filtered; a row picks its person.
// Reloaded when the tab is shown, every REFRESH_MS while it is, and shortly after alert events
// (never on position events: those come every few seconds a person).
import { formatTime } from "./config.js";
import { $, el } from "./dom.js";
import { addStrings, onLanguageChange, t, translate } from "./i18n.js";
import { ago } from "./triage.js";

const REFRESH_MS = 30000;
const EVENT_DELAY_MS = 2000; // a burst of alert events costs one reload
const SHOWN = 300; // rows asked for; the search narrows a longer list

addStrings({
  "roster.tab.alerts": ["告警", "Alerts"],
  "roster.tab.persons": ["人员", "Persons"],
  "roster.search": ["搜索", "Search"],
  "roster.search.placeholder": ["案号或姓名", "case number or name"],
  "roster.search.devices": ["设备号或案号", "device id or case number"],
  "roster.level": ["管理类别", "Level"],
  "roster.office": ["辖区", "Office"],
  "roster.status": ["状态", "Status"],
  "roster.view": ["列表", "List"],
  "roster.view.persons": ["人员", "persons"],
  "roster.view.devices": ["设备", "devices"],
  "roster.kind": ["设备类型", "Kind"],
  "roster.state": ["设备状态", "Device state"],
  "roster.all": ["全部", "all"],
  "roster.empty": ["无符合条件的人员", "No persons match"],
  "roster.empty.devices": ["无符合条件的设备", "No devices match"],
  "roster.failed": ["人员列表加载失败：{error}", "Persons list failed to load: {error}"],
  "roster.fix": ["定位 {age}", "fix {age}"],
  "roster.never": ["从未定位", "never located"],
  "roster.seen": ["{age}", "{age}"],
  "roster.battery": ["电量 {pct}%", "battery {pct}%"],
  "roster.unheard": ["未上报", "never heard"],
  "roster.alerts": ["告警 {n}", "{n} alerts"],
  "roster.revoked": ["已停用", "revoked"],
  "roster.status.tamper": ["拆卸", "tamper"],
  "roster.status.outside": ["越界", "outside"],
  "roster.status.silent": ["失联", "silent"],
  "roster.status.inside": ["在界内", "inside"],
  "roster.status.unknown": ["未定位", "unknown"],
  "roster.state.active": ["在用", "active"],
  "roster.state.revoked": ["已停用", "revoked"],
  "roster.state.silent": ["失联", "silent"],
  "roster.level.strict": ["严管", "strict"],
  "roster.level.normal": ["普管", "normal"],
  "roster.level.lenient": ["宽管", "lenient"],
  "roster.kind.ankle": ["脚环", "ankle band"],
  "roster.kind.wrist": ["腕带", "wrist band"],
  "roster.kind.phone": ["手机", "phone"],
});

export class Roster {
  /**
   * session: for the API; jurisdictions: id → the officer's jurisdictions (filled by the
   * console at login); onPick(personId) when a row is chosen; onNotify(text) on a failure.
   */
  constructor({ session, jurisdictions, onPick, onNotify }) {
    Object.assign(this, { session, jurisdictions, onPick, onNotify });
    this.pane = $("alerts-pane");
    this.form = $("roster-filters");
    this.loads = 0;
    this.rows = [];
    for (const tab of $("pane-tabs").querySelectorAll("[data-tab]")) {
      tab.addEventListener("click", () => this.show(tab.dataset.tab));
    }
    this.form.addEventListener("input", () => this.soon(300));
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.reload(); });
    setInterval(() => { if (this.shown()) this.reload(); }, REFRESH_MS);
    onLanguageChange(() => this.render()); // setLanguage has filled the data-i18n labels
    translate($("roster-pane"));
    translate($("pane-tabs"));
  }

  shown() {
    return this.pane.dataset.tab === "roster" && Boolean(this.session.token);
  }

  show(tab) {
    this.pane.dataset.tab = tab;
    for (const b of $("pane-tabs").querySelectorAll("[data-tab]")) b.setAttribute("aria-selected", String(b.dataset.tab === tab));
    if (tab === "roster") {
      this.fillOffices();
      this.reload();
    }
  }

  /** Back to the alerts, empty: after a logout the next officer must not see these rows. */
  reset() {
    this.form.reset();
    this.form.jurisdiction_id.replaceChildren(this.form.jurisdiction_id.options[0]);
    Object.assign(this, { rows: [], selected: null });
    this.loads += 1;
    this.show("alerts");
    this.render();
  }

  /** A stream event: alerts change a person's status and counts; positions do not reload. */
  heard(message) {
    if (message.type === "position" || message.type === "heartbeat" || !this.shown() || this.pending) return;
    this.pending = setTimeout(() => { this.pending = null; this.reload(); }, EVENT_DELAY_MS); // not put off by more
  }

  /** A person transferred: out of this officer's reach (office null) their rows go at once;
   * still in reach, their rows show the new office's name. The next reload agrees either way. */
  moved(personId, office) {
    const theirs = (row) => (this.devices ? row.person_id : row.id) === personId;
    this.rows = office === null ? this.rows.filter((row) => !theirs(row))
      : this.rows.map((row) => (theirs(row) ? { ...row, jurisdiction_name: office } : row));
    this.render();
  }

  soon(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), ms);
  }

  fillOffices() {
    const select = this.form.jurisdiction_id;
    if (select.options.length > 1) return;
    for (const j of [...this.jurisdictions.values()].sort((a, b) => a.path.localeCompare(b.path))) {
      select.append(el("option", { value: j.id, textContent: `${j.name} · ${j.level}` }));
    }
  }

  query() {
    const data = new FormData(this.form), devices = data.get("view") === "devices";
    const q = new URLSearchParams({ limit: SHOWN });
    const put = (name, value = data.get(name)) => { if (value) q.set(name, String(value).trim()); };
    put("q");
    put("jurisdiction_id");
    if (!devices) {
      put("supervision_level");
      put("status");
      q.set("sort", "status");
      return `/v1/persons?${q}`;
    }
    put("kind");
    const state = data.get("state");
    if (state === "silent") q.set("silent", "true"); else put("state");
    return `/v1/devices?${q}`;
  }

  async reload() {
    clearTimeout(this.timer);
    if (!this.session.token) return;
    const load = ++this.loads, path = this.query();
    try {
      const rows = await this.session.api(path);
      if (load !== this.loads) return; // the filter changed again while this was asked
      Object.assign(this, { rows, devices: path.startsWith("/v1/devices") });
      this.render();
    } catch (error) {
      if (this.session.token && load === this.loads) this.onNotify(t("roster.failed", { error: error.message }));
    }
  }

  render() {
    const devices = this.form.view.value === "devices";
    $("roster-pane").dataset.view = devices ? "devices" : "persons";
    this.form.q.placeholder = t(devices ? "roster.search.devices" : "roster.search.placeholder");
    const rows = this.rows.map((row) => (this.devices ? this.deviceItem(row) : this.personItem(row)));
    $("roster-list").replaceChildren(...rows);
    $("roster-empty").textContent = t(this.devices ? "roster.empty.devices" : "roster.empty");
    $("roster-empty").hidden = rows.length > 0;
    $("roster-pane").dataset.count = rows.length;
  }

  pickable(li, personId) {
    li.dataset.personId = personId;
    li.tabIndex = 0;
    li.classList.toggle("selected", personId === this.selected);
    const pick = () => {
      this.selected = personId;
      for (const other of $("roster-list").children) other.classList.toggle("selected", other === li);
      this.onPick(personId);
    };
    li.addEventListener("click", pick);
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") pick(); });
    return li;
  }

  personItem(p) {
    const li = el("li", { className: "roster-person" },
      el("div", { className: "title" },
        el("span", { className: "case", textContent: p.case_number }),
        el("span", { className: "name", textContent: p.full_name }),
        el("b", { className: `badge status-${p.status}`, textContent: t(`roster.status.${p.status}`) })),
      el("div", { className: "meta" },
        el("span", { className: `level level-${p.supervision_level}`, textContent: t(`roster.level.${p.supervision_level}`) }),
        el("span", { className: "office", textContent: p.jurisdiction_name }),
        fixAge(p.last_fix_at),
        p.open_alerts ? el("span", { className: "open-alerts", textContent: t("roster.alerts", { n: p.open_alerts }) }) : ""),
      el("div", { className: "meta devices" }, ...p.devices.map(deviceBrief)));
    li.dataset.status = p.status;
    return this.pickable(li, p.id);
  }

  deviceItem(d) {
    const li = el("li", { className: "roster-device" },
      el("div", { className: "title" },
        el("span", { className: "device-id", textContent: d.device_id }),
        el("span", { className: "case", textContent: d.case_number }),
        d.revoked_at ? el("b", { className: "badge revoked", textContent: t("roster.revoked") })
          : d.silent ? el("b", { className: "badge status-silent", textContent: t("roster.status.silent") }) : ""),
      el("div", { className: "meta" },
        el("span", { className: "kind", textContent: t(`roster.kind.${d.kind}`) }),
        el("span", { className: "office", textContent: d.jurisdiction_name }),
        battery(d.battery_pct),
        seen(d.last_received_at),
        d.tamper ? el("span", { className: "badge status-tamper", textContent: t("roster.status.tamper") }) : ""));
    li.dataset.deviceId = d.device_id;
    return this.pickable(li, d.person_id);
  }
}

function fixAge(iso) {
  if (!iso) return el("span", { className: "fix never", textContent: t("roster.never") });
  return el("time", { className: "fix", dateTime: iso, title: formatTime(iso), textContent: t("roster.fix", { age: ago(iso) }) });
}

function battery(pct) {
  if (pct == null) return "";
  return el("span", { className: `battery${pct < 20 ? " low" : ""}`, textContent: t("roster.battery", { pct: Math.round(pct) }) });
}

function seen(iso) {
  if (!iso) return el("span", { className: "seen never", textContent: t("roster.unheard") });
  return el("time", { className: "seen", dateTime: iso, title: formatTime(iso), textContent: t("roster.seen", { age: ago(iso) }) });
}

/** One device in a person's row: kind, battery of its latest fix, when it was last heard. */
function deviceBrief(d) {
  return el("span", { className: `device${d.silent ? " silent" : ""}` },
    el("span", { className: "kind", textContent: t(`roster.kind.${d.kind}`) }), battery(d.battery_pct), seen(d.last_received_at));
}
