// Sargas console: a plan view of sensors and tracks, alerts with acknowledgement, sensor health.
// Live data comes over /ws (one protocol message per frame); acknowledgements and sensor
// health over the REST API. No external resources of any kind.
"use strict";

const TRAIL_POINTS = 60;
const MAX_ALERTS_SHOWN = 300;
const SENSOR_POLL_MS = 5000;
const ALERT_POLL_MS = 15000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
const LEADER_S = 30;
const EARTH_RADIUS_M = 6371008.8;
const DEG = Math.PI / 180;

const STROBE_LENGTH_M = 6000;
const PICK_RADIUS_PX = 12;
const ZONE_COLOURS = { border: "#ff4d4f", protected: "#e0c84f", corridor: "#b07cf0" };
const LABEL_COLOURS = { drone: "#ff8a5c", bird: "#7d8b99", aircraft: "#4fa3e0", unknown: "#c8d0d8" };
const THREAT_COLOURS = { none: "#7d8b99", low: "#4fa3e0", medium: "#e0c84f", high: "#f08a3c", critical: "#ff4d4f" };
const HEALTH_COLOURS = { online: "#3fbf7f", degraded: "#e0b84f", offline: "#ff4d4f", stale: "#ff4d4f" };

const state = {
  tracks: new Map(),    // track_id -> latest track
  trails: new Map(),    // track_id -> [[lat, lon], ...]
  sensors: new Map(),   // sensor_id -> {status, health, lastSeen}
  alerts: new Map(),    // alert_id -> alert with acknowledgement fields
  lastAlertId: null,    // the resume cursor: the last alert received over the WebSocket
  fusionTime: null,
  strobes: [],          // bearing strobes of the latest tracks message
  zones: [],            // GeoJSON features of the site's zones
  selected: null,       // track_id whose details are shown
  sound: true,
  cued: new Set(),      // critical alerts already cued
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "className") node.className = value;
    else if (name.startsWith("data-")) node.setAttribute(name, value);
    else node[name] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

function clock(epochSeconds) {
  return new Date(epochSeconds * 1000).toISOString().slice(11, 19);
}

function speed(v) {
  return Math.hypot(v.east_mps, v.north_mps, v.up_mps);
}

// ---------------------------------------------------------------- plan view

const plan = {
  canvas: null,
  ctx: null,
  scale: 0.05,        // pixels per metre
  centre: [0, 0],     // local metres at the canvas centre
  userMoved: false,
  pending: false,
};

function siteOrigin() {
  const points = [];
  for (const s of state.sensors.values()) if (s.status.origin) points.push(s.status.origin);
  if (!points.length) for (const t of state.tracks.values()) points.push(t);
  if (!points.length) return null;
  const lat = points.reduce((a, p) => a + p.lat, 0) / points.length;
  const lon = points.reduce((a, p) => a + p.lon, 0) / points.length;
  return { lat, lon };
}

function toLocal(origin, lat, lon) {
  return [(lon - origin.lon) * DEG * EARTH_RADIUS_M * Math.cos(origin.lat * DEG), (lat - origin.lat) * DEG * EARTH_RADIUS_M];
}

function toScreen([east, north]) {
  const { width, height } = plan.canvas;
  return [width / 2 + (east - plan.centre[0]) * plan.scale, height / 2 - (north - plan.centre[1]) * plan.scale];
}

function fitView(origin) {
  let box = null;
  const grow = (x, y, r) => {
    box = box ? [Math.min(box[0], x - r), Math.min(box[1], y - r), Math.max(box[2], x + r), Math.max(box[3], y + r)]
      : [x - r, y - r, x + r, y + r];
  };
  for (const s of state.sensors.values()) {
    if (!s.status.origin) continue;
    const [x, y] = toLocal(origin, s.status.origin.lat, s.status.origin.lon);
    grow(x, y, (s.status.coverage && s.status.coverage.max_range_m) || 500);
  }
  for (const t of state.tracks.values()) grow(...toLocal(origin, t.lat, t.lon), 300);
  if (!box) return;
  const { width, height } = plan.canvas;
  plan.centre = [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2];
  plan.scale = 0.9 * Math.min(width / Math.max(box[2] - box[0], 1), height / Math.max(box[3] - box[1], 1));
}

