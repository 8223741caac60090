// The face lookup page: webcam frames (or an uploaded file) to /api/search a few times per
// second, the answer under the video; "add this person" posts frames or files to /api/enrol.
"use strict";

const FRAME_INTERVAL_MS = 300;   // about three searches per second, one in flight at a time
const ENROL_FRAME_GAP_MS = 120;
const $ = (id) => document.getElementById(id);
let info = null;
let camera = false;
let busy = false;
let generation = 0;              // bumped by an upload, so a frame answer in flight is dropped
const pausedBy = new Set();      // "upload", "enrol": the frame loop waits while any holds it

function setStatus(id, text, error = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", error);
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const detail = body && body.detail ? body.detail : response.statusText;
    throw new Error(`${response.status}: ${detail}`);
  }
  return body;
}

function crop() { return Number($("crop").value); }

// The centred box the server keeps, in video pixels (pyembed.datasets.images.face_crop).
function cropBox(width, height) {
  const [mh, mw] = info.model_input;
  const aspect = mw / mh;
  let bw = width, bh = width / aspect;
  if (width / height > aspect) { bw = height * aspect; bh = height; }
  bw *= crop(); bh *= crop();
  return [(width - bw) / 2, (height - bh) / 2, bw, bh];
}

function drawGuide() {
  const video = $("cam"), overlay = $("overlay");
  overlay.width = 320; overlay.height = 240;
  const ctx = overlay.getContext("2d");
  ctx.clearRect(0, 0, 320, 240);
  if (!camera || !video.videoWidth) return;
  // the video is letterboxed into 320x240 (object-fit: contain)
  const scale = Math.min(320 / video.videoWidth, 240 / video.videoHeight);
  const ox = (320 - video.videoWidth * scale) / 2, oy = (240 - video.videoHeight * scale) / 2;
  const [x, y, w, h] = cropBox(video.videoWidth, video.videoHeight);
  ctx.strokeStyle = "#ffd400"; ctx.lineWidth = 2;
  ctx.strokeRect(ox + x * scale, oy + y * scale, w * scale, h * scale);
}

function frameBlob() {
  const video = $("cam");
  if (!video.videoWidth) return Promise.reject(new Error("the camera has no picture yet"));
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return new Promise((resolve, reject) => canvas.toBlob(
    (blob) => (blob ? resolve(blob) : reject(new Error("could not encode the frame"))),
    "image/jpeg", 0.95));
}

function showResult(result) {
  const label = $("label");
  label.textContent = result.label;
  label.classList.toggle("unknown", !result.known);
  const t = result.threshold === null ? "no threshold" : `threshold ${result.threshold.toFixed(3)}`;
  $("distance").textContent =
    `distance ${result.distance.toFixed(3)} (${t}) · ${result.timings_ms.total.toFixed(0)} ms`;
  if (result.input_png) $("model-input").src = result.input_png;
  const list = $("neighbors");
  list.replaceChildren(...result.neighbors.map((n) => {
    const li = document.createElement("li");
    if (result.threshold === null || n.distance <= result.threshold) li.classList.add("within");
    const img = document.createElement("img");
    img.src = n.thumbnail; img.alt = n.name;
    const text = document.createElement("span");
    text.className = "neighbor-text";
    text.dataset.name = n.name;
    text.textContent = `${n.name} · ${n.distance.toFixed(3)}`;
    li.append(img, text);
    return li;
  }));
}

// Webcam frames use the slider's crop; uploads (like enrolment files) are taken whole, crop 1.
async function search(blob, filename, cropFraction) {
  const form = new FormData();
  form.append("image", blob, filename);
  const k = info.default_k;
  return api(`/api/search?k=${k}&crop=${cropFraction}&preview=true`, { method: "POST", body: form });
}

async function frameLoop() {
  if (camera && !busy && pausedBy.size === 0 && $("cam").videoWidth) {
    busy = true;
    const mine = generation;
    try {
      const result = await search(await frameBlob(), "frame.jpg", crop());
      if (mine === generation && pausedBy.size === 0) {
        showResult(result);
        const v = $("cam");
        setStatus("camera-status", `camera: live (${v.videoWidth}x${v.videoHeight})`);
      }
    } catch (e) {
      if (mine === generation) setStatus("camera-status", `search failed: ${e.message}`, true);
    } finally {
      busy = false;
    }
  }
  drawGuide();
  setTimeout(frameLoop, FRAME_INTERVAL_MS);
}

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setStatus("camera-status", "no camera API here (the page needs https or localhost): upload an image");
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: false, video: true });
    const video = $("cam");
    video.srcObject = stream;
    camera = true;
    setStatus("camera-status", `camera: ${stream.getVideoTracks()[0].label || "on"}`);
  } catch (e) {
    setStatus("camera-status", `no camera (${e.name}): upload an image instead`);
  }
}

