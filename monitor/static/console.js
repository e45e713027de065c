// Duty console: log in, load fences, positions and alerts, then follow /v1/stream. This module
// wires the parts together; each lives in its own module (session, stream, map, alert list,
// notices). Same origin only: nothing external is ever fetched.
import { CONFIG, LABELS } from "./config.js";
import { AlertList } from "./alertlist.js";
import { $ } from "./dom.js";
import { polygonsOf } from "./geo.js";
import { MapPanel } from "./map.js";
import { renderNotices } from "./notices.js";
import { Roster } from "./roster.js";
import { Session } from "./session.js";
import { Stream } from "./stream.js";

const TITLE = "电子围栏监控 Duty console";

const persons = new Map(); // person_id → latest position
const notices = new Map(); // order id → a monitoring order about to lapse (order.lapsing)
const jurisdictions = new Map(); // id → the officer's own jurisdiction and those below it
const state = { me: null, selected: null };

const session = new Session({ onExpired: (message) => logout(message) });
const stream = new Stream({
  onEvent: receive,
  onStatus: setStatus,
  onRefused: () => logout("登录已失效 session expired — please log in again"),
  onFailed: () => session.api("/v1/auth/me").catch(() => {}), // a 401 here logs out
});
const map = new MapPanel($("map"), {
  persons,
  onPick: (personId) => select(personId),
  onDrawn: ({ shown, outside }) => { count("person-count", shown); count("outside-count", outside); },
});
const alertList = new AlertList({
  session, jurisdictions, persons,
  view: () => ({ role: state.me?.role, selected: state.selected }),
  onPick: (personId, alert) => select(personId, alert),
  onNotify: notify,
  onRendered: (open) => {
    count("open-count", open);
    document.title = open ? `(${open}) ${TITLE}` : TITLE;
  },
});
// roster: the Persons tab (persons and devices lists); a row selects its person
const roster = new Roster({ session, jurisdictions, onPick: (personId) => select(personId), onNotify: notify });
reset();

function reset() {
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
  document.title = TITLE;
}

async function start() {
  $("login").hidden = true;
  $("console").hidden = false;
  notify("");
  stream.open(session.token); // first, so nothing that happens while the snapshot loads is missed
  try {
    state.me = await session.api("/v1/auth/me");
    $("officer").textContent = `${state.me.display_name || state.me.username} · ${state.me.role}`;
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
  } catch (error) {
    if (session.token) notify(`加载失败 loading failed: ${error.message}`);
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
  roster.heard(message); // alert events change a person's status; positions do not reload it
  if (message.type === "position") {
    mergePosition(message);
    map.schedule();
  } else if (message.type === "order.lapsing") {
    notices.set(message.order_id, message);
    renderNotices(notices, select);
  } else if (message.alert && alertList.merge(message.alert)) {
    if (message.type === "alert.opened") {
      alertList.flashOpened(message.alert.id);
      beep();
    }
    alertList.render();
  }
}

function setStatus(value) {
  $("conn-status").dataset.state = value;
  $("conn-status").textContent = LABELS.connection[value];
}

function beep() {
  if (!CONFIG.beep || Date.now() - (beep.last || 0) < 1500) return; // one tone for a burst
  beep.last = Date.now();
  try {
    const audio = (beep.context ||= new AudioContext());
    if (audio.state === "suspended") audio.resume().catch(() => {});
    const tone = audio.createOscillator(), gain = audio.createGain();
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    tone.connect(gain).connect(audio.destination);
    tone.frequency.value = 880;
    tone.start();
    tone.stop(audio.currentTime + 0.4);
  } catch { /* no audio: the flashing row is enough */ }
}

// ---- the alert list and the selected person -------------------------------------------------

function select(personId, alert = null) {
  state.selected = personId;
  const d = alert?.details;
  map.select(personId, Number.isFinite(d?.lon) && Number.isFinite(d?.lat) ? [d.lon, d.lat] : null);
  alertList.render();
  document.querySelector(`#alert-list li[data-person-id="${personId}"]`)?.scrollIntoView({ block: "nearest" });
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
if (session.token) start(); else $("login").hidden = false;