function niceStep(metres) {
  const power = 10 ** Math.floor(Math.log10(metres));
  for (const m of [1, 2, 5, 10]) if (m * power >= metres) return m * power;
  return 10 * power;
}

function drawGrid(ctx) {
  const { width, height } = plan.canvas;
  const step = niceStep(120 / plan.scale);
  const [west, north] = [plan.centre[0] - width / 2 / plan.scale, plan.centre[1] + height / 2 / plan.scale];
  ctx.strokeStyle = "#16202b";
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let e = Math.floor(west / step) * step; e < west + width / plan.scale; e += step) {
    const [x] = toScreen([e, 0]);
    ctx.moveTo(x, 0);
    ctx.lineTo(x, height);
  }
  for (let n = Math.floor(north / step) * step; n > north - height / plan.scale; n -= step) {
    const [, y] = toScreen([0, n]);
    ctx.moveTo(0, y);
    ctx.lineTo(width, y);
  }
  ctx.stroke();
  ctx.fillStyle = "#7d8b99";
  ctx.strokeStyle = "#7d8b99";
  ctx.beginPath();
  ctx.moveTo(16, height - 16);
  ctx.lineTo(16 + step * plan.scale, height - 16);
  ctx.stroke();
  ctx.fillText(step >= 1000 ? `${step / 1000} km` : `${step} m`, 16, height - 22);
}

function drawSensor(ctx, origin, sensor) {
  const { status, health } = sensor;
  if (!status.origin) return;
  const centre = toLocal(origin, status.origin.lat, status.origin.lon);
  const [x, y] = toScreen(centre);
  const colour = HEALTH_COLOURS[health] || HEALTH_COLOURS.stale;
  const coverage = status.coverage || {};
  if (coverage.max_range_m) {
    const r = coverage.max_range_m * plan.scale;
    const from = coverage.azimuth_min_deg ?? 0;
    const to = coverage.azimuth_max_deg ?? 360;
    const full = ((to - from + 360) % 360 === 0);
    ctx.beginPath();
    if (full) ctx.arc(x, y, r, 0, 2 * Math.PI);
    else {
      ctx.moveTo(x, y);
      ctx.arc(x, y, r, (from - 90) * DEG, (to - 90 + (to < from ? 360 : 0)) * DEG);
      ctx.closePath();
    }
    ctx.fillStyle = colour + "14";
    ctx.strokeStyle = colour + "66";
    ctx.fill();
    ctx.stroke();
  }
  ctx.fillStyle = colour;
  ctx.fillRect(x - 4, y - 4, 8, 8);
  ctx.fillText(status.sensor_id, x + 7, y + 4);
}

