// Duty console: fences and live positions on a canvas, alerts with acknowledge and resolve,
// fed by /v1/stream (resumed with since=<last id> after any drop). No external resources.

const LEVEL_COLOURS = { strict: "#ef4444", normal: "#3b82f6", lenient: "#22c55e" }; // local practice varies
const TYPE_LABELS = {
  out_of_area: "越界 out of area", exclusion_zone: "禁入区 exclusion zone", curfew: "宵禁 curfew",
  signal_lost: "脱管 signal lost", overdue_return: "逾期未归 overdue return",
  missed_checkin: "未签到 missed check-in", tamper: "人机分离 tamper", low_battery: "低电量 low battery",
};
const STALE_MS = 45000;
const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem("token"), lastId: 0, persons: new Map(), alerts: new Map(),
  rings: [], view: null, selected: null, socket: null, retry: 1000, heard: 0 };

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), Authorization: `Bearer ${state.token}` };
  const reply = await fetch(path, { ...options, headers });
  if (reply.status === 401) { logout(); throw new Error("logged out"); }
  if (!reply.ok) throw new Error((await reply.json().catch(() => ({}))).detail || reply.statusText);
  return reply.json();
}

async function login(event) {
  event.preventDefault();
  const reply = await fetch("/v1/auth/token", { method: "POST", body: new URLSearchParams(new FormData(event.target)) });
  if (!reply.ok) { $("login-error").textContent = "用户名或密码错误 wrong username or password"; return; }
  state.token = (await reply.json()).access_token;
  sessionStorage.setItem("token", state.token);
  start();
}

function logout() {
  sessionStorage.removeItem("token");
  state.token = null;
  if (state.socket) state.socket.close();
  $("console").hidden = true;
  $("login").hidden = false;
}

async function start() {
  $("login").hidden = true;
  $("console").hidden = false;
  const me = await api("/v1/auth/me");
  $("officer").textContent = `${me.display_name || me.username} (${me.role})`;
  await loadFences();
  for (const p of await api("/v1/positions/latest")) state.persons.set(p.person_id, p);
  for (const status of ["open", "escalated", "acknowledged"]) {
    for (const a of await api(`/v1/alerts?status=${status}&limit=500`)) state.alerts.set(a.id, a);
  }
  renderAlerts();
  draw();
  connect();
}

async function loadFences() {
  for (const fence of await api("/v1/fences")) {
    if (fence.role !== "allowed" && fence.role !== "exclusion") continue;
    const full = await api(`/v1/fences/${fence.id}`);
    const polygons = full.geometry.type === "Polygon" ? [full.geometry.coordinates] : full.geometry.coordinates;
    for (const polygon of polygons) for (const ring of polygon) state.rings.push({ role: fence.role, ring });
  }
  fitView();
}

function fitView() {
  const points = state.rings.flatMap((r) => r.ring);
  if (!points.length) { state.view = { lon: 114.05, lat: 22.55, scale: 4000 }; return; }
  const lons = points.map((p) => p[0]), lats = points.map((p) => p[1]);
  const [w, e, s, n] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const canvas = $("map");
  const kx = Math.cos(((s + n) / 2) * Math.PI / 180);
  const scale = 0.9 * Math.min(canvas.clientWidth / ((e - w) * kx || 1), canvas.clientHeight / ((n - s) || 1));
  state.view = { lon: (w + e) / 2, lat: (s + n) / 2, scale, kx };
}

function toScreen(lon, lat) {
  const v = state.view, canvas = $("map");
  return [canvas.width / 2 + (lon - v.lon) * v.kx * v.scale, canvas.height / 2 - (lat - v.lat) * v.scale];
}

function draw() {
  const canvas = $("map");
  canvas.width = canvas.clientWidth;
  canvas.height = canvas.clientHeight;
  if (!state.view) return;
  const ctx = canvas.getContext("2d");
  for (const { role, ring } of state.rings) {
    ctx.beginPath();
    ring.forEach(([lon, lat], i) => (i ? ctx.lineTo(...toScreen(lon, lat)) : ctx.moveTo(...toScreen(lon, lat))));
    ctx.strokeStyle = role === "allowed" ? "#64748b" : "#f97316";
    ctx.lineWidth = 1.5;
    ctx.stroke();
  }
  for (const person of state.persons.values()) drawPerson(ctx, person);
  $("person-count").textContent = $("person-count").dataset.count = state.persons.size;
}

function drawPerson(ctx, person) {
  const [x, y] = toScreen(person.lon, person.lat);
  const outside = person.status === "outside";
  ctx.beginPath();
  ctx.arc(x, y, outside ? 6 : 3, 0, 2 * Math.PI);
  ctx.fillStyle = LEVEL_COLOURS[person.supervision_level] || "#a3a3a3";
  ctx.fill();
  if (outside || person.person_id === state.selected) {
    ctx.beginPath();
    ctx.arc(x, y, 11, 0, 2 * Math.PI);
    ctx.strokeStyle = person.person_id === state.selected ? "#facc15" : "#ef4444";
    ctx.lineWidth = 2;
    ctx.stroke();
  }
}

