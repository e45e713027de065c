// Duty console: log in, load fences, positions and alerts, then follow /v1/stream (resumed with
// since=<last event id> after any drop). Same origin only: nothing external is ever fetched.
import { CONFIG, LABELS, bilingual, formatTime } from "./config.js";
import { polygonsOf } from "./geo.js";
import { MapPanel } from "./map.js";
import { comparator, matches, queryOf, readFilter, triageLines } from "./triage.js";

const STATUS_RANK = { open: 0, escalated: 1, acknowledged: 2, resolved: 3 }; // alerts only move up
const RUNG_RANK = { street: 0, district: 1, city: 2 };
const ACTIVE = new Set(["open", "escalated"]);
const TITLE = "电子围栏监控 Duty console";

const $ = (id) => document.getElementById(id);
const persons = new Map(); // person_id → latest position
const alerts = new Map(); // alert id → alert
const notices = new Map(); // order id → a monitoring order about to lapse (order.lapsing)
const jurisdictions = new Map(); // id → the officer's own jurisdiction and those below it
const state = { token: sessionStorage.getItem("token") };
const map = new MapPanel($("map"), {
  persons,
  onPick: (personId) => select(personId),
  onDrawn: ({ shown, outside }) => { count("person-count", shown); count("outside-count", outside); },
});
reset();

function reset() {
  persons.clear();
  alerts.clear();
  notices.clear();
  jurisdictions.clear();
  map.reset();
  $("alert-filters").reset();
  $("alert-filters").jurisdiction_id.replaceChildren($("alert-filters").jurisdiction_id.options[0]);
  Object.assign(state, { filter: readFilter($("alert-filters"), jurisdictions), loads: 0, me: null, lastId: 0, socket: null, opened: false, everLive: false,
    retry: CONFIG.retryMinMs, retryTimer: null, heard: 0, selected: null, flash: new Map() });
}

function count(id, n) {
  $(id).textContent = $(id).dataset.count = n;
}

function notify(text) {
  $("toast").textContent = text;
  $("toast").hidden = !text;
}

