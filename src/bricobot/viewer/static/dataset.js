// The dataset page: episode list with filters and validate findings; one episode's synced videos,
// per-joint plots with a cursor that follows the video, loop timing; bad-episode marks exported as
// the `bricobot dataset edit` command that would drop them (nothing is written by the page).
"use strict";

const state = {
  index: null, filtered: [], current: null, episode: null, player: null,
  findings: {}, validation: "idle", bad: new Set(), charts: [], jointCharts: [],
};
window.bricobotViewer = state; // for tests and the curious

const $ = bv.$;

async function init() {
  state.index = await bv.getJSON("/api/index");
  loadBad();
  renderHeader();
  bv.showProblems($("#problems"), state.index.problems);
  fillTaskFilter();
  applyFilters();
  bindControls();
  const wanted = Number(new URLSearchParams(location.hash.slice(1)).get("episode"));
  const first = state.index.episodes.some((e) => e.index === wanted) ? wanted
    : (state.filtered[0] || {}).index;
  if (first !== undefined) await openEpisode(first);
  if (state.index.episodes.length) pollValidation();
}

function renderHeader() {
  const ix = state.index;
  document.title = `bricobot view · ${ix.name}`;
  $("#title").textContent = ix.name;
  $("#title").title = ix.root;
  if (ix.fps === undefined) return;
  const seconds = ix.total_frames / ix.fps;
  const span = seconds < 120 ? `${seconds.toFixed(1)} s` : `${(seconds / 60).toFixed(1)} min`;
  $("#facts").textContent = `${ix.episodes.length} episodes · ${ix.total_frames} frames ` +
    `(${span}) · ${ix.fps} fps · ${ix.robot_type} · ${ix.cameras.length} camera(s) · ` +
    `${ix.version}`;
}

function fillTaskFilter() {
  for (const task of state.index.tasks || []) {
    $("#filter-task").append(bv.el("option", {value: task}, task));
  }
}

function findingsOf(index) {
  return state.findings[String(index)] || {errors: [], notes: []};
}

function applyFilters() {
  const text = $("#filter-text").value.trim().toLowerCase();
  const task = $("#filter-task").value;
  const withFindings = $("#filter-findings").checked;
  const onlyBad = $("#filter-bad").checked;
  state.filtered = state.index.episodes.filter((ep) => {
    if (task && !ep.tasks.includes(task)) return false;
    if (onlyBad && !state.bad.has(ep.index)) return false;
    const f = findingsOf(ep.index);
    if (withFindings && !ep.drifted && !f.errors.length && !f.notes.length) return false;
    return !text || String(ep.index) === text || ep.tasks.join(" ").toLowerCase().includes(text);
  });
  renderList();
}

function renderList() {
  const rows = state.filtered.map((ep) => {
    const f = findingsOf(ep.index);
    const tags = [];
    if (f.errors.length) tags.push(bv.el("span", {class: "tag error"}, `${f.errors.length} error`));
    if (ep.drifted) tags.push(bv.el("span", {class: "tag warn"}, "drift"));
    if (f.notes.some((n) => n.includes("idle"))) tags.push(bv.el("span", {class: "tag"}, "idle"));
    if (f.notes.some((n) => n.includes("jump"))) tags.push(bv.el("span", {class: "tag"}, "jump"));
    if (state.bad.has(ep.index)) tags.push(bv.el("span", {class: "tag bad"}, "bad"));
    return bv.el("tr", {
      dataset: {index: ep.index},
      class: ep.index === state.current ? "current" : null,
      onclick: () => openEpisode(ep.index),
    }, bv.el("td", {}, ep.index), bv.el("td", {class: "task"}, ep.tasks.join(", ")),
    bv.el("td", {}, ep.length), bv.el("td", {}, ep.recorded_at || "–"), bv.el("td", {}, tags));
  });
  $("#episode-list tbody").replaceChildren(...rows);
  const total = state.index.episodes.length;
  $("#episode-count").textContent = state.filtered.length === total ? `${total} episodes`
    : `${state.filtered.length} of ${total} episodes`;
}

async function openEpisode(index) {
  const request = (state.request = (state.request || 0) + 1);
  const episode = await bv.getJSON(`/api/episode/${index}`);
  if (request !== state.request) return; // a later key press asked for another episode
  if (state.player) state.player.destroy();
  state.current = index;
  state.episode = episode;
  history.replaceState(null, "", `#episode=${index}`);
  for (const row of document.querySelectorAll("#episode-list tbody tr")) {
    row.classList.toggle("current", Number(row.dataset.index) === index);
  }
  const row = document.querySelector(`#episode-list tr[data-index="${index}"]`);
  if (row) row.scrollIntoView({block: "nearest"});
  $("#episode-title").textContent = `episode ${index} · ${episode.tasks.join(", ")} · ` +
    `${episode.length} frames (${episode.duration_s} s)`;
  bv.showProblems($("#episode-problems"), episode.problems);
  renderFindings();
  renderBadButton();
  const videos = renderVideos(episode);
  state.player = new Player(videos, episode.length / episode.fps, episode.fps, onTime);
  state.player.setRate(Number($("#speed").value));
  renderPlots(episode);
}

