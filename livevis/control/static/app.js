// livevis control page: builds a control for every live parameter from the server's descriptions and
// talks to the show over one WebSocket (/ws). Plain JS, no build step, no external files.
"use strict";

const state = { ws: null, params: {}, values: {}, controls: {}, dragging: new Set(), touched: {}, pending: {}, sendQueued: false,
                retry: 500, learn: null, preset: null };
const $ = (id) => document.getElementById(id);

function send(obj) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(obj));
}

// Slider moves are coalesced to one "set" bundle per animation frame.
function queueSet(name, value) {
  state.pending[name] = value;
  state.touched[name] = performance.now();
  if (state.sendQueued) return;
  state.sendQueued = true;
  requestAnimationFrame(() => {
    state.sendQueued = false;
    const values = state.pending;
    state.pending = {};
    if (Object.keys(values).length) send({ type: "set", values });
  });
}

function fmt(p, v) {
  if (p.kind === "float") return Number(v).toFixed(Math.abs(p.hi - p.lo) >= 50 ? 1 : 2);
  return String(v);
}

function stepFor(p) {
  if (p.kind === "int") return 1;
  const span = p.hi - p.lo;
  return span / 1000;
}

function makeControl(p) {
  const row = document.createElement("div");
  row.className = "param";
  row.title = p.doc + (p.unit ? " (" + p.unit + ")" : "");
  const label = document.createElement("label");
  label.textContent = p.name.replace(/_/g, " ");
  label.htmlFor = "p-" + p.name;
  row.appendChild(label);
  const value = document.createElement("span");
  value.className = "value";
  let input;
  if (p.kind === "float" || p.kind === "int") {
    input = document.createElement("input");
    input.type = "range";
    input.min = p.lo; input.max = p.hi; input.step = stepFor(p);
    input.addEventListener("input", () => {
      const v = p.kind === "int" ? parseInt(input.value, 10) : parseFloat(input.value);
      value.textContent = fmt(p, v) + (p.unit ? " " + p.unit : "");
      queueSet(p.name, v);
    });
    const hold = () => state.dragging.add(p.name);
    const release = () => state.dragging.delete(p.name);
    input.addEventListener("pointerdown", hold);
    input.addEventListener("pointerup", release);
    input.addEventListener("pointercancel", release);
    input.addEventListener("blur", release);
  } else if (p.kind === "bool") {
    input = document.createElement("input");
    input.type = "checkbox";
    input.addEventListener("change", () => queueSet(p.name, input.checked));
  } else if (p.kind === "choice") {
    input = document.createElement("select");
    for (const c of p.choices) {
      const o = document.createElement("option");
      o.value = c; o.textContent = c;
      input.appendChild(o);
    }
    input.addEventListener("change", () => queueSet(p.name, input.value));
  } else {
    input = document.createElement("input");
    input.type = "text";
    input.maxLength = 500;
    input.addEventListener("change", () => queueSet(p.name, input.value));
  }
  input.id = "p-" + p.name;
  input.dataset.param = p.name;
  row.appendChild(input);
  row.appendChild(value);
  if (p.kind !== "str") {
    const learn = document.createElement("button");
    learn.className = "learn";
    learn.textContent = "learn";
    learn.title = "MIDI learn: click, then move a control on the MIDI device";
    learn.dataset.learn = p.name;
    learn.addEventListener("click", () => send({ type: "learn", name: state.learn === p.name ? null : p.name }));
    row.appendChild(learn);
  } else {
    row.appendChild(document.createElement("span"));
  }
  state.controls[p.name] = { input, value, p };
  return row;
}

function show(name, v) {
  state.values[name] = v;
  const c = state.controls[name];
  if (c) {
    const { input, value, p } = c;
    // don't pull a control from under the performer's finger: skip while held or just moved here
    const busy = state.dragging.has(name) || performance.now() - (state.touched[name] || -1e9) < 400
      || (p.kind === "str" && document.activeElement === input);
    if (p.kind === "bool") input.checked = !!v;
    else if (!busy) input.value = v;
    value.textContent = p.kind === "bool" ? (v ? "on" : "off") : (p.kind === "str" || p.kind === "choice") ? ""
      : fmt(p, v) + (p.unit ? " " + p.unit : "");
  }
  if (name === "blackout") $("blackout").classList.toggle("on", !!v);
  if (name === "prompt" && document.activeElement !== $("prompt")) $("prompt").value = v;
}

