// Duty console: log in, load fences, positions and alerts, then follow /v1/stream. This module
// wires the parts together; each lives in its own module (session, stream, map, alert list,
// notices). Same origin only: nothing external is ever fetched.
import { LABELS, label, loadConfig, timeZone, zoneLabel } from "./config.js";
import { Alerting } from "./alerting.js";
import { AlertList } from "./alertlist.js";
import { $ } from "./dom.js";
import { polygonsOf } from "./geo.js";
import { addStrings, onLanguageChange, t } from "./i18n.js";
import { startLanguage } from "./language.js";
import { MapPanel } from "./map.js";
import { renderNotices } from "./notices.js";
import { Roster } from "./roster.js";
import { PersonPanel } from "./person.js";
import { Session } from "./session.js";
import { Staleness } from "./staleness.js";
import { Stream } from "./stream.js";
import { Transfers } from "./transfers.js";

addStrings({ "console.load-failed": ["加载失败：{message}", "Loading failed: {message}"] });

const persons = new Map(); // person_id → latest position
const notices = new Map(); // order id → a monitoring order about to lapse (order.lapsing)
const jurisdictions = new Map(); // id → the officer's own jurisdiction and those below it
const state = { me: null, selected: null };

const session = new Session({ onExpired: (message) => logout(message) });
const stream = new Stream({
  onEvent: receive,
  onStatus: setStatus,
  onRefused: () => logout(t("session.expired")),
  onFailed: () => session.api("/v1/auth/me").catch(() => {}), // a 401 here logs out
  onHeard: () => staleness.heard(),
});
const map = new MapPanel($("map"), {
  persons,
  onPick: (personId) => select(personId),
  onDrawn: ({ shown, outside }) => { count("person-count", shown); count("outside-count", outside); },
});
const alertList = new AlertList({
  session, jurisdictions, persons,
  view: () => ({ role: state.me?.role, me: state.me?.id, selected: state.selected }),
  onPick: (personId, alert) => select(personId, alert),
  onNotify: notify,
  onRendered: (open) => {
    count("open-count", open);
    document.title = open ? `(${open}) ${t("page.title")}` : t("page.title");
  },
});
// ---- stale marking, desktop notifications, sound (staleness.js, alerting.js) ----------------
const staleness = new Staleness({ marked: ["map-pane", "person-count", "outside-count", "open-count"].map($) });
const alerting = new Alerting({
  officeOf: (id) => jurisdictions.get(id)?.name,
  isActive: (id) => ["open", "escalated"].includes(alertList.alerts.get(id)?.status),
  onPick: (personId) => select(personId),
});
// roster: the Persons tab (persons and devices lists); a row selects its person
const roster = new Roster({ session, jurisdictions, onPick: (personId) => select(personId), onNotify: notify });
// ---- person panel (person.js): select() opens it; logging out closes it --------------------
const personPanel = new PersonPanel({
  session, map, persons, jurisdictions,
  onPickAlert: (alert) => select(alert.person_id, alert),
});
// ---- end of the person panel block ---------------------------------------------------------
const transfers = new Transfers({ jurisdictions, persons, map, alertList, roster, notices });
reset();

function reset() {
  staleness.stop();
  alerting.reset();
  persons.clear();
  notices.clear();
  jurisdictions.clear();
  map.reset();
  alertList.reset();
  roster.reset();
  Object.assign(state, { me: null, selected: null });
}

function count(id, n) {
  $(id).textContent = $(id).dataset.count = n;
}

function notify(text) {
  $("toast").textContent = text;
  $("toast").hidden = !text;
}

// ---- session --------------------------------------------------------------------------------

async function login(event) {
  event.preventDefault();
  alerting.unlock(); // the login click is the gesture browsers want before they play sound
  const form = event.target, submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  $("login-error").textContent = "";
  try {
    await session.logIn(form);
    form.reset();
    await start();
  } catch (error) {
    $("login-error").textContent = error.message;
  } finally {
    submit.disabled = false;
  }
}

function logout(message = "") {
  personPanel.close();
  stream.close();
  session.forget();
  reset();
  setStatus("connecting");
  alertList.render();
  renderNotices(notices, select);
  $("console").hidden = true;
  delete $("console").dataset.ready;
  $("login").hidden = false;
  $("login-error").textContent = message;
  document.title = t("page.title");
}