function renderVideos(episode) {
  const videos = [];
  const tiles = episode.videos.map((v) => {
    const tile = bv.el("figure", {class: "video-tile"}, bv.el("figcaption", {}, v.camera));
    if (v.url) {
      // #t=from,to: this episode's span of a file that may hold several episodes.
      const el = bv.el("video", {src: `${v.url}#t=${v.from_s},${v.to_s}`, muted: true, playsinline: true,
        preload: "auto", "data-camera": v.camera});
      el.muted = true;
      const cannot = `this browser cannot decode ${v.file} (its codec?)`;
      el.addEventListener("error", () => tile.append(bv.el("div", {class: "problem"}, cannot)));
      tile.append(el);
      videos.push({el, from: v.from_s, to: v.to_s});
    } else {
      tile.append(bv.el("div", {class: "problem"}, `no video: ${v.file || v.key}`));
    }
    return tile;
  });
  for (const key of episode.image_cameras || []) {
    tiles.push(bv.el("figure", {class: "video-tile"}, bv.el("figcaption", {}, key),
      bv.el("div", {class: "hint"}, "stored as images in the data files: not shown here")));
  }
  $("#videos").replaceChildren(...tiles);
  return videos;
}

function renderFindings() {
  const f = findingsOf(state.current);
  const items = [
    ...f.errors.map((t) => bv.el("li", {class: "error"}, t)),
    ...f.notes.map((t) => bv.el("li", {class: "note"}, t)),
  ];
  const ep = state.episode;
  if (ep && ep.drifted) {
    items.push(bv.el("li", {class: "note"}, `timing drifted: worst period error ` +
      `${ep.max_period_error_ms} ms, ${ep.overruns} overrun(s)`));
  }
  if (state.validation === "running") items.push(bv.el("li", {class: "hint"}, "validating…"));
  $("#findings").replaceChildren(...items);
}

function clearCharts() {
  for (const plot of state.charts) bv.destroyChart(plot);
  state.charts = [];
  state.jointCharts = [];
}

function renderPlots(episode) {
  clearCharts();
  $("#joint-plots").replaceChildren();
  $("#timing-plot").replaceChildren();
  if (!episode.t) return;
  if (episode.timing) renderTiming(episode);
  else $("#timing-plot").append(bv.el("div", {class: "hint"}, "no loop timing recorded"));
  const stateNames = state.index.state_names || [];
  const actionNames = state.index.action_names || [];
  const names = [...stateNames, ...actionNames.filter((n) => !stateNames.includes(n))];
  for (const name of names) {
    const s = stateNames.indexOf(name);
    const a = actionNames.indexOf(name);
    const series = [];
    const data = [episode.t];
    if (s >= 0 && episode.state.length) {
      series.push({label: "observation.state", color: bv.COLORS[0]});
      data.push(episode.state[s]);
    }
    if (a >= 0 && episode.action.length) {
      series.push({label: "action", color: bv.COLORS[1], dash: [4, 3]});
      data.push(episode.action[a]);
    }
    const box = bv.el("div", {class: "joint-plot", "data-joint": name});
    $("#joint-plots").append(box);
    const plot = addChart(box, {title: name, series, data, height: 170, xLabel: "time (s)"});
    state.jointCharts.push(plot);
  }
}

function renderTiming(episode) {
  const timing = episode.timing;
  const series = [{label: "period error (ms)"}];
  const data = [episode.t, timing.period_error_ms];
  for (const [name, ages] of Object.entries(timing.frame_age_ms)) {
    series.push({label: `${name} age (ms)`});
    data.push(ages);
  }
  const box = bv.el("div", {class: "timing"});
  $("#timing-plot").append(box);
  addChart(box, {title: "loop timing", series, data, height: 160, xLabel: "time (s)", yLabel: "ms"});
}

// A chart with a cursor line that follows the player, and click-to-seek.
function addChart(box, options) {
  const plot = bv.chart(box, options);
  const line = bv.el("div", {class: "time-cursor"});
  plot.over.append(line);
  plot.timeCursor = line;
  plot.over.addEventListener("click", (e) => {
    if (state.player) state.player.seek(plot.posToVal(e.offsetX, "x"));
  });
  state.charts.push(plot);
  return plot;
}

function onTime(t, player) {
  for (const plot of state.charts) plot.timeCursor.style.left = `${plot.valToPos(t, "x")}px`;
  const frames = state.episode ? state.episode.length : 0;
  $("#clock").textContent = `${t.toFixed(3)} s · frame ${player.frame} / ${frames}`;
  $("#play").textContent = player.playing ? "pause" : "play";
}

