// The task-group page, /groups/<taskGroupId> (protocol.md §18.2): the dependency graph drawn in
// SVG (layered by dependency depth, nodes coloured by state) and a table, read with the
// paginated listTaskGroup and kept current from the event stream (§11.3): states recolour,
// new tasks appear. Layout is linear in tasks and edges, plus a sort per layer.
"use strict";
(() => {
  const groupId = idFromPath("groups");
  const main = document.querySelector("main");
  const NODE_W = 180, NODE_H = 24, COL_GAP = 60, ROW_GAP = 8, MAX_ROWS = 100, PAD = 12, TOP = 32;
  const tasks = new Map();    // taskId -> {id, name, deps (in the group), outside, status, depth}
  const latest = new Map();   // taskId -> the latest status an event carried
  const unknown = new Set();  // ids seen in events, not yet fetched
  let nodes = new Map(), rows = new Map(), bands = [], loaded = false, group = null;

  document.getElementById("crumb").append(`task group ${groupId}`);
  document.title = `task group ${groupId} · infrax`;

  function add(task, status) {
    const id = status.taskId;
    tasks.set(id, { id, name: task.metadata.name, depsAll: task.dependencies,
      status: laterStatus(latest.get(id), status), depth: 0 });
  }

  // Depth = the longest chain of in-group dependencies leading to a task (Kahn's order).
  function layout() {
    const children = new Map(), missing = new Map(), ready = [];
    for (const t of tasks.values()) {
      t.deps = t.depsAll.filter((d) => d !== t.id && tasks.has(d));
      t.outside = t.depsAll.filter((d) => d !== t.id && !tasks.has(d)).length;
      t.depth = 0;
      missing.set(t.id, t.deps.length);
      if (!t.deps.length) ready.push(t.id);
      for (const d of t.deps) {
        if (!children.has(d)) children.set(d, []);
        children.get(d).push(t.id);
      }
    }
    for (let i = 0; i < ready.length; i += 1) {
      const parent = tasks.get(ready[i]);
      for (const c of children.get(parent.id) || []) {
        const child = tasks.get(c);
        child.depth = Math.max(child.depth, parent.depth + 1);
        missing.set(c, missing.get(c) - 1);
        if (missing.get(c) === 0) ready.push(c);
      }
    }
    const layers = [];
    for (const t of tasks.values()) (layers[t.depth] ||= []).push(t);
    // Within a layer, order by the mean position of the dependencies (barycentre), then name.
    let x = PAD;
    bands = [];
    for (const layer of layers.filter(Boolean)) {
      for (const t of layer) {
        t.key = t.deps.length ? t.deps.reduce((s, d) => s + (tasks.get(d).row || 0), 0) / t.deps.length : 0;
      }
      layer.sort((p, q) => p.key - q.key || (p.name < q.name ? -1 : p.name > q.name ? 1 : 0) || (p.id < q.id ? -1 : 1));
      layer.forEach((t, i) => {
        t.row = i;
        t.x = x + Math.floor(i / MAX_ROWS) * (NODE_W + COL_GAP / 2);
        t.y = TOP + (i % MAX_ROWS) * (NODE_H + ROW_GAP);
      });
      const next = x + Math.ceil(layer.length / MAX_ROWS) * (NODE_W + COL_GAP / 2) + COL_GAP / 2;
      bands.push({ x: x - COL_GAP / 4, width: next - x - COL_GAP / 2, depth: layer[0].depth, count: layer.length });
      x = next;
    }
    const height = TOP + PAD + Math.min(MAX_ROWS, Math.max(0, ...layers.filter(Boolean).map((l) => l.length))) * (NODE_H + ROW_GAP);
    return { width: x + PAD, height };
  }

  function label(name) {
    return name.length > 26 ? `${name.slice(0, 25)}…` : name;
  }

  function drawGraph() {
    const { width, height } = layout();
    const edges = [], shapes = [];
    const backs = bands.map((b, i) => `<rect class="band${i % 2 ? " odd" : ""}" x="${b.x}" y="0" width="${b.width + COL_GAP / 2}" height="${height}"/>` +
      `<text class="band-label" x="${b.x + 6}" y="18">depth ${b.depth} · ${b.count} task${b.count === 1 ? "" : "s"}</text>`);
    for (const t of tasks.values()) {
      for (const d of t.deps) {
        const from = tasks.get(d);
        const x1 = from.x + NODE_W, y1 = from.y + NODE_H / 2, x2 = t.x, y2 = t.y + NODE_H / 2;
        const mid = (x1 + x2) / 2;
        edges.push(`<path class="edge" data-from="${d}" data-to="${t.id}" d="M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}"/>`);
      }
      const state = t.status.state;
      shapes.push(`<g class="node state-${state}" data-task-id="${t.id}" data-state="${state}" data-depth="${t.depth}" transform="translate(${t.x},${t.y})">` +
        `<title>${escapeHtml(`${t.name} (${t.id}): ${state}`)}</title><rect width="${NODE_W}" height="${NODE_H}"/>` +
        `<text x="6" y="16">${escapeHtml(label(t.name))}</text></g>`);
    }
    const graph = document.getElementById("graph");
    graph.innerHTML = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
      '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto">' +
      '<path d="M0,0 L8,4 L0,8 z" fill="#9aa0a6"/></marker></defs>' +
      `<g>${backs.join("")}</g><g>${edges.join("")}</g><g>${shapes.join("")}</g></svg>`;
    nodes = new Map([...graph.querySelectorAll(".node")].map((n) => [n.dataset.taskId, n]));
  }

  function drawTable() {
    const body = [...tasks.values()].sort((p, q) => p.depth - q.depth || p.row - q.row).map((t) => {
      const runs = t.status.runs, last = runs[runs.length - 1];
      return `<tr data-task-id="${t.id}"><td><span class="state state-${t.status.state}" data-state="${t.status.state}">${t.status.state}</span></td>` +
        `<td><a href="${pageUrl.task(t.id)}">${escapeHtml(t.name)}</a></td><td class="mono">${t.id}</td>` +
        `<td>${t.deps.length}${t.outside ? ` (+${t.outside} outside)` : ""}</td><td class="runs">${runs.length}</td>` +
        `<td class="mono">${last && last.workerId ? escapeHtml(`${last.workerGroup}/${last.workerId}`) : ""}</td>` +
        `<td>${last ? formatTime(last.resolved || last.started || last.scheduled) : ""}</td></tr>`;
    });
    const table = document.getElementById("group-table");
    table.innerHTML = "<thead><tr><th>state</th><th>name</th><th>task id</th><th>dependencies</th>" +
      `<th>runs</th><th>worker</th><th>last change</th></tr></thead><tbody>${body.join("")}</tbody>`;
    rows = new Map([...table.querySelectorAll("tbody tr")].map((r) => [r.dataset.taskId, r]));
  }

  function drawSummary() {
    const counts = {};
    for (const t of tasks.values()) counts[t.status.state] = (counts[t.status.state] || 0) + 1;
    const summary = document.getElementById("summary");
    summary.replaceChildren(`${tasks.size} tasks: `,
      ...STATES.filter((s) => counts[s]).map((s) => stateBadge(s, `${counts[s]} ${s}`)),
      group && group.sealed ? " · sealed" : "");
  }

  function draw() {
    drawGraph();
    drawTable();
    drawSummary();
    document.body.dataset.ready = "true";
  }
  const redraw = debounce(draw, 300);
  const resummarize = debounce(drawSummary, 300);

  function recolour(t) {
    const state = t.status.state;
    const node = nodes.get(t.id);
    if (node) {
      node.setAttribute("class", `node state-${state}`);
      node.dataset.state = state;
      node.querySelector("title").textContent = `${t.name} (${t.id}): ${state}`;
    }
    const row = rows.get(t.id);
    if (row) {
      row.querySelector(".state").replaceWith(stateBadge(state));
      row.querySelector(".runs").textContent = t.status.runs.length;
    }
    resummarize();
  }

  async function fetchUnknown() {
    const ids = [...unknown].filter((id) => !tasks.has(id));
    unknown.clear();
    for (let i = 0; i < ids.length; i += 1000) {
      try {
        const found = await post("/tasks", { taskIds: ids.slice(i, i + 1000) });
        for (const { taskId, task } of found.tasks) {
          if (task.taskGroupId === groupId && latest.has(taskId)) add(task, latest.get(taskId));
        }
      } catch (error) {
        explain(document.getElementById("notices"), error, "the new tasks of the group");
      }
    }
    redraw();
  }
  const fetchLater = debounce(fetchUnknown, 200);

  function onMessage(frame) {
    const status = frame.payload.status;
    if (!status) {
      if (frame.payload.sealed !== undefined && group) { group.sealed = frame.payload.sealed; resummarize(); }
      return;
    }
    latest.set(status.taskId, laterStatus(latest.get(status.taskId), status));
    const t = tasks.get(status.taskId);
    if (t) {
      const before = t.status;
      t.status = laterStatus(t.status, status);
      if (before !== t.status) recolour(t);
    } else if (loaded) {
      unknown.add(status.taskId);
      fetchLater();
    }
  }

  async function load() {
    const progress = document.getElementById("summary");
    try {
      await listAll(`/task-group/${enc(groupId)}/list`, "tasks", (page) => {
        group = page;
        for (const { task, status } of page.tasks) add(task, status);
        progress.textContent = `loading… ${tasks.size} tasks`;
      });
    } catch (error) {
      explain(document.getElementById("notices"), error, "the tasks of the group");
      return;
    }
    loaded = true;
    for (const id of latest.keys()) if (!tasks.has(id)) unknown.add(id);
    if (unknown.size) fetchLater();
    draw();
  }

  async function start() {
    if (!groupId) { pageError("No task group id", "The address should be /groups/<taskGroupId>."); return; }
    try {
      group = await api(`/task-group/${enc(groupId)}`);
    } catch (error) {
      document.getElementById("live").remove();
      if (error.status === 404) pageError(`No task group ${groupId}`, `The queue knows no task group with this id (${error.message}).`);
      else pageError(`Could not load task group ${groupId}`, error.message);
      return;
    }
    main.replaceChildren(
      el("h1", {}, "Task group ", el("code", { text: groupId })),
      el("p", { class: "summary", id: "summary", text: "loading…" }),
      el("div", { id: "notices" }),
      el("h2", { text: "Dependency graph" }),
      el("p", { class: "muted", text: "Columns by dependency depth; an arrow runs from a dependency to its dependent. Click a task to open it." }),
      el("div", { id: "graph", onclick: (event) => {
        const node = event.target.closest(".node");
        if (node) location.href = pageUrl.task(node.dataset.taskId);
      } }),
      el("h2", { text: "Tasks" }),
      el("table", { id: "group-table" }));
    const pattern = `primary.*.*.*.*.*.*.*.${groupId}.#`;
    const groupExchanges = ["task-group-resolved", "task-group-sealed"];
    new EventStream([...taskBindings(pattern, TASK_EXCHANGES), ...taskBindings(`primary.${groupId}.#`, groupExchanges)],
      { onReady: load, onMessage });
  }

  start();
})();