function ringPath(ctx, origin, ring) {
  ring.forEach(([lon, lat], i) => {
    const [x, y] = toScreen(toLocal(origin, lat, lon));
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
}

function drawZone(ctx, origin, zone) {
  const { name, kind, buffer_m: buffer = 0 } = zone.properties;
  const colour = ZONE_COLOURS[kind] || ZONE_COLOURS.corridor;
  const geometry = zone.geometry;
  const rings = geometry.type === "Polygon" ? geometry.coordinates : [geometry.coordinates];
  ctx.save();
  ctx.lineJoin = "round";
  ctx.lineCap = "round";
  if (buffer > 0) {
    ctx.strokeStyle = colour + "22";
    ctx.lineWidth = Math.max(2, 2 * buffer * plan.scale);
    ctx.beginPath();
    rings.forEach((ring) => ringPath(ctx, origin, ring));
    if (geometry.type === "Polygon") ctx.closePath();
    ctx.stroke();
  }
  ctx.beginPath();
  rings.forEach((ring) => ringPath(ctx, origin, ring));
  ctx.strokeStyle = colour + "cc";
  ctx.lineWidth = 1.5;
  ctx.setLineDash(geometry.type === "Polygon" ? [] : [8, 5]);
  if (geometry.type === "Polygon") {
    ctx.fillStyle = colour + "1c";
    ctx.fill("evenodd");
  }
  ctx.stroke();
  const [lon, lat] = rings[0][Math.floor(rings[0].length / 2)];
  const [x, y] = toScreen(toLocal(origin, lat, lon));
  ctx.fillStyle = colour;
  ctx.fillText(name, x + 6, y - 6);
  ctx.restore();
}

function drawStrobe(ctx, origin, strobe) {
  const start = toLocal(origin, strobe.origin.lat, strobe.origin.lon);
  const colour = LABEL_COLOURS[strobe.label] || LABEL_COLOURS.unknown;
  ctx.save();
  ctx.strokeStyle = colour + "aa";
  ctx.fillStyle = colour + "18";
  for (const [spread, fill] of [[strobe.sigma_deg, true], [0, false]]) {
    const from = toScreen(start);
    ctx.beginPath();
    ctx.moveTo(...from);
    for (const az of spread ? [strobe.azimuth_deg - spread, strobe.azimuth_deg + spread] : [strobe.azimuth_deg]) {
      const end = [start[0] + STROBE_LENGTH_M * Math.sin(az * DEG), start[1] + STROBE_LENGTH_M * Math.cos(az * DEG)];
      ctx.lineTo(...toScreen(end));
    }
    if (fill) { ctx.closePath(); ctx.fill(); } else ctx.stroke();
  }
  ctx.restore();
}

function drawTrack(ctx, origin, track) {
  const colour = THREAT_COLOURS[track.threat.level] || THREAT_COLOURS.none;
  const trail = state.trails.get(track.track_id) || [];
  ctx.strokeStyle = colour + "88";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  trail.forEach(([lat, lon], i) => {
    const [x, y] = toScreen(toLocal(origin, lat, lon));
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.stroke();
  const here = toLocal(origin, track.lat, track.lon);
  const [x, y] = toScreen(here);
  const [lx, ly] = toScreen([here[0] + track.velocity.east_mps * LEADER_S, here[1] + track.velocity.north_mps * LEADER_S]);
  ctx.strokeStyle = colour;
  ctx.setLineDash(track.status === "coasting" ? [4, 3] : []);
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(lx, ly);
  ctx.stroke();
  ctx.beginPath();
  ctx.arc(x, y, 5, 0, 2 * Math.PI);
  ctx.fillStyle = colour;
  if (track.status === "tentative") ctx.stroke(); else ctx.fill();
  ctx.setLineDash([]);
  if (track.track_id === state.selected) {
    ctx.strokeStyle = "#ffffff";
    ctx.beginPath();
    ctx.arc(x, y, 10, 0, 2 * Math.PI);
    ctx.stroke();
  }
  ctx.fillStyle = "#d5dde6";
  ctx.fillText(`${track.track_id} ${track.label}`, x + 8, y - 4);
  ctx.fillStyle = "#9aa7b4";
  ctx.fillText(`${speed(track.velocity).toFixed(0)} m/s ${track.alt_m.toFixed(0)} m`, x + 8, y + 9);
}

function draw() {
  plan.pending = false;
  const { canvas, ctx } = plan;
  const rect = canvas.getBoundingClientRect();
  if (canvas.width !== Math.round(rect.width) || canvas.height !== Math.round(rect.height)) {
    canvas.width = Math.max(1, Math.round(rect.width));
    canvas.height = Math.max(1, Math.round(rect.height));
  }
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = "12px system-ui, sans-serif";
  const origin = siteOrigin();
  let drawn = 0;
  if (origin) {
    if (!plan.userMoved) fitView(origin);
    drawGrid(ctx);
    for (const zone of state.zones) drawZone(ctx, origin, zone);
    for (const strobe of state.strobes) drawStrobe(ctx, origin, strobe);
    for (const sensor of state.sensors.values()) drawSensor(ctx, origin, sensor);
    for (const track of state.tracks.values()) {
      drawTrack(ctx, origin, track);
      drawn += 1;
    }
  }
  $("map-empty").classList.toggle("hidden", Boolean(origin));
  document.body.dataset.tracks = String(drawn);
}

function requestDraw() {
  if (plan.pending) return;
  plan.pending = true;
  requestAnimationFrame(draw);
}

function setUpPlan() {
  plan.canvas = $("plan");
  plan.ctx = plan.canvas.getContext("2d");
  let drag = null;
  plan.canvas.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, start: [e.clientX, e.clientY] };
    plan.canvas.setPointerCapture(e.pointerId);
    plan.canvas.classList.add("dragging");
  });
  plan.canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    plan.centre = [plan.centre[0] - (e.clientX - drag.x) / plan.scale, plan.centre[1] + (e.clientY - drag.y) / plan.scale];
    drag = { x: e.clientX, y: e.clientY };
    plan.userMoved = true;
    requestDraw();
  });
  const endDrag = (e) => {
    if (drag && e.type === "pointerup" && Math.hypot(e.clientX - drag.start[0], e.clientY - drag.start[1]) < 4) pick(e);
    drag = null;
    plan.canvas.classList.remove("dragging");
  };
  plan.canvas.addEventListener("pointerup", endDrag);
  plan.canvas.addEventListener("pointercancel", endDrag);
  plan.canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const rect = plan.canvas.getBoundingClientRect();
    const px = e.clientX - rect.left - plan.canvas.width / 2;
    const py = e.clientY - rect.top - plan.canvas.height / 2;
    const before = [plan.centre[0] + px / plan.scale, plan.centre[1] - py / plan.scale];
    plan.scale = Math.min(50, Math.max(0.0005, plan.scale * Math.exp(-e.deltaY * 0.0015)));
    plan.centre = [before[0] - px / plan.scale, before[1] + py / plan.scale];
    plan.userMoved = true;
    requestDraw();
  }, { passive: false });
  $("fit").addEventListener("click", () => { plan.userMoved = false; requestDraw(); });
  $("tracks").addEventListener("click", (e) => {
    const row = e.target.closest("tr[data-track-id]");
    if (row) select(row.dataset.trackId);
  });
  window.addEventListener("resize", requestDraw);
}