async function refreshPeople() {
  const page = await api("/api/gallery?source=enrolled&limit=10000");
  const byName = new Map();
  for (const e of page.entries) {
    if (!byName.has(e.name)) byName.set(e.name, []);
    byName.get(e.name).push(e);
  }
  $("people").replaceChildren(...[...byName].map(([name, entries]) => {
    const li = document.createElement("li");
    const img = document.createElement("img");
    img.src = entries[0].thumbnail; img.alt = name;
    const text = document.createElement("span");
    text.textContent = `${name} (${entries.length})`;
    const button = document.createElement("button");
    button.textContent = "forget";
    button.onclick = async () => {
      button.disabled = true;
      try {
        await api(`/api/people/${encodeURIComponent(name)}`, { method: "DELETE" });
        setStatus("enrol-status", `forgot ${name}`);
      } catch (e) {
        setStatus("enrol-status", `could not forget ${name}: ${e.message}`, true);
      }
      await refreshInfo(); await refreshPeople();
    };
    li.append(img, text, button);
    return li;
  }));
}

async function refreshInfo() {
  info = await api("/api/info");
  const t = info.threshold === null ? "none" : `${info.threshold.toFixed(3)} (${info.threshold_source})`;
  $("run-info").textContent =
    `${info.entries} faces of ${info.people} people · model input ${info.model_input.join("x")} · ` +
    `${info.search} search · threshold ${t}`;
}

async function enrol(event) {
  event.preventDefault();
  const button = $("enrol-button");
  if (button.disabled) return;
  button.disabled = true;  // one enrolment at a time: a double click must not enrol twice
  try {
    await enrolOnce();
  } catch (e) {
    setStatus("enrol-status", `enrolment failed: ${e.message}`, true);
  } finally {
    button.disabled = false;
  }
}

async function enrolOnce() {
  const name = $("enrol-name").value.trim();
  const files = [...$("enrol-files").files];
  const form = new FormData();
  form.append("name", name);
  if (files.length) {
    files.forEach((f) => form.append("images", f, f.name));
  } else if (camera) {
    const n = Number($("enrol-frames").value);
    pausedBy.add("enrol");
    try {
      for (let i = 0; i < n; i++) {
        setStatus("enrol-status", `capturing frame ${i + 1} of ${n}…`);
        form.append("images", await frameBlob(), `frame${i}.jpg`);
        await new Promise((r) => setTimeout(r, ENROL_FRAME_GAP_MS));
      }
    } finally {
      pausedBy.delete("enrol");
    }
  } else {
    setStatus("enrol-status", "no camera: choose image files to enrol", true);
    return;
  }
  const c = files.length ? 1 : crop();
  const result = await api(`/api/enrol?crop=${c}`, { method: "POST", body: form });
  setStatus("enrol-status", `added ${result.entries.length} images of ${result.name}`);
  $("enrol-files").value = "";
  await refreshInfo(); await refreshPeople();
}

let uploadTimer = null;

async function uploaded() {
  const file = $("upload").files[0];
  if (!file) return;
  generation += 1;           // a frame answer still in flight must not replace this one
  pausedBy.add("upload");    // the answer stays on screen for a while before the camera resumes
  clearTimeout(uploadTimer);
  const mine = generation;
  const still = $("still");
  still.src = URL.createObjectURL(file); still.hidden = false;
  try {
    const result = await search(file, file.name, 1);
    if (mine === generation) {
      showResult(result);
      setStatus("camera-status", `searched ${file.name}`);
    }
  } catch (e) {
    if (mine === generation) setStatus("camera-status", `search failed: ${e.message}`, true);
  }
  uploadTimer = setTimeout(() => {
    if (mine === generation) { pausedBy.delete("upload"); still.hidden = true; }
  }, 5000);
}

async function main() {
  try {
    await refreshInfo();
  } catch (e) {
    setStatus("camera-status", `the server did not answer: ${e.message}`, true);
    return;
  }
  $("crop").value = info.default_crop;
  $("crop-value").textContent = info.default_crop;
  $("crop").oninput = () => { $("crop-value").textContent = $("crop").value; drawGuide(); };
  $("upload").onchange = uploaded;
  $("enrol-form").onsubmit = enrol;
  await refreshPeople();
  await startCamera();
  frameLoop();
}

main();
