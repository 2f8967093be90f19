// The task-queue page, /queues/<provisionerId>/<workerType> (protocol.md §18.2): pending and
// claimed counts, the workers and what each runs now, the claimed and pending tasks; read
// again whenever the event stream (§11.3) says a task of the queue changed.
"use strict";
(() => {
  const queueId = idFromPath("queues");
  const [provisionerId, workerType] = queueId.split("/");
  const main = document.querySelector("main");
  const q = enc(queueId);

  document.getElementById("crumb").append(`task queue ${queueId}`);

  function taskLink(taskId, runId) {
    return el("span", {}, link(pageUrl.task(taskId), taskId, { class: "mono" }), runId !== undefined ? ` run ${runId}` : "");
  }

  function table(id, headings, rows) {
    return el("table", { id }, el("thead", {}, el("tr", {}, headings.map((h) => el("th", { text: h })))),
      el("tbody", {}, rows));
  }

  async function counts() {
    const c = await api(`/task-queues/${q}/counts`);
    document.getElementById("pending-count").textContent = c.pendingTasks;
    document.getElementById("claimed-count").textContent = c.claimedTasks;
  }

  async function about() {
    const container = document.getElementById("about");
    try {
      const info = await api(`/task-queues/${q}`);
      container.replaceChildren(`Last active ${formatTime(info.lastDateActive)}; expires ${formatTime(info.expires)}.`);
    } catch (error) {
      if (error.status === 404) container.replaceChildren("No worker has asked this queue for work yet; tasks wait here until one does.");
      else explain(container, error, "the task queue");
    }
  }

  async function claimedTasks() {
    return listAll(`/task-queues/${q}/claimed`, "tasks");
  }

  function drawClaimed(claimed) {
    const rows = claimed.map((c) => el("tr", { "data-task-id": c.taskId },
      el("td", {}, taskLink(c.taskId, c.runId)), el("td", { text: c.task.metadata.name }),
      el("td", { class: "mono", text: `${c.workerGroup}/${c.workerId}` }), el("td", { text: formatTime(c.claimed) })));
    document.getElementById("claimed").replaceChildren(claimed.length
      ? table("claimed-table", ["task", "name", "worker", "claimed"], rows)
      : el("p", { class: "muted", text: "No task is running." }));
  }

  async function workers(claimed) {
    const container = document.getElementById("workers");
    let list;
    try {
      list = await listAll(`/provisioners/${enc(provisionerId)}/worker-types/${enc(workerType)}/workers`, "workers");
    } catch (error) {
      explain(container, error, "the workers");
      return;
    }
    const running = new Map();
    for (const c of claimed || []) {
      const key = `${c.workerGroup}/${c.workerId}`;
      if (!running.has(key)) running.set(key, []);
      running.get(key).push(c);
    }
    if (!list.length) {
      container.replaceChildren(el("p", { class: "muted", text: "No worker has claimed from this queue yet." }));
      return;
    }
    const rows = list.map((w) => {
      const key = `${w.workerGroup}/${w.workerId}`;
      const now = running.get(key) || [];
      const doing = now.length ? now.map((c) => taskLink(c.taskId, c.runId))
        : claimed === null ? el("span", { class: "muted", text: "unknown" })
        : [el("span", { class: "muted", text: "idle" }),
           w.latestTask ? el("span", { class: "muted" }, "; last ", taskLink(w.latestTask.taskId, w.latestTask.runId)) : null];
      return el("tr", { "data-worker": key },
        el("td", { class: "mono", text: key }),
        el("td", { class: "now" }, doing),
        el("td", { text: formatTime(w.firstClaim) }),
        el("td", { text: formatTime(w.lastDateActive) }),
        el("td", { text: w.quarantineUntil ? `until ${formatTime(w.quarantineUntil)}` : "" }));
    });
    container.replaceChildren(table("workers-table", ["worker", "running now", "first claim", "last active", "quarantined"], rows));
  }

  async function pending() {
    const container = document.getElementById("pending");
    try {
      const page = await api(`/task-queues/${q}/pending?limit=100`);
      const rows = page.tasks.map((p) => el("tr", { "data-task-id": p.taskId },
        el("td", {}, taskLink(p.taskId, p.runId)), el("td", { text: p.task.metadata.name }),
        el("td", { text: p.task.priority }), el("td", { text: formatTime(p.inserted) })));
      container.replaceChildren(rows.length
        ? table("pending-table", ["task", "name", "priority", "waiting since"], rows)
        : el("p", { class: "muted", text: "No task is waiting." }),
        page.continuationToken ? el("p", { class: "muted", text: "The first 100, in claim order." }) : "");
    } catch (error) {
      explain(container, error, "the pending tasks");
    }
  }

  async function refresh() {
    try {
      await counts();
    } catch (error) {
      explain(document.getElementById("counts-notice"), error, "the counts");
    }
    let claimed = null;
    try {
      claimed = await claimedTasks();
      drawClaimed(claimed);
    } catch (error) {
      explain(document.getElementById("claimed"), error, "the running tasks");
    }
    await Promise.all([workers(claimed), pending(), about()]);
    document.body.dataset.ready = "true";
  }

  function start() {
    if (!provisionerId || !workerType || queueId.split("/").length !== 2) {
      document.getElementById("live").remove();
      pageError(`Not a task queue id: ${queueId}`, "A task queue id is <provisionerId>/<workerType>.");
      return;
    }
    document.title = `${queueId} · infrax`;
    main.replaceChildren(
      el("h1", {}, "Task queue ", el("code", { text: queueId })),
      el("p", { class: "muted", id: "about" }),
      el("div", { class: "counts" },
        el("div", { class: "count" }, el("b", { id: "pending-count", text: "…" }), "pending"),
        el("div", { class: "count" }, el("b", { id: "claimed-count", text: "…" }), "claimed (running)")),
      el("div", { id: "counts-notice" }),
      el("h2", { text: "Workers" }), el("div", { id: "workers" }),
      el("h2", { text: "Running" }), el("div", { id: "claimed" }),
      el("h2", { text: "Pending" }), el("div", { id: "pending" }));
    const once = serialized(refresh);
    new EventStream(taskBindings(`primary.*.*.*.*.${provisionerId}.${workerType}.#`, TASK_EXCHANGES),
      { onReady: once, onMessage: debounce(once, 300) });
  }

  start();
})();