async function api(path, { method = "GET", json } = {}) {
  const token = state.token;
  const headers = { Authorization: `Bearer ${token}` };
  if (json !== undefined) headers["Content-Type"] = "application/json";
  const reply = await fetch(path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  const body = await reply.json().catch(() => ({}));
  if (reply.status === 401 && token === state.token) logout("登录已失效 session expired — please log in again");
  if (!reply.ok) throw new Error(typeof body.detail === "string" ? body.detail : reply.statusText);
  return body;
}

// ---- session --------------------------------------------------------------------------------

async function login(event) {
  event.preventDefault();
  const form = event.target, submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  $("login-error").textContent = "";
  try {
    const reply = await fetch("/v1/auth/token", { method: "POST", body: new URLSearchParams(new FormData(form)) });
    const body = await reply.json().catch(() => ({}));
    if (reply.status === 401) throw new Error("用户名或密码错误 wrong username or password");
    if (!reply.ok) throw new Error(`登录失败 login failed: ${body.detail || reply.statusText}`);
    state.token = body.access_token;
    sessionStorage.setItem("token", state.token);
    form.reset();
    await start();
  } catch (error) {
    $("login-error").textContent = error.message;
  } finally {
    submit.disabled = false;
  }
}

function logout(message = "") {
  detach();
  clearTimeout(state.retryTimer);
  sessionStorage.removeItem("token");
  state.token = null;
  reset();
  setStatus("connecting");
  renderAlerts();
  renderNotices();
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
  connect(); // first, so nothing that happens while the snapshot loads is missed
  try {
    state.me = await api("/v1/auth/me");
    $("officer").textContent = `${state.me.display_name || state.me.username} · ${state.me.role}`;
    document.body.dataset.role = state.me.role;
    const fences = await Promise.all((await api("/v1/fences")).map((f) => api(`/v1/fences/${f.id}`)));
    map.addPolygons(fences.map((f) => ({ role: f.role, name: f.name, parts: polygonsOf(f.geometry, f.crs) })));
    for (const p of await api("/v1/positions/latest")) mergePosition(p);
    await loadJurisdictions();
    await loadAlerts();
    for (const order of await api("/v1/orders/lapsing")) notices.set(order.order_id, order);
  } catch (error) {
    if (state.token) notify(`加载失败 loading failed: ${error.message}`);
  }
  map.fit();
  renderAlerts();
  renderNotices();
  if (state.token) $("console").dataset.ready = "true"; // snapshot loaded (live may come sooner)
}

// ---- merges: snapshots and stream events may arrive in either order ---------------------------

async function loadJurisdictions() {
  const select = $("alert-filters").jurisdiction_id;
  for (const j of await api("/v1/jurisdictions")) {
    jurisdictions.set(j.id, j);
    select.append(el("option", { value: j.id, textContent: `${j.name} · ${j.level}` }));
  }
}

/** The list as filtered, from the API; stream events merge into it meanwhile. */
async function loadAlerts() {
  const load = ++state.loads, filter = readFilter($("alert-filters"), jurisdictions);
  const rows = await api(queryOf(filter, CONFIG.shownAlerts));
  if (load !== state.loads) return; // the filter changed again while this was asked
  state.filter = filter;
  alerts.clear();
  for (const alert of rows) mergeAlert(alert);
}

function mergeAlert(alert) {
  const known = alerts.get(alert.id);
  const rank = (a) => [STATUS_RANK[a.status] ?? 0, RUNG_RANK[a.escalation_level] ?? 0, Date.parse(a.last_evidence_at) || 0];
  if (known) {
    const [a, b] = [rank(alert), rank(known)];
    if ((a[0] - b[0] || a[1] - b[1] || a[2] - b[2]) < 0) return false; // older news of a known alert
  }
  alerts.set(alert.id, { ...known, ...alert }); // events lack the row's person and office
  return true;
}

function mergePosition(p) {
  const known = persons.get(p.person_id);
  if (known && Date.parse(p.ts) < Date.parse(known.ts)) return;
  persons.set(p.person_id, {
    person_id: p.person_id, lat: p.lat, lon: p.lon, ts: p.ts, status: p.status,
    supervision_level: p.supervision_level ?? known?.supervision_level,
    case_number: p.case_number ?? known?.case_number,
  });
}

// ---- live stream ----------------------------------------------------------------------------

/** Forget the current socket: whatever it still says or does is ignored. */
function detach() {
  const socket = state.socket;
  state.socket = null;
  if (socket) { socket.onopen = socket.onmessage = socket.onclose = null; socket.close(); }
}

function connect() {
  clearTimeout(state.retryTimer);
  detach();
  if (!state.token) return;
  const url = new URL("/v1/stream", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("token", state.token);
  if (state.lastId) url.searchParams.set("since", state.lastId);
  const socket = new WebSocket(url);
  Object.assign(state, { socket, opened: false, heard: Date.now() });
  setStatus(state.everLive ? "reconnecting" : "connecting");
  socket.onopen = () => {
    Object.assign(state, { opened: true, everLive: true, retry: CONFIG.retryMinMs });
    setStatus("live");
  };
  socket.onmessage = (event) => {
    state.heard = Date.now();
    try { receive(JSON.parse(event.data)); } catch (error) { console.error("bad stream message", error); }
  };
  socket.onclose = (event) => retry(event.code);
}

/** Drop the socket and try again after a jittered, doubling delay. */
function retry(code) {
  const opened = state.opened;
  detach();
  if (code === 4401) return logout("登录已失效 session expired — please log in again");
  // a handshake refused for a bad token looks like any network failure (1006): check the token
  if (!opened) api("/v1/auth/me").catch(() => {});
  setStatus("reconnecting");
  state.retryTimer = setTimeout(connect, state.retry * (0.75 + Math.random() / 2));
  state.retry = Math.min(state.retry * 2, CONFIG.retryMaxMs);
}

function watchdog() {
  if (state.socket && Date.now() - state.heard > CONFIG.staleMs) retry(); // silent, or stuck connecting
}

function receive(message) {
  if (message.type === "heartbeat") { // everything up to last_id was sent to us or is not ours
    state.lastId = Math.max(state.lastId, message.last_id || 0);
    return;
  }
  if (message.id) state.lastId = Math.max(state.lastId, message.id);
  if (message.type === "position") {
    mergePosition(message);
    map.schedule();
  } else if (message.type === "order.lapsing") {
    notices.set(message.order_id, message);
    renderNotices();
  } else if (message.alert && mergeAlert(message.alert)) {
    if (message.type === "alert.opened") {
      state.flash.set(message.alert.id, Date.now() + CONFIG.flashMs);
      beep();
    }
    renderAlerts();
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

// ---- alert list -----------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function renderAlerts() {
  const fits = (a) => matches(a, state.filter, jurisdictions);
  for (const a of alerts.values()) if (a.status === "resolved" && !fits(a)) alerts.delete(a.id);
  const sorted = [...alerts.values()].filter(fits).sort(comparator(state.filter.sort));
  for (const a of sorted.slice(CONFIG.shownAlerts)) if (a.status === "resolved") alerts.delete(a.id);
  for (const [id, until] of state.flash) if (until < Date.now()) state.flash.delete(id);
  $("alert-list").replaceChildren(...sorted.slice(0, CONFIG.shownAlerts).map(alertItem));
  $("alert-empty").hidden = sorted.length > 0;
  const open = [...alerts.values()].filter((a) => ACTIVE.has(a.status)).length;
  count("open-count", open);
  document.title = open ? `(${open}) ${TITLE}` : TITLE;
}

function renderNotices() {
  const now = Date.now(); // a lapsed order is past notice: the person is no longer tracked
  for (const [id, order] of notices) if (Date.parse(order.ends_at) < now) notices.delete(id);
  const sorted = [...notices.values()].sort((a, b) => Date.parse(a.ends_at) - Date.parse(b.ends_at));
  $("notice-list").replaceChildren(...sorted.map((order) => {
    const li = el("li", { className: "notice", tabIndex: 0 },
      el("div", { className: "title" },
        el("b", { textContent: "监管令将到期 order lapsing" }),
        el("span", { className: "case", textContent: order.case_number })),
      el("div", { className: "meta" },
        el("span", { textContent: "到期 ends" }),
        el("time", { dateTime: order.ends_at, textContent: formatTime(order.ends_at) }),
        el("span", { className: "id", textContent: `#${order.order_id}` })));
    Object.assign(li.dataset, { orderId: order.order_id, personId: order.person_id });
    li.addEventListener("click", () => select(order.person_id));
    return li;
  }));
  $("notice-empty").hidden = sorted.length > 0;
}

/** A missed check-in says which window was missed, and when the person checked in after all. */
function checkinLines(alert) {
  const d = alert.details || {};
  if (alert.type !== "missed_checkin" || !d.window_start) return [];
  const missed = Array.isArray(d.missed) && d.missed.length > 1 ? ` ×${d.missed.length}` : "";
  const lines = [el("div", { className: "meta checkin-window" },
    el("span", { textContent: `签到时段 window${missed}` }),
    el("time", { dateTime: d.window_start, textContent: formatTime(d.window_start) }),
    el("span", { textContent: "–" }),
    el("time", { dateTime: d.window_end, textContent: formatTime(d.window_end) }))];
  if (d.checked_in_at) {
    lines.push(el("div", { className: "meta checked-in" },
      el("span", { textContent: "已签到 checked in" }),
      el("time", { dateTime: d.checked_in_at, textContent: formatTime(d.checked_in_at) })));
  }
  return lines;
}

function alertItem(alert) {
  const actions = el("div", { className: "actions" });
  const li = el("li", { className: "alert", tabIndex: 0 },
    el("div", { className: "title" },
      el("b", { className: "type", textContent: bilingual(LABELS.types, alert.type) }),
      el("span", { className: "case", textContent: alert.case_number })),
    el("div", { className: "meta" },
      el("time", { className: "opened", dateTime: alert.opened_at, textContent: formatTime(alert.opened_at) }),
      el("span", { className: "status", textContent: bilingual(LABELS.statuses, alert.status) }),
      el("span", { className: "rung", textContent: bilingual(LABELS.rungs, alert.escalation_level) }),
      el("span", { className: "id", textContent: `#${alert.id}` }),
      alert.late ? el("span", { className: "late", textContent: "迟报 late" }) : ""),
    ...triageLines(alert, { el, lastFix: lastFixOf(alert), office: jurisdictions.get(alert.jurisdiction_id)?.name }),
    ...checkinLines(alert),
    actions);
  Object.assign(li.dataset, { alertId: alert.id, personId: alert.person_id, status: alert.status, type: alert.type });
  li.classList.toggle("selected", alert.person_id === state.selected);
  li.classList.toggle("flash", (state.flash.get(alert.id) || 0) > Date.now());
  if (state.me && state.me.role !== "oversight") { // oversight accounts read but never change
    if (ACTIVE.has(alert.status)) actions.append(button("签收 Acknowledge", "ack", () => change(alert.id, "ack", { note: "" })));
    if (alert.status !== "resolved") actions.append(button("处置 Resolve", "resolve", () => openResolve(alert.id)));
  }
  li.addEventListener("click", () => select(alert.person_id, alert));
  li.addEventListener("keydown", (e) => { if (e.key === "Enter" && e.target === li) select(alert.person_id, alert); });
  return li;
}

/** The later of the row's last fix and the live map's latest position of the person. */
function lastFixOf(alert) {
  const live = persons.get(alert.person_id)?.ts;
  return [alert.last_fix_at, live].filter(Boolean).sort((a, b) => Date.parse(b) - Date.parse(a))[0];
}

function button(text, action, onClick) {
  const b = el("button", { type: "button", className: "secondary", textContent: text });
  b.dataset.action = action;
  b.addEventListener("click", (event) => { event.stopPropagation(); b.disabled = true; onClick(); });
  return b;
}

async function change(id, verb, json) {
  try {
    mergeAlert(await api(`/v1/alerts/${id}/${verb}`, { method: "POST", json }));
    notify("");
  } catch (error) {
    if (!state.token) return;
    notify(`#${id}: ${error.message}`); // 409: a colleague got there first; show the alert as it is now
    await api(`/v1/alerts/${id}`).then(mergeAlert).catch(() => {});
  }
  renderAlerts();
}

function openResolve(id) {
  const form = $("resolve-form");
  form.reset();
  form.dataset.alertId = id;
  $("resolve-alert-id").textContent = `#${id}`;
  $("resolve-dialog").returnValue = ""; // Esc would otherwise keep the last "confirm"
  $("resolve-dialog").showModal();
}

function onResolveClosed() {
  const form = $("resolve-form");
  if ($("resolve-dialog").returnValue !== "confirm") return renderAlerts(); // re-enables the button
  const { disposition, note } = Object.fromEntries(new FormData(form));
  change(form.dataset.alertId, "resolve", { disposition, note });
}

function select(personId, alert = null) {
  state.selected = personId;
  const d = alert?.details;
  map.select(personId, Number.isFinite(d?.lon) && Number.isFinite(d?.lat) ? [d.lon, d.lat] : null);
  renderAlerts();
  document.querySelector(`#alert-list li[data-person-id="${personId}"]`)?.scrollIntoView({ block: "nearest" });
}

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", () => {
  api("/v1/auth/logout", { method: "POST" }).catch(() => {}); // the server forgets the token too
  logout();
});
$("resolve-dialog").addEventListener("close", onResolveClosed);
$("map-fit").addEventListener("click", () => map.fit());
$("alert-filters").addEventListener("change", () => loadAlerts().then(renderAlerts, (error) => {
  if (state.token) notify(`加载失败 loading failed: ${error.message}`);
}));
setInterval(() => { if (state.token) renderAlerts(); }, 30000); // the fix ages move on
window.addEventListener("online", () => { if (state.token && !state.opened) connect(); });
setInterval(watchdog, 5000);
map.legend($("legend"));
if (state.token) start(); else $("login").hidden = false;