// ---------------------------------------------------------------- track details

function pick(e) {
  const origin = siteOrigin();
  if (!origin) return;
  const rect = plan.canvas.getBoundingClientRect();
  let best = null;
  let bestDistance = PICK_RADIUS_PX;
  for (const track of state.tracks.values()) {
    const [x, y] = toScreen(toLocal(origin, track.lat, track.lon));
    const distance = Math.hypot(x - (e.clientX - rect.left), y - (e.clientY - rect.top));
    if (distance < bestDistance) [best, bestDistance] = [track.track_id, distance];
  }
  select(best);
}

async function select(trackId) {
  state.selected = trackId;
  document.body.dataset.selected = trackId || "";
  renderDetails(null);
  requestDraw();
  if (!trackId) return;
  try {
    const response = await fetch(`/api/tracks/${encodeURIComponent(trackId)}`);
    if (response.ok && state.selected === trackId) renderDetails(await response.json());
  } catch (err) {
    // The details stay as drawn from the live track.
  }
}

function renderDetails(details) {
  const panel = $("details");
  const track = (details && details.track) || state.tracks.get(state.selected);
  panel.classList.toggle("hidden", !state.selected);
  if (!state.selected) return;
  const rows = [["Track", state.selected]];
  if (track) {
    rows.push(["Status", track.status], ["Class", `${track.label} ${Math.round(track.label_p * 100)}%`],
      ["Threat", `${track.threat.level} (${track.threat.score.toFixed(2)})${track.threat.zone ? " · " + track.threat.zone : ""}`],
      ["Speed", `${speed(track.velocity).toFixed(1)} m/s`], ["Altitude", `${track.alt_m.toFixed(0)} m`],
      ["Position", `${track.lat.toFixed(5)}, ${track.lon.toFixed(5)} ±${track.position_sigma_m.toFixed(0)} m`],
      ["Sensors", track.sensors.join(", ") || "–"], ["First seen", `${clock(track.first_seen)} UTC`]);
  } else rows.push(["Status", "ended"]);
  if (details) {
    const sensors = new Set(details.history.flatMap((p) => p.sensors));
    rows.push(["History", `${details.history.length} positions`], ["All sensors", [...sensors].sort().join(", ") || "–"]);
  }
  $("details-body").replaceChildren(...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v))));
}

// ---------------------------------------------------------------- tracks

function onTracks(message) {
  state.fusionTime = message.time;
  state.strobes = message.strobes || [];
  const live = new Set();
  for (const track of message.tracks) {
    live.add(track.track_id);
    state.tracks.set(track.track_id, track);
    const trail = state.trails.get(track.track_id) || [];
    const last = trail[trail.length - 1];
    if (!last || last[0] !== track.lat || last[1] !== track.lon) trail.push([track.lat, track.lon]);
    if (trail.length > TRAIL_POINTS) trail.splice(0, trail.length - TRAIL_POINTS);
    state.trails.set(track.track_id, trail);
  }
  for (const id of [...state.tracks.keys()]) {
    if (!live.has(id)) {
      state.tracks.delete(id);
      state.trails.delete(id);
    }
  }
  $("fusion-time").textContent = `fusion ${clock(message.time)} UTC`;
  renderTracks();
  if (state.selected) renderDetails(null);
  requestDraw();
}

