// The page of `mixformerv2 app`: pick a clip, set boxes on its first frame, track, show the results.
// Talks only to the server it came from (see mixformerv2/app/server.py for the API); no other asset is fetched.
"use strict";

const COLORS = ["#00dc00", "#ff8c00", "#0050ff", "#c800c8", "#dcdc00", "#00ffff", "#ff5050"];
const state = { info: null, clip: null, image: null, boxes: [], pending: null, drag: null,
                weights: null, groundtruth: null, polling: null };
const $ = (id) => document.getElementById(id);

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function api(path, options) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new Error("the app does not answer (was it stopped?)");
  }
  let data = null;
  try { data = await response.json(); } catch (err) { data = null; }
  if (!response.ok) {
    throw new Error((data && data.error) || `the app answered ${response.status}`);
  }
  return data;
}

async function upload(kind, file) {
  const limit = state.info.max_upload_mb * 1e6;
  if (file.size > limit) {
    throw new Error(`${file.name} is ${(file.size / 1e6).toFixed(1)} MB; this app accepts files up to ` +
                    `${state.info.max_upload_mb} MB (start it with --max-upload-mb to change that)`);
  }
  return api(`/api/upload?kind=${kind}&name=${encodeURIComponent(file.name)}`, { method: "POST", body: file });
}

// ------------------------------------------------------------------------------------------ the clip
function setClip(clip) {
  state.clip = clip;
  state.boxes = [];
  state.pending = null;
  $("results").hidden = true;
  const fps = clip.fps ? `, ${clip.fps.toFixed(3).replace(/\.?0+$/, "")} fps` : "";
  $("clip-info").textContent = `${clip.name}: ${clip.frames} frames of ${clip.width}x${clip.height}${fps}` +
    (clip.groundtruth ? " (with ground truth)" : "");
  const image = new Image();
  image.onload = () => {
    state.image = image;
    const canvas = $("frame");
    canvas.width = clip.width;
    canvas.height = clip.height;
    if (clip.initial_box) {
      $("box-text").value = clip.initial_box.map((v) => +v.toFixed(1)).join(", ");
    }
    redraw();
  };
  image.src = `${clip.first_frame}?t=${Date.now()}`;
  renderTargets();
}

async function useSample() {
  showError("");
  $("clip-info").textContent = "making the sample clip…";
  try {
    setClip(await api("/api/sample", { method: "POST" }));
  } catch (err) {
    $("clip-info").textContent = "";
    showError(err.message);
  }
}

async function uploadClip() {
  const file = $("clip-file").files[0];
  if (!file) return;
  showError("");
  $("clip-info").textContent = `uploading ${file.name}…`;
  try {
    setClip(await upload("clip", file));
  } catch (err) {
    $("clip-info").textContent = "";
    showError(err.message);
  } finally {
    $("clip-file").value = "";
  }
}

// ---------------------------------------------------------------------------------------- the boxes
function framePoint(event) {
  const canvas = $("frame");
  const rect = canvas.getBoundingClientRect();
  const x = (event.clientX - rect.left) * canvas.width / rect.width;
  const y = (event.clientY - rect.top) * canvas.height / rect.height;
  return [Math.min(Math.max(x, 0), canvas.width), Math.min(Math.max(y, 0), canvas.height)];
}

function boxFrom(a, b) {
  const x = Math.min(a[0], b[0]), y = Math.min(a[1], b[1]);
  return [x, y, Math.abs(a[0] - b[0]), Math.abs(a[1] - b[1])].map((v) => Math.round(v * 10) / 10);
}

function addBox(box) {
  if (!state.clip) { showError("pick a clip first"); return; }
  if (box[2] < 2 || box[3] < 2) { showError("a box must be at least 2 x 2 pixels"); return; }
  showError("");
  state.boxes.push(box);
  renderTargets();
  redraw();
}

