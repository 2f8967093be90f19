// The home page, <rootUrl>/ (protocol.md §18.2): what this queue is, a box that opens a task,
// a task group or a task queue by id, and the task queues with their pending and claimed
// counts, read again when the event stream (§11.3) says tasks moved.
"use strict";
(() => {
  const main = document.querySelector("main");
  document.getElementById("crumb").append(new URL(ROOT).host);
  document.title = "infrax queue";

  async function open(event) {
    event.preventDefault();
    const id = document.getElementById("open-id").value.trim();
    const said = document.getElementById("open-error");
    said.textContent = "";
    if (!id) return;
    if (id.includes("/")) { location.href = pageUrl.queue(id); return; }
    try {
      await api(`/task/${enc(id)}`);
      location.href = pageUrl.task(id);
      return;
    } catch (error) {
      if (error.status === 400) { said.textContent = `Not a task, task group or task queue id: ${id} (${error.message})`; return; }
      if (error.status !== 404 && error.status !== 403) { said.textContent = error.message; return; }
    }
    try {
      await api(`/task-group/${enc(id)}`);
      location.href = pageUrl.group(id);
    } catch (error) {
      said.textContent = error.status === 404 ? `No task or task group ${id} on this queue.` : error.message;
    }
  }

  async function refresh() {
    const container = document.getElementById("queues");
    let queues;
    try {
      queues = await listAll("/task-queues", "taskQueues");
    } catch (error) {
      explain(container, error, "the task queues");
      return;
    }
    if (!queues.length) {
      container.replaceChildren(el("p", { class: "muted", text: "No task queue yet: a task queue appears once a worker asks it for work." }));
      document.body.dataset.ready = "true";
      return;
    }
    const counts = new Map();
    try {
      for (let i = 0; i < queues.length; i += 1000) {
        const ids = queues.slice(i, i + 1000).map((tq) => tq.taskQueueId);
        for (const c of (await post("/task-queues/counts", { taskQueueIds: ids })).taskQueueCounts) counts.set(c.taskQueueId, c);
      }
    } catch (error) {
      explain(document.getElementById("queues-notice"), error, "the counts");
    }
    const rows = queues.map((tq) => {
      const c = counts.get(tq.taskQueueId);
      return el("tr", { "data-queue": tq.taskQueueId },
        el("td", {}, link(pageUrl.queue(tq.taskQueueId), tq.taskQueueId, { class: "mono" })),
        el("td", { class: "pending", text: c ? c.pendingTasks : "?" }),
        el("td", { class: "claimed", text: c ? c.claimedTasks : "?" }),
        el("td", { text: formatTime(tq.lastDateActive) }));
    });
    container.replaceChildren(el("table", { id: "queues-table" },
      el("thead", {}, el("tr", {}, ["task queue", "pending", "claimed", "last active"].map((h) => el("th", { text: h })))),
      el("tbody", {}, rows)));
    document.body.dataset.ready = "true";
  }

  main.replaceChildren(
    el("h1", { text: "infrax queue" }),
    el("p", {}, "This queue holds tasks and hands them to workers, speaking Taskcluster's Queue v1 API at ",
      el("code", { text: `${API}/` }), " (", link(`${API}/openapi.json`, "OpenAPI document"),
      "). Workers claim tasks from task queues, run them in a container or a process, stream their logs and upload their artifacts. ",
      "These pages read the same API anonymously and follow the queue's event stream."),
    el("form", { class: "open", id: "open-form", onsubmit: open },
      el("input", { id: "open-id", placeholder: "a task id, task group id, or provisionerId/workerType", autofocus: "" }),
      el("button", { type: "submit", text: "Open" })),
    el("p", { id: "open-error", role: "alert" }),
    el("h2", { text: "Task queues" }),
    el("div", { id: "queues-notice" }),
    el("div", { id: "queues" }, el("p", { class: "muted", text: "loading…" })));
  const once = serialized(refresh);
  const moves = ["task-pending", "task-running", "task-completed", "task-failed", "task-exception"];
  new EventStream(taskBindings("#", moves), { onReady: once, onMessage: debounce(once, 1000) });
})();
