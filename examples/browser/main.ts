// The browser example: loads the runtime and an artifact (?model=URL or a file picker), classifies
// a drawn or uploaded image in the page, and shows the top-k. `npm run build:browser` bundles it
// into dist-browser/ (this file becomes main.js, the runtime graduate-runtime.js).
// Threads: on a cross-origin-isolated page (COOP same-origin + COEP require-corp) the kernels run
// on a worker pool over shared memory; elsewhere on one thread. ?threads=N and ?isa=simd|relaxed
// override the defaults.
// Preprocessing matches `graduate predict`: bilinear resize with half-pixel centers, luma for one
// channel, then (pixel * scale - mean) / std with the artifact's input spec (scale default 1/255).

import { type Rgba, resizeInto, imageInput as toModelInput } from '../../src/runtime/image-input.js';
import { type InferenceModel, loadArtifact, type Prediction } from '../../src/runtime/index.js';

/** What the page exposes for scripts and tests. */
export interface PageState {
  model?: InferenceModel;
  engine?: { isa: string; threads: number; crossOriginIsolated: boolean };
  /** The last prepared input and its prediction. */
  input?: Float32Array;
  prediction?: Prediction;
  /** Classifies raw RGBA pixels (any size) as an uploaded image would be. */
  classifyRgba(img: Rgba): Prediction;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const statusEl = $<HTMLDivElement>('status');
const modelInfo = $<HTMLDivElement>('model-info');
const pad = $<HTMLCanvasElement>('pad');
const preview = $<HTMLCanvasElement>('preview');
const topList = $<HTMLOListElement>('top');
const padCtx = pad.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D;
const params = new URLSearchParams(location.search);
const TOP_K = 5;

const page: PageState = { classifyRgba };
(globalThis as { graduatePage?: PageState }).graduatePage = page;

/** body[data-state]: 'idle' (no model yet), 'loading', 'ready' (a model is loaded) or 'error'. */
function setStatus(text: string, state: 'idle' | 'loading' | 'ready' | 'error'): void {
  statusEl.textContent = text;
  document.body.dataset.state = state;
}

/** Image size and channels the model takes: [H, W, C]. */
function imageShape(model: InferenceModel): [number, number, number] {
  const s = model.input.shape;
  if (model.input.kind !== 'image' || s.length !== 3 || (s[2] !== 1 && s[2] !== 3))
    throw new Error(`this model takes ${model.input.kind} input [${s.join(', ')}], not images`);
  return [s[0], s[1], s[2]];
}

function showPreview(pixels: Float32Array, H: number, W: number, C: number): void {
  preview.width = W;
  preview.height = H;
  const ctx = preview.getContext('2d') as CanvasRenderingContext2D;
  const img = ctx.createImageData(W, H);
  for (let i = 0; i < H * W; i++) {
    for (let k = 0; k < 3; k++) img.data[i * 4 + k] = Math.round(255 * pixels[i * C + (C === 1 ? 0 : k)]);
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

function showPrediction(p: Prediction): void {
  topList.replaceChildren(
    ...p.top.map((t) => {
      const li = document.createElement('li');
      li.dataset.label = t.label;
      li.dataset.index = String(t.index);
      li.dataset.score = String(t.score);
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${(100 * t.score).toFixed(1)}%`;
      li.append(`${t.label} — ${(100 * t.score).toFixed(2)}%`, bar);
      return li;
    }),
  );
  topList.dataset.count = String(Number(topList.dataset.count) + 1);
}

function classifyRgba(img: Rgba): Prediction {
  const model = page.model;
  if (!model) throw new Error('no model loaded');
  const [H, W, C] = imageShape(model);
  const x = new Float32Array(H * W * C);
  resizeInto(img, H, W, C as 1 | 3, x, 0); // pixel / 255, for the preview
  showPreview(x, H, W, C);
  const input = toModelInput(model.input, img, 'image'); // exactly as `graduate predict` prepares it
  const prediction = model.classify(input, 1, Math.min(TOP_K, model.classNames.length))[0];
  page.input = input;
  page.prediction = prediction;
  showPrediction(prediction);
  return prediction;
}

/** Runs `fn`, reporting a failure in the status line instead of throwing. */
function guarded(fn: () => void | Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await fn();
    } catch (e) {
      console.error(e);
      setStatus(`Error: ${(e as Error).message}`, 'error');
    }
  };
}

// ---- Drawing pad ----

function clearPad(): void {
  padCtx.fillStyle = '#000';
  padCtx.fillRect(0, 0, pad.width, pad.height);
}

/** The pad downsampled to the model's size by the canvas (area-like smoothing), then classified. */
function classifyPad(): void {
  if (!page.model) return;
  const [H, W] = imageShape(page.model);
  const small = document.createElement('canvas');
  small.width = W;
  small.height = H;
  const ctx = small.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D;
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(pad, 0, 0, W, H);
  classifyRgba(ctx.getImageData(0, 0, W, H));
}

let drawing = false;
let last: [number, number] | undefined;
let pending = false;

function padPoint(e: PointerEvent): [number, number] {
  const r = pad.getBoundingClientRect();
  return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
}

function stroke(to: [number, number]): void {
  const W = page.model ? imageShape(page.model)[1] : 28;
  padCtx.strokeStyle = '#fff';
  padCtx.lineCap = 'round';
  padCtx.lineJoin = 'round';
  padCtx.lineWidth = Math.max(4, (pad.width / W) * 2.2);
  padCtx.beginPath();
  padCtx.moveTo(...(last ?? to));
  padCtx.lineTo(...to);
  padCtx.stroke();
  last = to;
  if (!pending) {
    pending = true;
    requestAnimationFrame(
      guarded(() => {
        pending = false;
        classifyPad();
      }),
    );
  }
}

pad.addEventListener('pointerdown', (e) => {
  drawing = true;
  last = undefined;
  pad.setPointerCapture(e.pointerId);
  stroke(padPoint(e));
});
pad.addEventListener('pointermove', (e) => {
  if (drawing) stroke(padPoint(e));
});
for (const type of ['pointerup', 'pointercancel'] as const)
  pad.addEventListener(type, () => {
    drawing = false;
    last = undefined;
  });
$<HTMLButtonElement>('clear').addEventListener(
  'click',
  guarded(() => {
    clearPad();
    classifyPad();
  }),
);

// ---- Uploaded image ----

const imageInput = $<HTMLInputElement>('image-file');
imageInput.addEventListener(
  'change',
  guarded(async () => {
    const file = imageInput.files?.[0];
    if (!file) return;
    // Decoded as stored (no color-space conversion), like the Node decoders of `graduate predict`.
    const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    const canvas = document.createElement('canvas');
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const ctx = canvas.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D;
    ctx.drawImage(bitmap, 0, 0);
    const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
    // Show it on the pad (fitted), so that drawing continues from it.
    clearPad();
    const s = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
    padCtx.drawImage(
      bitmap,
      (pad.width - bitmap.width * s) / 2,
      (pad.height - bitmap.height * s) / 2,
      bitmap.width * s,
      bitmap.height * s,
    );
    bitmap.close();
    if (!page.model) throw new Error('load a model first');
    const p = classifyRgba(rgba);
    setStatus(`${file.name}: ${p.top[0].label} (${(100 * p.top[0].score).toFixed(1)}%)`, 'ready');
  }),
);

// ---- Model ----

function engineOptions() {
  const threads = params.get('threads');
  const isa = params.get('isa');
  return {
    wasmBaseUrl: new URL('./wasm/', import.meta.url),
    ...(threads ? { threads: Number(threads) } : {}),
    ...(isa ? { isa: isa as 'simd' | 'relaxed' | 'auto' } : {}),
  };
}

async function useModel(source: URL | Uint8Array, name: string): Promise<void> {
  setStatus(`Loading ${name}…`, 'loading');
  const t0 = performance.now();
  const model = await loadArtifact(source, { maxBatch: 1, engineOptions: engineOptions() });
  page.model?.dispose();
  page.model = model;
  const engine = model.session.engine;
  page.engine = { isa: engine.isa, threads: engine.threads, crossOriginIsolated: globalThis.crossOriginIsolated };
  const [H, W, C] = imageShape(model);
  modelInfo.textContent = `${name}: input [${H}, ${W}, ${C}], ${model.classNames.length} classes (${model.classNames.join(', ')})`;
  const ms = (performance.now() - t0).toFixed(0);
  setStatus(
    `Ready in ${ms} ms — kernels: ${engine.isa}, ${engine.threads} thread${engine.threads > 1 ? 's' : ''}` +
      (globalThis.crossOriginIsolated ? ' (cross-origin isolated)' : ' (not cross-origin isolated: one thread)'),
    'ready',
  );
  classifyPad();
}

const modelInput = $<HTMLInputElement>('model-file');
modelInput.addEventListener(
  'change',
  guarded(async () => {
    const file = modelInput.files?.[0];
    if (file) await useModel(new Uint8Array(await file.arrayBuffer()), file.name);
  }),
);

clearPad();
const modelParam = params.get('model');
if (modelParam) void guarded(() => useModel(new URL(modelParam, location.href), modelParam))();
else setStatus('Choose a model artifact (.grad), or open this page with ?model=URL.', 'idle');