function move(delta) {
  const list = state.filtered;
  if (!list.length) return;
  const at = list.findIndex((e) => e.index === state.current);
  const next = at < 0 ? 0 : Math.max(0, Math.min(list.length - 1, at + delta));
  if (list[next].index !== state.current) openEpisode(list[next].index);
}

// -- bad marks (kept in this browser's storage; exported as a command) --------------------------
function badKey() { return `bricobot-view-bad:${state.index.root}`; }

function loadBad() {
  try {
    state.bad = new Set(JSON.parse(localStorage.getItem(badKey()) || "[]"));
  } catch (e) {
    state.bad = new Set();
  }
  renderBadPanel();
}

function toggleBad(index) {
  if (index === null) return;
  if (state.bad.has(index)) state.bad.delete(index); else state.bad.add(index);
  try { localStorage.setItem(badKey(), JSON.stringify([...state.bad])); } catch (e) { /* ok */ }
  renderBadPanel();
  renderBadButton();
  renderList();
}

function renderBadButton() {
  $("#mark-bad").textContent = state.bad.has(state.current) ? "unmark bad" : "mark bad";
}

async function renderBadPanel() {
  const ids = [...state.bad].sort((a, b) => a - b);
  $("#bad-list").textContent = ids.length ? ids.join(", ") : "none";
  $("#copy-command").disabled = !ids.length;
  if (!ids.length) { $("#bad-command").textContent = ""; return; }
  const answer = await bv.getJSON(`/api/delete-command?episodes=${ids.join(",")}`);
  $("#bad-command").textContent = answer.command;
}

// -- validation findings (validate runs once on the server, in the background) ----------------
async function pollValidation() {
  const v = await bv.getJSON("/api/validation");
  state.validation = v.status;
  const badge = $("#validation-status");
  if (v.status === "running" || v.status === "idle") {
    badge.textContent = "validating…";
    setTimeout(pollValidation, 1500);
    return;
  }
  state.findings = (v.episodes) || {};
  const errors = Object.values(state.findings).reduce((n, f) => n + f.errors.length, 0)
    + ((v.general || {}).errors || []).length;
  const notes = Object.values(state.findings).reduce((n, f) => n + f.notes.length, 0)
    + ((v.general || {}).notes || []).length;
  badge.textContent = v.status === "failed" ? "validate failed"
    : `validate: ${errors} error(s), ${notes} note(s)`;
  badge.className = `badge ${errors || v.status === "failed" ? "error" : "ok"}`;
  badge.title = v.summary || "";
  const general = (v.general || {}).errors || [];
  if (general.length) {
    bv.showProblems($("#problems"), [...state.index.problems, ...general.map((message) => ({
      message, fix: [`bricobot dataset validate root=${state.index.root}`,
        `bricobot dataset repair root=${state.index.root}`]}))]);
  }
  applyFilters();
  renderFindings();
}

// -- controls -----------------------------------------------------------------------------------
function bindControls() {
  for (const id of ["#filter-text", "#filter-task", "#filter-findings", "#filter-bad"]) {
    $(id).addEventListener("input", applyFilters);
  }
  $("#play").addEventListener("click", () => state.player && state.player.toggle());
  $("#step-back").addEventListener("click", () => state.player && state.player.step(-1));
  $("#step-forward").addEventListener("click", () => state.player && state.player.step(1));
  $("#prev-episode").addEventListener("click", () => move(-1));
  $("#next-episode").addEventListener("click", () => move(1));
  $("#mark-bad").addEventListener("click", () => toggleBad(state.current));
  $("#speed").addEventListener("change", () => state.player
    && state.player.setRate(Number($("#speed").value)));
  $("#help-button").addEventListener("click", () => { $("#help").hidden = !$("#help").hidden; });
  $("#copy-command").addEventListener("click", () => {
    navigator.clipboard.writeText($("#bad-command").textContent).catch(() => {});
  });
  document.addEventListener("keydown", onKey);
}

const KEYS = {
  j: () => move(1), ArrowDown: () => move(1), k: () => move(-1), ArrowUp: () => move(-1),
  " ": () => state.player && state.player.toggle(),
  ArrowRight: () => state.player && state.player.step(1), ".": () => state.player && state.player.step(1),
  ArrowLeft: () => state.player && state.player.step(-1), ",": () => state.player && state.player.step(-1),
  b: () => toggleBad(state.current), "?": () => { $("#help").hidden = !$("#help").hidden; },
};

function onKey(e) {
  if (["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName) || e.ctrlKey || e.metaKey) return;
  const action = KEYS[e.key];
  if (!action) return;
  e.preventDefault();
  action();
}

init().catch((e) => bv.showProblems($("#problems"), [`the page failed to load: ${e.message}`]));