function redraw(rubber) {
  const canvas = $("frame");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (state.image) ctx.drawImage(state.image, 0, 0, canvas.width, canvas.height);
  const line = Math.max(1.5, canvas.width / 320);
  ctx.lineWidth = line;
  state.boxes.forEach((b, i) => {
    ctx.strokeStyle = COLORS[i % COLORS.length];
    ctx.strokeRect(b[0], b[1], b[2], b[3]);
    ctx.fillStyle = ctx.strokeStyle;
    ctx.font = `${Math.round(line * 8)}px sans-serif`;
    ctx.fillText(String(i + 1), b[0] + 2, Math.max(b[1] - 3, line * 8));
  });
  if (state.pending) {
    ctx.fillStyle = "#ffffff";
    ctx.beginPath();
    ctx.arc(state.pending[0], state.pending[1], line * 2.5, 0, 2 * Math.PI);
    ctx.fill();
  }
  if (rubber) {
    ctx.setLineDash([line * 3, line * 2]);
    ctx.strokeStyle = "#ffffff";
    ctx.strokeRect(rubber[0], rubber[1], rubber[2], rubber[3]);
    ctx.setLineDash([]);
  }
}

function renderTargets() {
  const list = $("targets");
  list.innerHTML = "";
  state.boxes.forEach((b, i) => {
    const item = document.createElement("li");
    item.textContent = `target ${i + 1}: x ${b[0]}, y ${b[1]}, w ${b[2]}, h ${b[3]}`;
    item.style.color = COLORS[i % COLORS.length] === "#dcdc00" ? "#8a8a00" : COLORS[i % COLORS.length];
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "×";
    remove.title = "remove this box";
    remove.onclick = () => { state.boxes.splice(i, 1); renderTargets(); redraw(); };
    item.appendChild(remove);
    list.appendChild(item);
  });
  $("track").disabled = !(state.clip && state.boxes.length);
}

function setupCanvas() {
  const canvas = $("frame");
  canvas.addEventListener("pointerdown", (event) => {
    if (!state.clip) return;
    canvas.setPointerCapture(event.pointerId);
    state.drag = { start: framePoint(event), screen: [event.clientX, event.clientY] };
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!state.drag) return;
    redraw(boxFrom(state.drag.start, framePoint(event)));
  });
  canvas.addEventListener("pointerup", (event) => {
    if (!state.drag) return;
    const drag = state.drag;
    state.drag = null;
    const moved = Math.hypot(event.clientX - drag.screen[0], event.clientY - drag.screen[1]);
    const point = framePoint(event);
    if (moved > 4) {                    // a drag: the box between press and release
      state.pending = null;
      addBox(boxFrom(drag.start, point));
    } else if (state.pending) {         // the second of two clicks
      const first = state.pending;
      state.pending = null;
      addBox(boxFrom(first, point));
    } else {                            // the first of two clicks
      state.pending = point;
      redraw();
    }
  });
}

function addTypedBox() {
  const parts = $("box-text").value.split(/[\s,;]+/).filter((t) => t.length).map(Number);
  if (parts.length !== 4 || parts.some((v) => !Number.isFinite(v))) {
    showError("type a box as four numbers: x, y, w, h (pixels)");
    return;
  }
  addBox(parts);
}

// -------------------------------------------------------------------------------- model and files
function modelChanged() {
  const option = state.info.models.find((m) => m.value === $("model").value);
  const needs = option && option.needs_checkpoint;
  $("weights-label").textContent = needs ? "Checkpoint (required)" : "Checkpoint (for a preset)";
  $("weights-file").disabled = !needs;
}

async function uploadOptional(kind, input, key, infoText) {
  const file = input.files[0];
  state[key] = null;
  if (!file) return;
  showError("");
  $("model-info").textContent = `uploading ${file.name}…`;
  try {
    const answer = await upload(kind, file);
    state[key] = answer.upload;
    $("model-info").textContent = infoText(answer);
  } catch (err) {
    input.value = "";
    $("model-info").textContent = "";
    showError(err.message);
  }
}

