// ANSI SGR colours and styles as spans; other escape sequences are dropped. Chunks may split
// an escape sequence anywhere: the unfinished tail waits for the next chunk.
"use strict";
const ANSI_PALETTE = [
  [0, 0, 0], [205, 49, 49], [13, 188, 121], [229, 229, 16],
  [36, 114, 200], [188, 63, 188], [17, 168, 205], [229, 229, 229],
  [102, 102, 102], [241, 76, 76], [35, 209, 139], [245, 245, 67],
  [59, 142, 234], [214, 112, 214], [41, 184, 219], [255, 255, 255],
];

function ansi256(n) {
  if (n < 16) return ANSI_PALETTE[n];
  if (n >= 232) { const v = 8 + (n - 232) * 10; return [v, v, v]; }
  const i = n - 16, steps = [0, 95, 135, 175, 215, 255];
  return [steps[Math.floor(i / 36)], steps[Math.floor(i / 6) % 6], steps[i % 6]];
}

class AnsiRenderer {
  constructor(element) {
    this.element = element;
    this.pending = "";
    this.reset();
  }

  reset() {
    this.fg = null; this.bg = null;
    this.bold = false; this.dim = false; this.italic = false; this.underline = false;
  }

  write(text) {
    text = this.pending + text;
    this.pending = "";
    const escape = /\x1b\[([0-9;?]*)([@-~])|\x1b[^[]/g;
    let last = 0, match;
    while ((match = escape.exec(text)) !== null) {
      this.emit(text.slice(last, match.index));
      if (match[2] === "m") this.sgr(match[1]);
      last = escape.lastIndex;
    }
    let rest = text.slice(last);
    const at = rest.lastIndexOf("\x1b");
    if (at !== -1) { this.pending = rest.slice(at); rest = rest.slice(0, at); }
    this.emit(rest);
  }

  emit(text) {
    text = text.replace(/\r(?!\n)/g, "");
    if (!text) return;
    const span = document.createElement("span");
    span.textContent = text;
    if (this.fg) span.style.color = `rgb(${this.fg.join(", ")})`;
    if (this.bg) span.style.backgroundColor = `rgb(${this.bg.join(", ")})`;
    if (this.bold) span.classList.add("ansi-bold");
    if (this.dim) span.classList.add("ansi-dim");
    if (this.italic) span.classList.add("ansi-italic");
    if (this.underline) span.classList.add("ansi-underline");
    this.element.appendChild(span);
  }

  sgr(parameters) {
    const codes = parameters === "" ? [0] : parameters.split(";").map((c) => Number(c) || 0);
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i];
      if (code === 0) this.reset();
      else if (code === 1) this.bold = true;
      else if (code === 2) this.dim = true;
      else if (code === 3) this.italic = true;
      else if (code === 4) this.underline = true;
      else if (code === 22) { this.bold = false; this.dim = false; }
      else if (code === 23) this.italic = false;
      else if (code === 24) this.underline = false;
      else if (code >= 30 && code <= 37) this.fg = ANSI_PALETTE[code - 30];
      else if (code >= 90 && code <= 97) this.fg = ANSI_PALETTE[code - 90 + 8];
      else if (code === 39) this.fg = null;
      else if (code >= 40 && code <= 47) this.bg = ANSI_PALETTE[code - 40];
      else if (code >= 100 && code <= 107) this.bg = ANSI_PALETTE[code - 100 + 8];
      else if (code === 49) this.bg = null;
      else if (code === 38 || code === 48) {
        let colour = null;
        if (codes[i + 1] === 5) { colour = ansi256(codes[i + 2] & 255); i += 2; }
        else if (codes[i + 1] === 2) { colour = codes.slice(i + 2, i + 5).map((v) => v & 255); i += 4; }
        if (code === 38) this.fg = colour; else this.bg = colour;
      }
    }
  }
}