function renderTracks() {
  const rows = [...state.tracks.values()]
    .sort((a, b) => b.threat.score - a.threat.score || a.track_id.localeCompare(b.track_id))
    .map((t) => el("tr", { "data-track-id": t.track_id, "data-threat": t.threat.level,
      className: t.track_id === state.selected ? "selected" : "" },
      el("td", {}, t.track_id),
      el("td", {}, `${t.label} ${Math.round(t.label_p * 100)}%`),
      el("td", { className: "threat" }, t.threat.level),
      el("td", {}, `${speed(t.velocity).toFixed(1)} m/s`),
      el("td", {}, `${t.alt_m.toFixed(0)} m`)));
  $("tracks").replaceChildren(...rows);
  $("track-count").textContent = `(${rows.length})`;
}

// ---------------------------------------------------------------- sensors

function onStatus(status) {
  state.sensors.set(status.sensor_id, { status, health: status.state, lastSeen: Date.now() / 1000 });
  renderSensors();
  requestDraw();
}

async function pollSensors() {
  try {
    const response = await fetch("/api/sensors");
    if (!response.ok) return;
    const body = await response.json();
    for (const s of body.sensors) state.sensors.set(s.sensor_id, { status: s.status, health: s.health, lastSeen: s.last_seen });
    renderSensors();
    requestDraw();
  } catch (err) {
    // The WebSocket's status line already says the server is unreachable.
  }
}

function renderSensors() {
  const now = Date.now() / 1000;
  const rows = [...state.sensors.values()]
    .sort((a, b) => a.status.sensor_id.localeCompare(b.status.sensor_id))
    .map((s) => el("tr", { "data-sensor-id": s.status.sensor_id, "data-health": s.health },
      el("td", {}, s.status.sensor_id),
      el("td", {}, s.status.kind),
      el("td", { className: "health" }, s.health),
      el("td", {}, `${Math.max(0, now - s.lastSeen).toFixed(0)} s`)));
  $("sensors").replaceChildren(...rows);
}

// ---------------------------------------------------------------- alerts

function mergeAlert(alert) {
  const known = state.alerts.get(alert.alert_id);
  const merged = { ...known, ...alert };
  if (known && known.acknowledged_at && !alert.acknowledged_at) {
    Object.assign(merged, { acknowledged_by: known.acknowledged_by, acknowledged_at: known.acknowledged_at, note: known.note });
  }
  state.alerts.set(alert.alert_id, merged);
}

function beep() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!state.sound || !Context) return;
  const audio = beep.context || (beep.context = new Context());
  audio.resume?.();
  [0, 0.25, 0.5].forEach((at) => {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime + at);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + at + 0.2);
    osc.connect(gain).connect(audio.destination);
    osc.start(audio.currentTime + at);
    osc.stop(audio.currentTime + at + 0.2);
  });
}

function cueCritical() {
  const fresh = [...state.alerts.values()].filter((a) => a.level === "critical" && !a.acknowledged_at && !state.cued.has(a.alert_id));
  if (!fresh.length) return;
  fresh.forEach((a) => state.cued.add(a.alert_id));
  document.body.classList.remove("alarm");
  void document.body.offsetWidth;  // restart the flash animation
  document.body.classList.add("alarm");
  document.body.dataset.cues = String(Number(document.body.dataset.cues || 0) + 1);
  beep();
}

function onAlert(alert) {
  mergeAlert(alert);
  state.lastAlertId = alert.alert_id;
  renderAlerts();
  cueCritical();
}

async function loadAlerts() {
  try {
    const response = await fetch("/api/alerts");
    if (!response.ok) return;
    const body = await response.json();
    body.alerts.forEach(mergeAlert);
    renderAlerts();
  } catch (err) {
    // Retried on the next poll or reconnect.
  }
}