function renderAlerts() {
  const rank = { open: 0, escalated: 0, acknowledged: 1, resolved: 2 };
  const alerts = [...state.alerts.values()].sort((a, b) => rank[a.status] - rank[b.status] || b.id - a.id);
  $("alert-list").replaceChildren(...alerts.slice(0, 300).map(alertItem));
  const open = alerts.filter((a) => a.status === "open" || a.status === "escalated").length;
  $("open-count").textContent = $("open-count").dataset.count = open;
}

function alertItem(alert) {
  const li = document.createElement("li");
  li.dataset.alertId = alert.id;
  li.dataset.status = alert.status;
  li.classList.toggle("selected", alert.person_id === state.selected);
  const opened = new Date(alert.opened_at).toLocaleString();
  li.innerHTML = `<div><b></b> · <span class="case"></span></div>
    <div class="meta"></div><div class="actions"></div>`;
  li.querySelector("b").textContent = TYPE_LABELS[alert.type] || alert.type;
  li.querySelector(".case").textContent = alert.case_number;
  li.querySelector(".meta").textContent = `#${alert.id} · ${opened} · ${alert.status} · ${alert.escalation_level}`;
  const actions = li.querySelector(".actions");
  if (alert.status === "open" || alert.status === "escalated") actions.append(button("确认 Acknowledge", "ack", () => acknowledge(alert.id)));
  if (alert.status !== "resolved") actions.append(button("处置 Resolve", "resolve", () => openResolve(alert.id)));
  li.addEventListener("click", () => select(alert.person_id));
  return li;
}

function button(text, action, onClick) {
  const b = document.createElement("button");
  b.textContent = text;
  b.dataset.action = action;
  b.className = "secondary";
  b.addEventListener("click", (event) => { event.stopPropagation(); onClick(); });
  return b;
}

async function acknowledge(id) {
  const alert = await api(`/v1/alerts/${id}/ack`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
  state.alerts.set(alert.id, alert);
  renderAlerts();
}

function openResolve(id) {
  $("resolve-alert-id").textContent = `#${id}`;
  $("resolve-form").dataset.alertId = id;
  $("resolve-dialog").showModal();
}

async function resolve() {
  const form = $("resolve-form");
  const body = Object.fromEntries(new FormData(form));
  const alert = await api(`/v1/alerts/${form.dataset.alertId}/resolve`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  state.alerts.set(alert.id, alert);
  form.reset();
  renderAlerts();
}

function select(personId) {
  state.selected = personId;
  renderAlerts();
  draw();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const since = state.lastId ? `&since=${state.lastId}` : "";
  const socket = new WebSocket(`${scheme}://${location.host}/v1/stream?token=${encodeURIComponent(state.token)}${since}`);
  state.socket = socket;
  setStatus(state.lastId ? "reconnecting" : "connecting");
  socket.onopen = () => { setStatus("live"); state.retry = 1000; state.heard = Date.now(); };
  socket.onmessage = (event) => receive(JSON.parse(event.data));
  socket.onclose = () => {
    if (!state.token || state.socket !== socket) return;
    setStatus("reconnecting");
    setTimeout(connect, state.retry);
    state.retry = Math.min(state.retry * 2, 30000);
  };
}

function receive(message) {
  state.heard = Date.now();
  if (message.id) state.lastId = Math.max(state.lastId, message.id);
  if (message.type === "position") {
    state.persons.set(message.person_id, { ...state.persons.get(message.person_id), ...message });
    scheduleDraw();
  } else if (message.alert) {
    state.alerts.set(message.alert.id, message.alert);
    renderAlerts();
    if (message.type === "alert.opened") {
      document.querySelector(`#alert-list li[data-alert-id="${message.alert.id}"]`)?.classList.add("flash");
    }
  }
}

let drawPending = false;
function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => { drawPending = false; draw(); });
}

function setStatus(value) {
  const labels = { live: "实时 live", connecting: "连接中 connecting", reconnecting: "重连中 reconnecting" };
  $("conn-status").dataset.state = value;
  $("conn-status").textContent = labels[value];
}

function watchdog() {
  if (state.socket && state.socket.readyState === WebSocket.OPEN && Date.now() - state.heard > STALE_MS) {
    state.socket.close(); // nothing heard, not even a heartbeat: reconnect with since=
  }
}

function panAndZoom() {
  const canvas = $("map");
  let drag = null;
  canvas.addEventListener("mousedown", (e) => { drag = [e.clientX, e.clientY]; });
  window.addEventListener("mouseup", () => { drag = null; });
  canvas.addEventListener("mousemove", (e) => {
    if (!drag || !state.view) return;
    state.view.lon -= (e.clientX - drag[0]) / (state.view.scale * state.view.kx);
    state.view.lat += (e.clientY - drag[1]) / state.view.scale;
    drag = [e.clientX, e.clientY];
    scheduleDraw();
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    if (state.view) state.view.scale *= e.deltaY < 0 ? 1.2 : 1 / 1.2;
    scheduleDraw();
  }, { passive: false });
}

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", logout);
$("resolve-dialog").addEventListener("close", () => { if ($("resolve-dialog").returnValue === "confirm") resolve(); });
window.addEventListener("resize", scheduleDraw);
setInterval(watchdog, 5000);
panAndZoom();
if (state.token) start().catch(logout); else $("login").hidden = false;
