// Shared helpers of the bricobot viewer pages: DOM building, JSON fetching, uPlot charts, problems.
"use strict";

const bv = {};

bv.COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
  "#17becf", "#7f7f7f", "#bcbd22"];

bv.$ = (selector, root) => (root || document).querySelector(selector);

// el("div", {class: "x", onclick: f}, "text", childNode) → an element.
bv.el = (tag, attrs, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
};

bv.getJSON = async (url) => {
  const response = await fetch(url, {cache: "no-store"});
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
};

// Problems as {message, file, fix: [commands]}: what is wrong, where, and what to run.
bv.showProblems = (container, problems) => {
  container.replaceChildren();
  for (const p of problems || []) {
    const item = typeof p === "string" ? {message: p, fix: []} : p;
    container.append(bv.el("div", {class: "problem"},
      bv.el("div", {class: "problem-message"}, item.message),
      item.file ? bv.el("div", {}, "file: ", bv.el("code", {}, item.file)) : null,
      (item.fix || []).length ? bv.el("div", {}, "fix: ",
        item.fix.map((cmd) => bv.el("code", {class: "command"}, cmd))) : null));
  }
};

// A uPlot chart filling `target`'s width. series: [{label, color?, dash?, points?}], data:
// [x, y1, y2, ...]. Options: title, height, logY, yRange, bands, xLabel, yLabel.
bv.chart = (target, {title, series, data, height, logY, yRange, bands, xLabel, yLabel}) => {
  const width = Math.max(240, target.clientWidth || 480);
  const opts = {
    title, width, height: height || 180, bands,
    scales: {x: {time: false}, y: logY ? {distr: 3} : (yRange ? {range: yRange} : {})},
    axes: [{label: xLabel}, {label: yLabel, size: 64, values: (u, ticks) => ticks.map(bv.tick)}],
    cursor: {drag: {x: false, y: false}, sync: {key: "bricobot"}},
    series: [{label: xLabel || "x"}, ...series.map((s, i) => ({
      label: s.label,
      stroke: s.color || bv.COLORS[i % bv.COLORS.length],
      width: s.width || 1.5,
      dash: s.dash,
      spanGaps: true,
      points: {show: s.points === undefined ? "auto" : s.points},
    }))],
  };
  const plot = new uPlot(opts, data, target);
  bv.charts.add(plot);
  return plot;
};

bv.charts = new Set();
bv.destroyChart = (plot) => { bv.charts.delete(plot); plot.destroy(); };
window.addEventListener("resize", () => {
  for (const plot of bv.charts) {
    const width = plot.root.parentElement.clientWidth;
    if (width) plot.setSize({width, height: plot.height});
  }
});

// Some browsers accept a codec but draw only black (Debian's Chromium with H.264): say so under
// the video instead of leaving the user to wonder.
bv.warnIfBlank = (video, tile, message) => {
  video.addEventListener("loadeddata", () => {
    const canvas = document.createElement("canvas");
    canvas.width = Math.min(64, video.videoWidth);
    canvas.height = Math.min(64, video.videoHeight);
    if (!canvas.width || !canvas.height) return;
    const g = canvas.getContext("2d", {willReadFrequently: true});
    g.drawImage(video, 0, 0, canvas.width, canvas.height);
    const pixels = g.getImageData(0, 0, canvas.width, canvas.height).data;
    if (pixels.every((v, i) => i % 4 === 3 || v === 0)) {
      tile.append(bv.el("div", {class: "problem"}, message));
    }
  }, {once: true});
};

// Positive values only, for log-scaled charts (null elsewhere).
bv.positive = (values) => values.map((v) => (v !== null && v > 0 ? v : null));

// Axis tick labels that stay readable for learning rates (1e-5) as for joint angles (120).
bv.tick = (v) => {
  if (v === null || v === undefined) return "";
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a < 1e-3 || a >= 1e5) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
};

bv.fmt = (value, digits) => (value === null || value === undefined ? "–"
  : Number(value).toPrecision(digits || 3));
