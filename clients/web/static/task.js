// The task page, /tasks/<taskId> (protocol.md §18.2): the definition, status and runs, each
// run's artifacts, the current run's live log (the /livelog/ viewer, embedded), and links to
// the group, dependencies and dependents; updated from the event stream (§11.3).
"use strict";
(() => {
  const taskId = idFromPath("tasks");
  const main = document.querySelector("main");
  let status = null;
  let logRun = null;
  const artifactRuns = new Set();

  document.getElementById("crumb").append(`task ${taskId}`);
  document.title = `task ${taskId} · infrax`;

  function facts(task) {
    const m = task.metadata;
    const rows = [
      ["task queue", link(pageUrl.queue(task.taskQueueId), task.taskQueueId, { id: "queue-link" })],
      ["task group", link(pageUrl.group(task.taskGroupId), task.taskGroupId, { id: "group-link" })],
      ["owner", m.owner],
      ["source", /^https?:/.test(m.source) ? link(m.source, m.source) : m.source],
      ["created", formatTime(task.created)],
      ["deadline", formatTime(task.deadline)],
      ["expires", formatTime(task.expires)],
      ["priority", task.priority],
      ["retries", task.retries],
      ["requires", task.requires],
    ];
    return el("dl", { class: "facts" }, rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));
  }

  function skeleton(task) {
    document.title = `${task.metadata.name} · infrax`;
    main.replaceChildren(
      el("h1", {}, el("span", { id: "task-state" }), " ", task.metadata.name),
      el("p", { class: "muted" }, el("code", { text: taskId }), " ", task.metadata.description),
      facts(task),
      el("h2", { text: "Runs" }), el("div", { id: "runs" }),
      el("h2", { text: "Live log" }), el("div", { id: "log" }),
      el("h2", { text: "Artifacts" }), el("div", { id: "artifacts" }),
      el("h2", { text: "Dependencies" }), el("div", { id: "dependencies" }),
      el("h2", { text: "Dependents" }), el("div", { id: "dependents" }),
      el("h2", { text: "Definition" }),
      el("pre", { class: "json", id: "definition", text: JSON.stringify(task, null, 2) }),
    );
  }

  function renderRuns() {
    document.getElementById("task-state").replaceChildren(stateBadge(status.state));
    const container = document.getElementById("runs");
    if (!status.runs.length) {
      container.replaceChildren(el("p", { class: "muted", text: "No run yet: the task waits for its dependencies (or to be scheduled)." }));
      return;
    }
    const head = el("tr", {}, ["run", "state", "reason created", "reason resolved", "worker",
      "scheduled", "started", "resolved", "took"].map((h) => el("th", { text: h })));
    const rows = status.runs.map((run) => el("tr", { "data-run": run.runId },
      el("td", { text: run.runId }),
      el("td", {}, stateBadge(run.state)),
      el("td", { text: run.reasonCreated || "" }),
      el("td", { text: run.reasonResolved || "" }),
      el("td", { class: "mono", text: run.workerId ? `${run.workerGroup}/${run.workerId}` : "" }),
      el("td", { text: formatTime(run.scheduled) }),
      el("td", { text: formatTime(run.started) }),
      el("td", { text: formatTime(run.resolved) }),
      el("td", { text: run.started ? formatDuration(run.started, run.resolved) : "" })));
    container.replaceChildren(el("table", { id: "runs-table" }, el("thead", {}, head), el("tbody", {}, rows)));
  }

  function renderLog() {
    const container = document.getElementById("log");
    const last = status.runs[status.runs.length - 1];
    if (!last) {
      container.replaceChildren(el("p", { class: "muted", text: "The log appears once a worker starts a run." }));
      return;
    }
    if (!last.started) {
      logRun = null;
      container.replaceChildren(el("p", { class: "muted",
        text: last.state === "pending" ? `Run ${last.runId} is pending; its log appears once a worker starts it.`
          : `Run ${last.runId} never started, so it has no log.` }));
      return;
    }
    if (logRun === last.runId) return;
    logRun = last.runId;
    const url = pageUrl.log(taskId, last.runId);
    container.replaceChildren(
      el("p", {}, `Run ${last.runId} · `, link(url, "open the log on its own page")),
      el("iframe", { class: "log", id: "log-frame", src: url, title: `log of run ${last.runId}` }));
  }

  function artifactRow(runId, artifact) {
    const name = artifact.storageType === "error"
      ? el("span", { class: "mono", title: "an error artifact: the worker could not upload it" }, artifact.name)
      : link(pageUrl.artifact(taskId, runId, artifact.name), artifact.name,
          { class: "mono artifact", "data-name": artifact.name });
    return el("tr", {}, el("td", {}, name), el("td", { text: artifact.contentType || "" }),
      el("td", { text: formatBytes(artifact.contentLength) }), el("td", { text: artifact.storageType }),
      el("td", { text: formatTime(artifact.expires) }));
  }

  // One reading of a run's artifacts at a time (another call runs once more after it), so a
  // burst of artifact-created messages never lets an older answer replace a newer one.
  const loaders = new Map();
  function loadArtifacts(runId) {
    artifactRuns.add(runId);
    if (!loaders.has(runId)) loaders.set(runId, serialized(() => readArtifacts(runId)));
    return loaders.get(runId)();
  }

  async function readArtifacts(runId) {
    const container = document.getElementById("artifacts");
    let section = document.getElementById(`artifacts-${runId}`);
    if (!section) {
      section = el("div", { id: `artifacts-${runId}`, "data-run": runId });
      const after = [...container.children].find((c) => Number(c.dataset.run) < runId);
      container.insertBefore(section, after || null);
    }
    let artifacts;
    try {
      artifacts = await listAll(`/task/${enc(taskId)}/runs/${runId}/artifacts`, "artifacts");
    } catch (error) {
      explain(section, error, `the artifacts of run ${runId}`);
      return;
    }
    const title = el("h3", { text: `Run ${runId}` });
    if (!artifacts.length) {
      section.replaceChildren(title, el("p", { class: "muted", text: "No artifact yet." }));
      return;
    }
    const head = el("tr", {}, ["name", "content type", "size", "storage", "expires"].map((h) => el("th", { text: h })));
    section.replaceChildren(title, el("table", {}, el("thead", {}, head),
      el("tbody", {}, artifacts.map((a) => artifactRow(runId, a)))),
      artifacts.some((a) => !a.name.startsWith("public/"))
        ? el("p", { class: "muted", text: "Artifacts outside public/ need credentials holding queue:get-artifact:<name>." }) : "");
  }

  function setStatus(next) {
    status = laterStatus(status, next);
    renderRuns();
    renderLog();
    for (const run of status.runs) {
      if (!artifactRuns.has(run.runId) && run.started) loadArtifacts(run.runId);
    }
    if (!status.runs.some((run) => run.started)) {
      document.getElementById("artifacts").replaceChildren(el("p", { class: "muted", text: "No run has started, so there is no artifact." }));
    }
  }

  function taskItem(id, item) {
    const name = item && item.task ? ` ${item.task.metadata.name}` : "";
    const state = item && item.status ? stateBadge(item.status.state) : el("span", { class: "muted", text: "unknown task" });
    return el("li", { "data-task-id": id }, state, " ", link(pageUrl.task(id), id, { class: "mono" }), name);
  }

  async function loadDependencies(task) {
    const container = document.getElementById("dependencies");
    const ids = task.dependencies;
    if (!ids.length) {
      container.replaceChildren(el("p", { class: "muted", text: "None: the task was pending as soon as it was created." }));
      return;
    }
    const found = new Map(ids.map((id) => [id, {}]));
    try {
      for (let i = 0; i < ids.length; i += 1000) {
        const chunk = { taskIds: ids.slice(i, i + 1000) };
        for (const t of (await post("/tasks", chunk)).tasks) found.get(t.taskId).task = t.task;
        for (const s of (await post("/tasks/status", chunk)).statuses) found.get(s.taskId).status = s.status;
      }
    } catch (error) { /* the links are still worth showing */ }
    container.replaceChildren(el("p", { class: "muted", text: `The task runs once these ${ids.length} resolve (${task.requires}).` }),
      el("ul", { class: "plain", id: "dependency-list" }, ids.map((id) => taskItem(id, found.get(id)))));
  }

  async function loadDependents() {
    const container = document.getElementById("dependents");
    try {
      const tasks = await listAll(`/task/${enc(taskId)}/dependents`, "tasks");
      container.replaceChildren(tasks.length
        ? el("ul", { class: "plain", id: "dependent-list" }, tasks.map((t) => taskItem(t.status.taskId, t)))
        : el("p", { class: "muted", text: "No task depends on this one." }));
    } catch (error) {
      explain(container, error, "the dependents");
    }
  }

  async function refresh() {
    try {
      setStatus((await api(`/task/${enc(taskId)}/status`)).status);
      for (const runId of artifactRuns) loadArtifacts(runId);
      document.body.dataset.ready = "true";
    } catch (error) {
      explain(document.getElementById("runs"), error, "the status");
    }
  }

  function onMessage(frame) {
    const payload = frame.payload;
    if (payload.status && payload.status.taskId === taskId) setStatus(payload.status);
    if (exchangeName(frame) === "artifact-created") loadArtifacts(payload.runId);
  }

  async function start() {
    if (!taskId) { pageError("No task id", "The address should be /tasks/<taskId>."); return; }
    let task;
    try {
      task = await api(`/task/${enc(taskId)}`);
    } catch (error) {
      document.getElementById("live").remove();
      if (error.status === 404) pageError(`No task ${taskId}`, `The queue knows no task with this id (${error.message}).`);
      else if (error.status === 400) pageError(`Not a task id: ${taskId}`, error.message);
      else pageError(`Could not load task ${taskId}`, error.message);
      return;
    }
    skeleton(task);
    loadDependencies(task);
    loadDependents();
    new EventStream(taskBindings(`primary.${taskId}.#`, [...TASK_EXCHANGES, "artifact-created"]),
      { onReady: refresh, onMessage });
  }

  start();
})();