function build(params) {
  const groups = $("groups");
  groups.textContent = "";
  state.controls = {};
  state.params = {};
  const byGroup = new Map();
  for (const p of params) {
    state.params[p.name] = p;
    if (!byGroup.has(p.group)) byGroup.set(p.group, []);
    byGroup.get(p.group).push(p);
  }
  for (const [group, ps] of byGroup) {
    const fs = document.createElement("fieldset");
    fs.dataset.group = group;
    const legend = document.createElement("legend");
    legend.textContent = group;
    fs.appendChild(legend);
    for (const p of ps) fs.appendChild(makeControl(p));
    groups.appendChild(fs);
  }
}

function showPresets(names) {
  const list = $("preset-list");
  list.textContent = "";
  for (const n of names) {
    const b = document.createElement("button");
    b.textContent = n;
    b.dataset.preset = n;
    b.classList.toggle("current", n === state.preset);
    b.addEventListener("click", () => send({ type: "preset", name: n }));
    list.appendChild(b);
  }
}

function num(v, digits, unit) {
  return typeof v === "number" && isFinite(v) ? v.toFixed(digits) + (unit || "") : "–";
}

function showStats(s) {
  $("stat-fps").textContent = num(s.fps, 1);
  $("stat-response").textContent = num(s.response_ms, 0, " ms");
  const level = typeof s.level === "number" ? s.level : (typeof s.rms_db === "number" ? s.rms_db : null);
  $("stat-level").value = level === null ? -60 : Math.max(-60, Math.min(0, level));
  $("stat-level-db").textContent = num(level, 0, " dB");
  $("stat-bpm").textContent = num(s.bpm, 1);
  $("stat-beat").classList.toggle("on", typeof s.beat === "number" && s.beat < 0.2);
  $("stat-heard").textContent = typeof s.heard === "string" ? s.heard.replace(/_/g, " ") + " " + num(100 * s.heard_p, 0, "%") : "–";
  const dev = s.device ?? s.status ?? s.device_status;
  $("stat-device").textContent = dev === undefined || dev === null ? "–" : String(dev);
  $("stat-accepted").textContent = s.accepted ?? 0;
  $("stat-ignored").textContent = s.ignored ?? 0;
  state.learn = s.learn || null;
  $("learn-status").textContent = state.learn ? "MIDI learn: move a control for " + state.learn : "";
  for (const b of document.querySelectorAll("button.learn")) b.classList.toggle("armed", b.dataset.learn === state.learn);
  if (s.preset !== undefined && s.preset !== state.preset) {
    state.preset = s.preset;
    for (const b of document.querySelectorAll("#preset-list button")) b.classList.toggle("current", b.dataset.preset === s.preset);
  }
}

function flash(el) {
  el.classList.add("flash");
  setTimeout(() => el.classList.remove("flash"), 100);
}

function onMessage(ev) {
  let msg;
  try { msg = JSON.parse(ev.data); } catch (e) { return; }
  if (msg.type === "hello") {
    build(msg.params);
    for (const [k, v] of Object.entries(msg.values)) show(k, v);
    showPresets(msg.presets);
    showStats(msg.stats || {});
  } else if (msg.type === "values") {
    for (const [k, v] of Object.entries(msg.values)) show(k, v);
  } else if (msg.type === "stats") {
    showStats(msg.stats);
  } else if (msg.type === "presets") {
    showPresets(msg.presets);
  } else if (msg.type === "error") {
    $("message").textContent = msg.message || "ignored";
    clearTimeout(state.msgTimer);
    state.msgTimer = setTimeout(() => { $("message").textContent = ""; }, 4000);
  }
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(proto + "//" + location.host + "/ws");
  state.ws = ws;
  ws.onopen = () => { state.retry = 500; $("conn").textContent = "connected"; $("conn").className = "conn on"; };
  ws.onmessage = onMessage;
  ws.onclose = () => {
    $("conn").textContent = "reconnecting…"; $("conn").className = "conn off";
    setTimeout(connect, state.retry);
    state.retry = Math.min(state.retry * 2, 5000);
  };
}

function tap() {
  send({ type: "tap" });
  flash($("tap"));
}

$("tap").addEventListener("pointerdown", (e) => { e.preventDefault(); tap(); });  // on press: tempo is timing
$("tap").addEventListener("keydown", (e) => { if (e.key === " " || e.key === "Enter") { e.preventDefault(); tap(); } });
$("blackout").addEventListener("click", () => send({ type: "blackout", on: !state.values.blackout }));
$("prompt-form").addEventListener("submit", (e) => { e.preventDefault(); send({ type: "prompt", text: $("prompt").value }); });
$("save-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const name = $("preset-name").value.trim();
  if (name) send({ type: "save", name });
});
document.addEventListener("keydown", (e) => {
  const t = e.target;
  if (t instanceof HTMLInputElement && (t.type === "text" || t.type === "number")) return;
  if (e.key === "t" && !e.repeat) tap();
});

connect();
