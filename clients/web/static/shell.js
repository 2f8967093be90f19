// The shell page (protocol.md §18.2): xterm.js attached to socketUrl with generic-worker's v2
// frames: 0x01 + bytes for input, 0x02 + rows + cols (uint16, little-endian) for a resize;
// what arrives is the terminal's raw output.
"use strict";
(() => {
  const params = new URLSearchParams(location.search);
  const stateElement = document.getElementById("state");
  const encoder = new TextEncoder();

  function state(name, text) {
    stateElement.dataset.state = name;
    stateElement.textContent = text;
  }

  const socketUrl = params.get("socketUrl");
  if (params.get("v") !== "2" || !socketUrl) {
    state("error", "this page needs v=2 and a socketUrl");
    return;
  }
  document.getElementById("title").textContent =
    `shell in task ${params.get("taskId") || "?"} run ${params.get("runId") || "?"}`;

  const terminal = new Terminal({ cursorBlink: true, scrollback: 5000, fontSize: 14 });
  const fit = new FitAddon.FitAddon();
  terminal.loadAddon(fit);
  terminal.open(document.getElementById("terminal"));
  fit.fit();
  window.infraxTerminal = terminal;

  const socket = new WebSocket(socketUrl);
  socket.binaryType = "arraybuffer";

  function send(kind, body) {
    if (socket.readyState !== WebSocket.OPEN) return;
    const frame = new Uint8Array(body.length + 1);
    frame[0] = kind;
    frame.set(body, 1);
    socket.send(frame);
  }

  function resize(rows, cols) {
    const body = new Uint8Array(4);
    const view = new DataView(body.buffer);
    view.setUint16(0, rows, true);
    view.setUint16(2, cols, true);
    send(0x02, body);
  }

  socket.onopen = () => {
    state("open", "connected");
    resize(terminal.rows, terminal.cols);
    terminal.focus();
  };
  socket.onmessage = (event) => terminal.write(new Uint8Array(event.data));
  socket.onclose = (event) => {
    state("closed", `session closed (${event.code}${event.reason ? ": " + event.reason : ""})`);
    terminal.write("\r\n\x1b[2m[session closed]\x1b[0m\r\n");
  };
  terminal.onData((data) => send(0x01, encoder.encode(data)));
  terminal.onBinary((data) => send(0x01, Uint8Array.from(data, (c) => c.charCodeAt(0) & 255)));
  terminal.onResize(({ rows, cols }) => resize(rows, cols));
  window.addEventListener("resize", () => fit.fit());
})();