// ------------------------------------------------------------------------------------------ tracking
async function track() {
  showError("");
  $("results").hidden = true;
  $("track").disabled = true;
  const request = { clip: state.clip.clip, boxes: state.boxes, model: $("model").value,
                    backend: $("backend").value, weights: null, groundtruth: state.groundtruth };
  const option = state.info.models.find((m) => m.value === request.model);
  if (option && option.needs_checkpoint) request.weights = state.weights;
  try {
    const job = await api("/api/track", { method: "POST", headers: { "Content-Type": "application/json" },
                                          body: JSON.stringify(request) });
    follow(job.job);
  } catch (err) {
    showError(err.message);
    renderTargets();
  }
}

function follow(jobId) {
  const bar = $("progress");
  const stop = $("stop");
  stop.hidden = false;
  stop.disabled = false;
  stop.onclick = async () => {
    stop.disabled = true;
    try { await api(`/api/jobs/${jobId}/stop`, { method: "POST" }); } catch (err) { showError(err.message); }
  };
  bar.hidden = false;
  bar.removeAttribute("value");
  const poll = async () => {
    let job;
    try {
      job = await api(`/api/jobs/${jobId}`);
    } catch (err) {
      showError(err.message);
      finish();
      return;
    }
    if (job.total) { bar.max = job.total; bar.value = job.done; }
    $("status").textContent = job.state === "running" && job.total
      ? `${job.message}: frame ${job.done} of ${job.total}` : job.message;
    if (job.state === "done") { showResult(job.result); finish(); return; }
    if (job.state === "failed") { showError(job.message); $("status").textContent = ""; finish(); return; }
    state.polling = setTimeout(poll, 300);
  };
  const finish = () => { bar.hidden = true; stop.hidden = true; renderTargets(); };
  poll();
}

function showResult(result) {
  const fps = result.fps ? `${result.fps.toFixed(1)} FPS` : "n/a";
  let text = `Tracked ${result.frames} frames, ${result.targets} target${result.targets > 1 ? "s" : ""} ` +
             `with ${result.model}: tracker step ${fps} (backend ${result.backend}, ${result.threads} ` +
             `thread${result.threads === 1 ? "" : "s"}).`;
  if (result.auc !== undefined) text += ` Target 1 against the ground truth: success AUC ${result.auc.toFixed(3)}.`;
  $("fps").textContent = text;
  $("notice").textContent = result.notice || "";
  const video = $("video");
  video.src = `${result.video}?t=${Date.now()}`;
  video.play().catch(() => {});
  $("plot").src = `${result.plot}?t=${Date.now()}`;
  const links = $("downloads");
  links.innerHTML = "";
  result.boxes.forEach((b) => {
    const a = document.createElement("a");
    a.href = b.url;
    a.download = b.name;
    a.className = "download";
    a.textContent = `Download target ${b.target}'s boxes (${b.name}, x,y,w,h per frame)`;
    links.appendChild(a);
  });
  $("results").hidden = false;
}

// ------------------------------------------------------------------------------------------- start
async function start() {
  try {
    state.info = await api("/api/info");
  } catch (err) {
    showError(err.message);
    return;
  }
  const models = $("model");
  state.info.models.forEach((m) => models.add(new Option(m.label, m.value)));
  const backends = $("backend");
  state.info.backends.forEach((b) => backends.add(new Option(b, b, b === state.info.backend, b === state.info.backend)));
  $("weights-file").accept = state.info.checkpoint_suffixes.join(",");
  modelChanged();
  setupCanvas();
  $("sample").onclick = useSample;
  $("clip-file").onchange = uploadClip;
  $("add-box").onclick = addTypedBox;
  $("box-text").addEventListener("keydown", (e) => { if (e.key === "Enter") addTypedBox(); });
  $("clear-boxes").onclick = () => { state.boxes = []; state.pending = null; renderTargets(); redraw(); };
  $("model").onchange = modelChanged;
  $("weights-file").onchange = () => uploadOptional("weights", $("weights-file"), "weights",
                                                    (a) => `checkpoint ${a.name} uploaded`);
  $("gt-file").onchange = () => uploadOptional("groundtruth", $("gt-file"), "groundtruth",
                                               (a) => `ground truth ${a.name}: ${a.rows} boxes`);
  $("track").onclick = track;
}

start();
