// The training-run page: loss curves (train and validation, each loss term), evaluation success
// with its 95 % interval, learning rate, data-wait share, grad norm and the rollout videos. While
// the run is going (metrics.jsonl still growing, no "end" record) the page refreshes itself.
"use strict";

const state = {run: null, version: -1, charts: {}, videoUrls: new Set()};
window.bricobotViewer = state; // for tests and the curious

const REFRESH_MS = 3000;

async function refresh() {
  try {
    const run = await bv.getJSON("/api/run");
    if (run.version !== state.version) {
      state.version = run.version;
      state.run = run;
      render(run);
    }
    renderStatus(run);
    if (run.status === "running") setTimeout(refresh, REFRESH_MS);
  } catch (e) {
    bv.showProblems(bv.$("#problems"), [`could not read the run: ${e.message}`]);
    setTimeout(refresh, REFRESH_MS * 2);
  }
}

function renderStatus(run) {
  const badge = bv.$("#status");
  badge.textContent = run.status;
  badge.className = `badge ${run.status === "finished" ? "ok" : run.status}`;
}

function render(run) {
  document.title = `bricobot view · ${run.name}`;
  bv.$("#title").textContent = run.name;
  bv.$("#title").title = run.root;
  bv.showProblems(bv.$("#problems"), run.problems);
  renderFacts(run);
  renderCharts(run);
  renderVideos(run.videos);
}

function renderFacts(run) {
  const s = run.start;
  const steps = run.train.step.filter((x) => x !== null);
  const lastEval = run.eval.success_rate ? run.eval.success_rate.at(-1) : null;
  const parts = [
    s.policy, s.parameters ? `${(s.parameters / 1e6).toFixed(2)}M parameters` : null,
    s.device, `step ${steps.length ? steps.at(-1) : 0}`,
    s.batch_size ? `batch ${s.batch_size}` : null,
    run.end.steps_per_s ? `${run.end.steps_per_s.toFixed(1)} steps/s` : null,
    lastEval !== null && lastEval !== undefined ? `eval success ${(100 * lastEval).toFixed(0)} %` : null,
    `${run.checkpoints.length} checkpoint(s)`,
  ];
  bv.$("#facts").textContent = parts.filter(Boolean).join(" · ");
}

// [{label, values, steps, dash}] on one step axis (uPlot.join aligns train and validation steps).
function joined(lines) {
  const tables = lines.map((l) => [l.steps, l.values]);
  return uPlot.join(tables);
}

function lossLines(run, terms) {
  const lines = [];
  for (const [key, values] of Object.entries(run.train)) {
    if (key === "step" || !key.endsWith("loss") || terms !== (key !== "loss")) continue;
    lines.push({label: `train ${key}`, steps: run.train.step, values: bv.positive(values)});
  }
  for (const [key, values] of Object.entries(run.val)) {
    if (key === "step" || terms !== (key !== "val_loss")) continue;
    lines.push({label: `validation ${key.replace(/^val_/, "")}`, steps: run.val.step,
      values: bv.positive(values), dash: [6, 4], points: true});
  }
  return lines;
}

function draw(id, title, lines, options) {
  const box = bv.$(`#${id}`);
  if (state.charts[id]) bv.destroyChart(state.charts[id]);
  delete state.charts[id];
  box.replaceChildren();
  lines = lines.filter((l) => l.values.some((v) => v !== null));
  if (!lines.length) { box.hidden = true; return; }
  box.hidden = false;
  const series = lines.map((l, i) => ({label: l.label, dash: l.dash, points: l.points,
    color: l.color || bv.COLORS[i % bv.COLORS.length]}));
  state.charts[id] = bv.chart(box, {title, series, data: joined(lines), height: 230,
    xLabel: "step", ...options});
}

function renderCharts(run) {
  draw("chart-loss", "loss", lossLines(run, false), {logY: true});
  draw("chart-terms", "loss terms", lossLines(run, true), {logY: true});
  renderEval(run.eval);
  const lr = Object.keys(run.train).filter((k) => k.startsWith("lr/"));
  draw("chart-lr", "learning rate", lr.map((k) => ({label: k, steps: run.train.step,
    values: run.train[k]})));
  const wait = (run.train.data_wait_share || []).map((v) => (v === null ? null : 100 * v));
  draw("chart-wait", "data wait (% of step time)", [{label: "waiting for data %",
    steps: run.train.step, values: wait}], {yRange: [0, 100]});
  draw("chart-grad", "gradient norm", [{label: "grad_norm", steps: run.train.step,
    values: run.train.grad_norm || []}]);
}

function renderEval(ev) {
  const steps = ev.step || [];
  const pct = (key) => (ev[key] || []).map((v) => (v === null ? null : 100 * v));
  const lines = [
    {label: "success %", steps, values: pct("success_rate"), color: bv.COLORS[2], points: true},
    {label: "95 % high", steps, values: pct("ci_high"), color: "#9ccf9c", dash: [3, 3]},
    {label: "95 % low", steps, values: pct("ci_low"), color: "#9ccf9c", dash: [3, 3]},
  ];
  draw("chart-eval", "evaluation success (95 % Wilson interval)", lines, {
    yRange: [0, 100], bands: [{series: [2, 3], fill: "rgba(44,160,44,0.15)"}],
  });
}

function renderVideos(videos) {
  const box = bv.$("#videos");
  if (videos.length && !state.videoUrls.size) box.replaceChildren();
  for (const v of videos) {
    if (state.videoUrls.has(v.url)) continue;
    state.videoUrls.add(v.url);
    const el = bv.el("video", {src: v.url, controls: true, muted: true, loop: true,
      preload: "metadata"});
    const tile = bv.el("figure", {class: "video-tile"}, el,
      bv.el("figcaption", {}, v.step !== null ? `step ${v.step}: ` : "", v.name));
    const cannot = "this browser cannot decode this video (H.264): open it in Chrome, Firefox " +
      "or a video player";
    el.addEventListener("error", () => tile.append(bv.el("div", {class: "problem"}, cannot)));
    bv.warnIfBlank(el, tile, cannot);
    box.append(tile);
  }
}

refresh();
