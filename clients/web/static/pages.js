// What the home, task, task-group and task-queue pages share (protocol.md §18.2): the rootUrl
// (from the page's <base>, which the queue sets), API calls, paginated listings, the event
// stream (§11.3) with reconnection, and small DOM helpers. No library: plain browser APIs.
"use strict";

const ROOT = document.baseURI.replace(/\/$/, "");
const API = `${ROOT}/api/queue/v1`;
const EXCHANGE = "exchange/taskcluster-queue/v1/";
const TASK_EXCHANGES = ["task-defined", "task-pending", "task-running", "task-completed",
  "task-failed", "task-exception", "task-priority-changed"];
const STATES = ["unscheduled", "pending", "running", "completed", "failed", "exception"];

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const enc = encodeURIComponent;

async function api(path, init) {
  let response;
  try {
    response = await fetch(`${API}${path}`, init);
  } catch (error) {
    throw new ApiError(0, "NetworkError", `the queue could not be reached (${error})`);
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    // The message without Taskcluster's trailer of request facts (after "---").
    const message = (body.message || `${response.status} ${response.statusText}`).split("\n---")[0]
      .replace(/\s+/g, " ").trim();
    throw new ApiError(response.status, body.code || "", message);
  }
  return body;
}

function post(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body) });
}

// Every page of a listing (protocol.md §9), concatenating `key`; `onPage` sees each page.
async function listAll(path, key, onPage) {
  const items = [];
  let token = null;
  do {
    const query = token === null ? "" : `${path.includes("?") ? "&" : "?"}continuationToken=${enc(token)}`;
    const page = await api(path + query);
    items.push(...page[key]);
    if (onPage) onPage(page);
    token = page.continuationToken || null;
  } while (token !== null);
  return items;
}

const pageUrl = {
  task: (taskId) => `${ROOT}/tasks/${enc(taskId)}`,
  group: (taskGroupId) => `${ROOT}/groups/${enc(taskGroupId)}`,
  queue: (taskQueueId) => `${ROOT}/queues/${taskQueueId.split("/").map(enc).join("/")}`,
  log: (taskId, runId) => `${ROOT}/livelog/?taskId=${enc(taskId)}&runId=${runId}`,
  artifact: (taskId, runId, name) => `${API}/task/${enc(taskId)}/runs/${runId}/artifacts/${enc(name)}`,
};

// The id in the page's own address: what follows `/<kind>/`, decoded (a task-queue id keeps
// its slash, whether the address spelt it `/` or `%2F`).
function idFromPath(kind) {
  const path = location.pathname;
  const at = path.lastIndexOf(`/${kind}/`);
  if (at < 0) return "";
  return path.slice(at + kind.length + 2).replace(/\/$/, "").split("/").map(decodeURIComponent).join("/");
}

function el(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else if (name.startsWith("data-")) element.setAttribute(name, value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function stateBadge(state, text) {
  return el("span", { class: `state state-${state}`, "data-state": state, text: text || state });
}

function link(href, text, attributes) {
  return el("a", { href, ...(attributes || {}) }, text);
}

function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function formatDuration(startIso, endIso) {
  if (!startIso) return "";
  const ms = (endIso ? new Date(endIso) : new Date()) - new Date(startIso);
  if (!(ms >= 0)) return "";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function formatBytes(n) {
  if (n === undefined || n === null) return "";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

// A section's content replaced by a message saying why it cannot be shown.
function explain(container, error, what) {
  let text;
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    text = `Showing ${what} needs scopes that anonymous visitors do not hold on this queue ` +
      `(the operator's anonymous role, protocol.md §7.3): ${error.message}`;
  } else {
    text = `Could not load ${what}: ${error.message || error}`;
  }
  container.replaceChildren(el("p", { class: "notice", "data-error": error.status || "error", text }));
}

// The whole page replaced by an error (an unknown id, an unreachable queue).
function pageError(title, message) {
  const main = document.querySelector("main");
  main.replaceChildren(el("section", { id: "error", class: "error" },
    el("h2", { text: title }), el("p", { text: message }),
    el("p", {}, link(`${ROOT}/`, "Back to the home page"))));
  document.body.dataset.ready = "error";
}

// Calls `fn` at most once per `ms`, after the last call of a burst.
function debounce(fn, ms) {
  let timer = null;
  return () => {
    if (timer !== null) return;
    timer = setTimeout(() => { timer = null; fn(); }, ms);
  };
}

// The queue's event stream (protocol.md §11.3): subscribes `bindings` and calls `onReady` once
// they are in place (and again after each reconnection, since nothing is replayed: the page
// reads the current state then), and `onMessage` for each message.
class EventStream {
  constructor(bindings, { onReady, onMessage }) {
    this.bindings = bindings;
    this.onReady = onReady;
    this.onMessage = onMessage;
    this.failures = 0;
    this.indicator = document.getElementById("live");
    this.connect();
  }

  show(state, text) {
    if (!this.indicator) return;
    this.indicator.dataset.state = state;
    this.indicator.textContent = text;
    this.indicator.title = state === "live" ? "updates arrive from the queue's event stream" : text;
  }

  connect() {
    this.show("connecting", "connecting");
    const socket = new WebSocket(`${API.replace(/^http/, "ws")}/events`);
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: "subscribe", id: "page", bindings: this.bindings }));
    };
    socket.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "subscribed") {
        this.failures = 0;
        this.show("live", "live");
        this.onReady();
      } else if (frame.type === "message") {
        this.onMessage(frame);
      } else if (frame.type === "error") {
        this.show("error", `event stream: ${frame.message}`);
      }
    };
    socket.onclose = (event) => {
      this.failures += 1;
      const pause = Math.min(10000, 250 * 2 ** this.failures) * (0.5 + Math.random());
      this.show("waiting", `reconnecting (${event.code}${event.reason ? `: ${event.reason}` : ""})`);
      setTimeout(() => this.connect(), pause);
    };
  }
}

function taskBindings(pattern, exchanges) {
  return exchanges.map((name) => ({ exchange: EXCHANGE + name, routingKeyPattern: pattern }));
}

function exchangeName(frame) {
  return frame.exchange.slice(EXCHANGE.length);
}

// Which of two statuses of one task is the later: more runs, then a resolved last run.
function laterStatus(a, b) {
  if (!a) return b;
  if (!b) return a;
  if (a.runs.length !== b.runs.length) return a.runs.length > b.runs.length ? a : b;
  const rank = (s) => STATES.indexOf(s.state) >= 3 ? 2 : s.state === "running" ? 1 : 0;
  return rank(b) > rank(a) ? b : a;
}

// `fn` (async) never running twice at once: a call while it runs makes it run once more after,
// so the last answer shown is never older than the last call.
function serialized(fn) {
  let running = false, again = false;
  const run = async () => {
    if (running) { again = true; return; }
    running = true;
    try {
      do { again = false; await fn(); } while (again);
    } finally {
      running = false;
    }
  };
  return run;
}
