// The live log page (protocol.md §18.2): follows a run's public/logs/live.log over its
// websocket from the offset reached, reconnecting after a drop (and after a refresh, from what
// sessionStorage kept); a finished run's log is read from the stored log.
"use strict";
(() => {
  const params = new URLSearchParams(location.search);
  const taskId = params.get("taskId");
  let runId = params.get("runId");
  const root = location.href.split("/livelog/")[0];
  const api = `${root}/api/queue/v1`;
  const logElement = document.getElementById("log");
  const stateElement = document.getElementById("state");
  const followBox = document.getElementById("follow");
  const renderer = new AnsiRenderer(logElement);
  const decoder = new TextDecoder("utf-8");
  const KEEP_CHARS = 4 * 1024 * 1024;
  let offset = 0, kept = "", storageKey = null, failures = 0, finished = false;

  function state(name, text) {
    stateElement.dataset.state = name;
    stateElement.textContent = text;
  }

  function atBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 8;
  }

  window.addEventListener("scroll", () => { followBox.checked = atBottom(); });
  followBox.addEventListener("change", () => { if (followBox.checked) scrollDown(); });

  function scrollDown() { window.scrollTo(0, document.body.scrollHeight); }

  function show(text) {
    renderer.write(text);
    if (followBox.checked) scrollDown();
  }

  function append(bytes) {
    offset += bytes.length;
    const text = decoder.decode(bytes, { stream: true });
    show(text);
    remember(text);
  }

  function remember(text) {
    if (storageKey === null || kept === null) return;
    kept += text;
    if (kept.length > KEEP_CHARS) { kept = null; sessionStorage.removeItem(storageKey); return; }
    try {
      sessionStorage.setItem(storageKey, JSON.stringify({ offset, text: kept }));
    } catch (error) {
      kept = null;
      sessionStorage.removeItem(storageKey);
    }
  }

  function restore() {
    storageKey = `infrax-livelog:${taskId}:${runId}`;
    const saved = sessionStorage.getItem(storageKey);
    if (!saved) return;
    try {
      const { offset: savedOffset, text } = JSON.parse(saved);
      offset = savedOffset;
      kept = text;
      show(text);
      document.body.dataset.resumedFrom = String(offset);
    } catch (error) {
      sessionStorage.removeItem(storageKey);
    }
  }

  async function json(url) {
    const response = await fetch(url);
    return { status: response.status, body: await response.json().catch(() => ({})) };
  }

  async function latestRun() {
    const { status, body } = await json(`${api}/task/${encodeURIComponent(taskId)}/status`);
    if (status !== 200) throw new Error(body.message || `status ${status}`);
    const runs = body.status.runs;
    return runs.length ? runs.length - 1 : null;
  }

  function retry(why) {
    failures += 1;
    const pause = Math.min(10000, 250 * 2 ** failures) * (0.5 + Math.random());
    state("waiting", `${why}; trying again`);
    setTimeout(connect, pause);
  }

  async function connect() {
    if (finished) return;
    try {
      if (runId === null) {
        runId = await latestRun();
        if (runId === null) { retry("the task has no run yet"); return; }
        runId = String(runId);
      }
      if (storageKey === null) restore();
      document.getElementById("title").textContent = `task ${taskId} run ${runId}`;
      const name = "public/logs/live.log";
      const { status, body } = await json(
        `${api}/task/${encodeURIComponent(taskId)}/runs/${runId}/artifact-content/${encodeURIComponent(name)}`);
      if (status === 404) { retry("no log yet"); return; }
      if (status !== 200) { retry(body.message || `status ${status}`); return; }
      if (body.storageType === "reference") follow(body.url);
      else await stored(body.url);
    } catch (error) {
      retry(String(error));
    }
  }

  function follow(url) {
    const socketUrl = url.replace(/^http/, "ws") + (url.includes("?") ? "&" : "?") + `offset=${offset}`;
    const socket = new WebSocket(socketUrl);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => { failures = 0; state("live", "live"); };
    socket.onmessage = (event) => append(new Uint8Array(event.data));
    socket.onclose = (event) => {
      if (event.code === 1000) { done(); return; }
      retry(`disconnected (${event.code})`);
    };
  }

  async function stored(url) {
    const response = await fetch(url);
    if (!response.ok) { retry(`the stored log answered ${response.status}`); return; }
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > offset) append(bytes.subarray(offset));
    done();
  }

  async function done() {
    finished = true;
    show(decoder.decode());
    let text = "complete";
    try {
      const { body } = await json(`${api}/task/${encodeURIComponent(taskId)}/status`);
      const run = body.status.runs[Number(runId)];
      if (run && run.state !== "running" && run.state !== "pending") text = `complete: ${run.state}`;
    } catch (error) { /* the log is complete either way */ }
    state("done", text);
  }

  if (!taskId) { state("error", "no taskId in the address"); return; }
  connect();
})();