async function acknowledge(alertId, button) {
  const by = $("operator").value.trim() || "operator";
  button.disabled = true;
  try {
    const response = await fetch(`/api/alerts/${encodeURIComponent(alertId)}/ack`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ by, note: null }),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    mergeAlert(await response.json());
    renderAlerts();
  } catch (err) {
    button.disabled = false;
    button.title = `Acknowledgement failed: ${err.message}`;
  }
}

function alertItem(a) {
  const item = el("li", { "data-alert-id": a.alert_id, "data-level": a.level, className: a.acknowledged_at ? "acked" : "" },
    el("span", { className: "time" }, clock(a.time)),
    el("span", { className: "level" }, `${a.level} · ${a.kind.replace("_", " ")}`));
  if (a.acknowledged_at) {
    item.append(el("span", {}), el("span", { className: "text" }, a.message),
      el("span", { className: "ack-info" }, `acknowledged by ${a.acknowledged_by} at ${clock(a.acknowledged_at)}`));
  } else {
    const button = el("button", { type: "button", className: "ack" }, "Acknowledge");
    button.addEventListener("click", () => acknowledge(a.alert_id, button));
    item.append(button, el("span", { className: "text" }, a.message));
  }
  return item;
}

function renderAlerts() {
  const all = [...state.alerts.values()].sort((a, b) => b.time - a.time || b.alert_id.localeCompare(a.alert_id));
  const unacked = all.filter((a) => !a.acknowledged_at).length;
  $("alerts").replaceChildren(...all.slice(0, MAX_ALERTS_SHOWN).map(alertItem));
  $("alert-count").textContent = `(${all.length})`;
  $("unacked").textContent = String(unacked);
  $("unacked").classList.toggle("hot", unacked > 0);
  const critical = all.some((a) => a.level === "critical" && !a.acknowledged_at);
  $("unacked").classList.toggle("critical", critical);
  if (!critical) document.body.classList.remove("alarm");
  document.body.dataset.alerts = String(all.length);
  document.body.dataset.unacknowledged = String(unacked);
}

// ---------------------------------------------------------------- live connection

const HANDLERS = {
  "sargas.tracks/1": onTracks,
  "sargas.sensor_status/1": onStatus,
  "sargas.alerts/1": onAlert,
};

function setStatus(connection, text) {
  document.body.dataset.connection = connection;
  $("status").textContent = text;
}

function connect(backoff = BACKOFF_MIN_MS) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = state.lastAlertId ? `?since=${encodeURIComponent(state.lastAlertId)}` : "";
  const socket = new WebSocket(`${scheme}://${location.host}/ws${query}`);
  let opened = false;
  setStatus("connecting", "Connecting…");
  socket.addEventListener("open", () => {
    opened = true;
    setStatus("open", "Connected");
    loadAlerts();
    pollSensors();
  });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    const handler = HANDLERS[message.schema];
    if (handler) handler(message);
  });
  socket.addEventListener("close", (event) => {
    const delay = opened ? BACKOFF_MIN_MS : Math.min(backoff * 2, BACKOFF_MAX_MS);
    const why = event.reason ? ` (${event.reason})` : "";
    setStatus("closed", `Disconnected${why}; reconnecting in ${(delay / 1000).toFixed(1)} s`);
    setTimeout(() => connect(delay), delay);
  });
}

async function loadZones() {
  try {
    const response = await fetch("/api/zones");
    if (!response.ok) return;
    state.zones = (await response.json()).features;
    document.body.dataset.zones = String(state.zones.length);
    requestDraw();
  } catch (err) {
    setTimeout(loadZones, BACKOFF_MAX_MS);
  }
}

function start() {
  const sound = $("sound");
  state.sound = localStorage.getItem("sargas.sound") !== "off";
  sound.checked = state.sound;
  sound.addEventListener("change", () => {
    state.sound = sound.checked;
    localStorage.setItem("sargas.sound", state.sound ? "on" : "off");
  });
  $("details-close").addEventListener("click", () => select(null));
  loadZones();
  const operator = $("operator");
  operator.value = localStorage.getItem("sargas.operator") || "";
  operator.addEventListener("change", () => localStorage.setItem("sargas.operator", operator.value.trim()));
  setUpPlan();
  renderAlerts();
  requestDraw();
  connect();
  setInterval(pollSensors, SENSOR_POLL_MS);
  setInterval(loadAlerts, ALERT_POLL_MS);
}

document.addEventListener("DOMContentLoaded", start);