async function start() {
  $("login").hidden = true;
  $("console").hidden = false;
  notify("");
  staleness.start();
  stream.open(session.token); // first, so nothing that happens while the snapshot loads is missed
  try {
    state.me = await session.api("/v1/auth/me");
    showOfficer();
    document.body.dataset.role = state.me.role;
    const fences = await Promise.all((await session.api("/v1/fences")).map((f) => session.api(`/v1/fences/${f.id}`)));
    map.addPolygons(fences.map((f) => ({ role: f.role, name: f.name, parts: polygonsOf(f.geometry, f.crs) })));
    for (const p of await session.api("/v1/positions/latest")) mergePosition(p);
    for (const j of await session.api("/v1/jurisdictions")) {
      jurisdictions.set(j.id, j);
      alertList.addJurisdiction(j);
    }
    await alertList.load();
    for (const order of await session.api("/v1/orders/lapsing")) notices.set(order.order_id, order);
    staleness.snapshot(true);
  } catch (error) {
    if (session.token) notify(t("console.load-failed", { message: error.message }));
    if (session.token) staleness.snapshot(false);
  }
  map.fit();
  alertList.render();
  renderNotices(notices, select);
  if (session.token) $("console").dataset.ready = "true"; // snapshot loaded (live may come sooner)
}

// ---- live events: snapshots and stream events may arrive in either order ----------------------

function mergePosition(p) {
  const known = persons.get(p.person_id);
  if (known && Date.parse(p.ts) < Date.parse(known.ts)) return;
  persons.set(p.person_id, {
    person_id: p.person_id, lat: p.lat, lon: p.lon, ts: p.ts, status: p.status,
    supervision_level: p.supervision_level ?? known?.supervision_level,
    case_number: p.case_number ?? known?.case_number,
  });
}

function receive(message) {
  staleness.event();
  roster.heard(message); // alert events change a person's status; positions do not reload it
  if (message.type === "position") {
    mergePosition(message);
    map.schedule();
  } else if (message.type === "order.lapsing") {
    notices.set(message.order_id, message);
    renderNotices(notices, select);
  } else if (message.type === "person.transferred") {
    transfers.receive(message); // out of reach: their alerts, dot and row go, with a notice
    renderNotices(notices, select);
  } else if (message.alert && alertList.merge(message.alert)) {
    if (message.type === "alert.opened") {
      alertList.flashOpened(message.alert.id);
    }
    alertList.render();
    alerting.receive(message); // after the render: a notification's click finds the row
  }
  personPanel.heard(message); // after the merges: an open panel reads the same positions
}

function setStatus(value) {
  $("conn-status").dataset.state = value;
  $("conn-status").textContent = label(LABELS.connection, value);
  staleness.status(value);
}

function showOfficer() {
  const me = state.me;
  $("officer").textContent = me ? `${me.display_name || me.username} · ${label(LABELS.roles, me.role)}` : "";
}

// ---- language and time zone: redraw what was drawn with t() or formatTime ---------------------

function relabel() {
  setStatus($("conn-status").dataset.state);
  showOfficer();
  for (const small of document.querySelectorAll("#alert-filters .time-zone")) {
    Object.assign(small, { textContent: zoneLabel(), title: timeZone() });
  }
  alertList.relabel();
  renderNotices(notices, select); // the alert list's render sets document.title
}

// ---- the alert list and the selected person -------------------------------------------------

function select(personId, alert = null) {
  state.selected = personId;
  const d = alert?.details;
  map.select(personId, Number.isFinite(d?.lon) && Number.isFinite(d?.lat) ? [d.lon, d.lat] : null);
  alertList.render();
  document.querySelector(`#alert-list li[data-person-id="${personId}"]`)?.scrollIntoView({ block: "nearest" });
  personPanel.open(personId, alert);
}

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", () => {
  session.api("/v1/auth/logout", { method: "POST" }).catch(() => {}); // the server forgets the token too
  logout();
});
$("map-fit").addEventListener("click", () => map.fit());
setInterval(() => { if (session.token) alertList.render(); }, 30000); // the fix ages move on
window.addEventListener("online", () => stream.nudge());
map.legend($("legend"));
startLanguage();
onLanguageChange(relabel);
loadConfig().then(relabel); // the time zone (Asia/Shanghai until it says otherwise)
if (session.token) start(); else $("login").hidden = false;
