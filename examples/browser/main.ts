// The browser example: loads the runtime and an artifact (?model=URL or a file picker), classifies
// a drawn or uploaded image in the page — or, for an audio model, an uploaded WAV file or a clip
// recorded from the microphone; for a text model, the text in a text box — and shows the top-k. `npm run build:browser` bundles it into
// dist-browser/ (this file becomes main.js, the runtime graduate-runtime.js).
// Threads: on a cross-origin-isolated page (COOP same-origin + COEP require-corp) the kernels run
// on a worker pool over shared memory; elsewhere on one thread. ?threads=N and ?isa=simd|relaxed
// override the defaults.
// Device (?device=auto|webgpu|wasm, default auto): the same artifact runs on the WebGPU backend in
// a model Worker (gpu-model.ts: the backend blocks on reads, which the page may not) where
// navigator.gpu gives an adapter and the page is cross-origin isolated — auto takes a hardware
// adapter only, and only where the model itself runs faster there: a start-up micro-benchmark
// times one sample on both devices (best of 3 after a warm-up; ?software=1 lets auto time a
// software adapter too) — and on the wasm kernels otherwise; the page says which and why
// (#device, body[data-device]).
// Preprocessing matches `graduate predict`: images get a bilinear resize with half-pixel centers,
// luma for one channel, then (pixel * scale - mean) / std with the artifact's input spec (scale
// default 1/255); audio is decoded by the runtime's own WAV reader (not Web Audio's
// decodeAudioData, which resamples differently), resampled by its Kaiser-windowed sinc and
// featurised by the same code as the training data (graduate/runtime wavInput / waveformInput);
// text is tokenised by the model's recorded tokenizer (InferenceModel.prepareText: text/encode.ts,
// the training data's encoder).

import { type Rgba, resizeInto, imageInput as toModelInput } from '../../src/runtime/image-input.js';
import {
  type AudioFeatureSpec,
  type ClipLimits,
  clipSamples,
  type InferenceModel,
  type InputSpec,
  loadArtifact,
  type Prediction,
  readArtifact,
  textInput,
  waveformInput,
  wavInput,
} from '../../src/runtime/index.js';
import type { GpuAnswer, GpuRequest } from './gpu-model.js';

/** What the page needs of a model on the main thread: InferenceModel on wasm, the artifact's metadata on WebGPU. */
export interface PageModel {
  readonly input: InputSpec;
  readonly classNames: readonly string[];
  prepareText(texts: readonly string[]): Int32Array;
}

/** Where the model runs, and why there. */
export interface DeviceState {
  device: 'webgpu' | 'wasm';
  reason: string;
  /** The WebGPU adapter (device webgpu). */
  adapter?: string;
}

/** What the page exposes for scripts and tests. */
export interface PageState {
  model?: PageModel;
  device?: DeviceState;
  engine?: { isa: string; threads: number; crossOriginIsolated: boolean };
  /** The last prepared input (token ids for a text model) and its prediction. */
  input?: Float32Array | Int32Array;
  prediction?: Prediction;
  /** Classifies raw RGBA pixels (any size) as an uploaded image would be. */
  classifyRgba(img: Rgba): Promise<Prediction>;
  /** Classifies a WAV file's bytes (an audio model). */
  classifyWav(bytes: Uint8Array, name: string): Promise<Prediction>;
  /** Classifies mono samples recorded at `rate` Hz (an audio model). */
  classifySamples(samples: Float32Array, rate: number, name: string): Promise<Prediction>;
  /** Classifies a text (a text model). */
  classifyText(text: string): Promise<Prediction>;
  /** The last microphone recording: mono samples at the device's rate. */
  recording?: { samples: Float32Array; rate: number };
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

const page: PageState = { classifyRgba, classifyWav, classifySamples, classifyText };
(globalThis as { graduatePage?: PageState }).graduatePage = page;

/** body[data-state]: 'idle' (no model yet), 'loading', 'ready' (a model is loaded) or 'error'. */
function setStatus(text: string, state: 'idle' | 'loading' | 'ready' | 'error'): void {
  statusEl.textContent = text;
  document.body.dataset.state = state;
}

/** Image size and channels the model takes: [H, W, C]. */
function imageShape(model: PageModel): [number, number, number] {
  const s = model.input.shape;
  if (model.input.kind !== 'image' || s.length !== 3 || (s[2] !== 1 && s[2] !== 3))
    throw new Error(`this model takes ${model.input.kind} input [${s.join(', ')}], not images`);
  return [s[0], s[1], s[2]];
}

/** An audio model's feature spec, or undefined for other models. */
function audioSpec(model: PageModel): AudioFeatureSpec | undefined {
  return model.input.kind === 'audio' ? (model.input.audio as AudioFeatureSpec) : undefined;
}

function showPreview(pixels: Float32Array, H: number, W: number, C: number): void {
  preview.width = W;
  preview.height = H;
  preview.style.width = '';
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

function classifyRgba(img: Rgba): Promise<Prediction> {
  const model = page.model;
  if (!model) throw new Error('no model loaded');
  const [H, W, C] = imageShape(model);
  const x = new Float32Array(H * W * C);
  resizeInto(img, H, W, C as 1 | 3, x, 0); // pixel / 255, for the preview
  showPreview(x, H, W, C);
  return classifyInput(model, toModelInput(model.input, img, 'image')); // exactly as `graduate predict` prepares it
}

async function classifyInput(model: PageModel, input: Float32Array | Int32Array): Promise<Prediction> {
  const prediction = await runner.classify(input, Math.min(TOP_K, model.classNames.length));
  page.input = input;
  page.prediction = prediction;
  showPrediction(prediction);
  return prediction;
}

// ---- Audio ----

/** What the page featurises: clips of at most a minute, at most 384 kHz (the resampler's table grows with the rate). */
const CLIP_LIMITS: ClipLimits = { maxSeconds: 60, maxSampleRate: 384_000 };

function audioModel(): PageModel {
  const model = page.model;
  if (!model) throw new Error('load a model first');
  if (!audioSpec(model)) throw new Error(`this model takes ${model.input.kind} input, not audio`);
  return model;
}

/** Features [frames, channels] as a spectrogram: time left to right, low channels at the bottom. */
function showFeatures(x: Float32Array, frames: number, channels: number): void {
  preview.width = frames;
  preview.height = channels;
  preview.style.width = `${Math.max(112, Math.min(392, frames * 2))}px`;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of x) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const ctx = preview.getContext('2d') as CanvasRenderingContext2D;
  const img = ctx.createImageData(frames, channels);
  for (let t = 0; t < frames; t++)
    for (let c = 0; c < channels; c++) {
      const v = Math.round((255 * (x[t * channels + c] - lo)) / (hi - lo || 1));
      img.data.set([v, Math.round(v * 0.8), 255 - v, 255], ((channels - 1 - c) * frames + t) * 4);
    }
  ctx.putImageData(img, 0, 0);
}

function classifyFeatures(model: PageModel, input: Float32Array): Promise<Prediction> {
  const [frames, channels] = model.input.shape;
  showFeatures(input, frames, channels);
  return classifyInput(model, input);
}

function classifyWav(bytes: Uint8Array, name: string): Promise<Prediction> {
  const model = audioModel();
  return classifyFeatures(model, wavInput(model.input, bytes, name, CLIP_LIMITS)); // as `graduate predict`
}

function classifySamples(samples: Float32Array, rate: number, name: string): Promise<Prediction> {
  const model = audioModel();
  return classifyFeatures(model, waveformInput(model.input, samples, rate, 1, name, CLIP_LIMITS));
}

// ---- Text ----

const textBox = $<HTMLTextAreaElement>('text');
const tokensEl = $<HTMLElement>('tokens');

/** A text → the model's token ids (its own tokenizer, as `graduate predict --text`) → top-k. */
function classifyText(text: string): Promise<Prediction> {
  const model = page.model;
  if (!model) throw new Error('load a model first');
  if (model.input.kind !== 'text') throw new Error(`this model takes ${model.input.kind} input, not text`);
  const ids = model.prepareText([text]);
  const used = ids.indexOf(-1) < 0 ? ids.length : ids.indexOf(-1);
  tokensEl.textContent = `${used} of ${ids.length} token ids: ${Array.from(ids.subarray(0, used)).join(' ')}`;
  return classifyInput(model, ids);
}

async function classifyTextBox(): Promise<void> {
  if (page.model?.input.kind !== 'text') return;
  const p = await classifyText(textBox.value);
  setStatus(`text: ${p.top[0].label} (${(100 * p.top[0].score).toFixed(1)}%)`, 'ready');
}

textBox.addEventListener('input', guarded(classifyTextBox));
$<HTMLButtonElement>('classify-text').addEventListener('click', guarded(classifyTextBox));

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
async function classifyPad(): Promise<void> {
  if (page.model?.input.kind !== 'image') return;
  const [H, W] = imageShape(page.model);
  const small = document.createElement('canvas');
  small.width = W;
  small.height = H;
  const ctx = small.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D;
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(pad, 0, 0, W, H);
  await classifyRgba(ctx.getImageData(0, 0, W, H));
}

let drawing = false;
let last: [number, number] | undefined;
let pending = false;

function padPoint(e: PointerEvent): [number, number] {
  const r = pad.getBoundingClientRect();
  return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
}

function stroke(to: [number, number]): void {
  const W = page.model?.input.kind === 'image' ? imageShape(page.model)[1] : 28;
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
        return classifyPad();
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
    return classifyPad();
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
    const p = await classifyRgba(rgba);
    setStatus(`${file.name}: ${p.top[0].label} (${(100 * p.top[0].score).toFixed(1)}%)`, 'ready');
  }),
);

// ---- Uploaded WAV file ----

const wavFile = $<HTMLInputElement>('wav-file');
wavFile.addEventListener(
  'change',
  guarded(async () => {
    const file = wavFile.files?.[0];
    if (!file) return;
    const p = await classifyWav(new Uint8Array(await file.arrayBuffer()), file.name);
    setStatus(`${file.name}: ${p.top[0].label} (${(100 * p.top[0].score).toFixed(1)}%)`, 'ready');
  }),
);

// ---- Microphone ----

/**
 * Captures mono float PCM at the device's rate: the AudioWorklet posts each 128-frame block (the
 * mean of its channels) to the page. Loaded from a Blob URL, so the build has no extra file.
 */
const CAPTURE_WORKLET = `
registerProcessor('graduate-capture', class extends AudioWorkletProcessor {
  process(inputs) {
    const channels = inputs[0];
    if (channels && channels.length > 0) {
      const mono = new Float32Array(channels[0].length);
      for (const ch of channels) for (let i = 0; i < mono.length; i++) mono[i] += ch[i] / channels.length;
      this.port.postMessage(mono, [mono.buffer]);
    }
    return true;
  }
});`;

const recordButton = $<HTMLButtonElement>('record');
const micStatus = $<HTMLElement>('mic-status');

/** Records `seconds` of the microphone: mono samples at the device's rate. */
async function recordMicrophone(seconds: number): Promise<{ samples: Float32Array; rate: number }> {
  if (!navigator.mediaDevices?.getUserMedia)
    throw new Error(
      globalThis.isSecureContext
        ? 'this browser has no microphone access (navigator.mediaDevices.getUserMedia)'
        : 'microphone access needs a secure page: open it over https or from localhost',
    );
  let stream: MediaStream;
  try {
    // the raw signal: the training clips had no echo cancellation, noise suppression or gain control
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
  } catch (e) {
    const name = (e as DOMException).name;
    if (name === 'NotAllowedError') throw new Error('microphone permission denied');
    if (name === 'NotFoundError') throw new Error('no microphone found');
    throw new Error(`cannot open the microphone (${name}: ${(e as Error).message})`);
  }
  const ctx = new AudioContext();
  try {
    const url = URL.createObjectURL(new Blob([CAPTURE_WORKLET], { type: 'text/javascript' }));
    try {
      await ctx.audioWorklet.addModule(url);
    } finally {
      URL.revokeObjectURL(url);
    }
    const rate = Math.round(ctx.sampleRate);
    const want = Math.ceil(seconds * rate);
    const node = new AudioWorkletNode(ctx, 'graduate-capture', { numberOfInputs: 1, numberOfOutputs: 1 });
    const chunks: Float32Array[] = [];
    let have = 0;
    const done = new Promise<void>((resolve) => {
      node.port.onmessage = (e: MessageEvent<Float32Array>) => {
        if (have >= want) return;
        chunks.push(e.data);
        have += e.data.length;
        if (have >= want) resolve();
      };
    });
    // the node runs while the graph pulls it: its (silent) output goes to the speakers
    ctx.createMediaStreamSource(stream).connect(node).connect(ctx.destination);
    await ctx.resume();
    await done;
    const samples = new Float32Array(want);
    let at = 0;
    for (const c of chunks) {
      samples.set(c.subarray(0, Math.min(c.length, want - at)), at);
      at += c.length;
    }
    return { samples, rate };
  } finally {
    for (const track of stream.getTracks()) track.stop();
    void ctx.close();
  }
}

recordButton.addEventListener('click', async () => {
  const model = page.model;
  const spec = model && audioSpec(model);
  if (!spec) return;
  const seconds = clipSamples(spec) / spec.sampleRate;
  recordButton.disabled = true;
  micStatus.textContent = `recording ${seconds.toFixed(2)} s…`;
  try {
    const rec = await recordMicrophone(seconds);
    page.recording = rec;
    micStatus.textContent = `recorded ${rec.samples.length} samples at ${rec.rate} Hz`;
    const p = await classifySamples(rec.samples, rec.rate, 'microphone');
    setStatus(`microphone: ${p.top[0].label} (${(100 * p.top[0].score).toFixed(1)}%)`, 'ready');
  } catch (e) {
    console.warn(e);
    micStatus.textContent = `Microphone: ${(e as Error).message}`;
  } finally {
    recordButton.disabled = false;
  }
});

// ---- Device ----

/** Runs the loaded model: on the page's thread (wasm kernels) or in the WebGPU model Worker. */
interface Runner {
  classify(input: Float32Array | Int32Array, k: number): Promise<Prediction>;
  dispose(): void;
}

let runner: Runner = {
  classify: () => Promise.reject(new Error('load a model first')),
  dispose() {},
};

function wasmRunner(model: InferenceModel): Runner {
  return { classify: async (input, k) => model.classify(input, 1, k)[0], dispose: () => model.dispose() };
}

type Request = GpuRequest extends infer R ? (R extends GpuRequest ? Omit<R, 'id'> : never) : never;

/** The WebGPU model Worker (gpu-model.js): one per page, started when WebGPU is first chosen. */
class GpuModelWorker {
  private readonly worker = new Worker(new URL('./gpu-model.js', import.meta.url), {
    type: 'module',
    name: 'graduate-gpu-model',
  });
  private readonly waiting = new Map<number, (a: GpuAnswer) => void>();
  private nextId = 1;

  constructor() {
    this.worker.onmessage = (e: MessageEvent<GpuAnswer>) => {
      const done = this.waiting.get(e.data.id);
      this.waiting.delete(e.data.id);
      done?.(e.data);
    };
    this.worker.onerror = (e) => {
      const error = `the WebGPU model worker failed (${e.message || 'gpu-model.js did not load'})`;
      for (const [id, done] of this.waiting) done({ id, error });
      this.waiting.clear();
    };
  }

  ask(req: Request, transfer: Transferable[] = []): Promise<GpuAnswer> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }

  /** Loads the artifact there; the adapter's name, or why WebGPU cannot run it. */
  async load(bytes: Uint8Array): Promise<{ adapter?: string; error?: string }> {
    const copy = bytes.slice().buffer;
    const a = await this.ask({ load: copy, maxBatch: 1 }, [copy]);
    return 'error' in a ? { error: a.error } : 'adapter' in a ? { adapter: a.adapter } : { error: 'no answer' };
  }

  runner(): Runner {
    return {
      classify: async (input, k) => {
        const a = await this.ask({ classify: input, k });
        if ('error' in a) throw new Error(`WebGPU: ${a.error}`);
        if (!('prediction' in a)) throw new Error('WebGPU: no prediction');
        return a.prediction;
      },
      dispose() {}, // the worker disposes a model when the next one loads
    };
  }
}

let gpuWorker: GpuModelWorker | undefined;

/** The device asked for (?device=auto|webgpu|wasm). */
function askedDevice(): 'auto' | 'webgpu' | 'wasm' {
  const d = params.get('device') ?? 'auto';
  if (d !== 'auto' && d !== 'webgpu' && d !== 'wasm')
    throw new Error(`?device=${d}: not a device (auto, webgpu or wasm)`);
  return d;
}

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

/** Why WebGPU cannot (or, for auto, should not) run the model here; undefined when it can. */
async function whyNotWebGpu(asked: 'auto' | 'webgpu'): Promise<string | undefined> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } }).gpu;
  if (!gpu) return 'this browser has no WebGPU (navigator.gpu)';
  if (!globalThis.crossOriginIsolated)
    return 'WebGPU needs a cross-origin-isolated page (COOP same-origin, COEP require-corp): its backend waits on shared memory';
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) return 'navigator.gpu gave no adapter';
  const info = adapter.info ?? {};
  if (asked === 'auto' && (info.isFallbackAdapter ?? adapter.isFallbackAdapter) && params.get('software') !== '1') {
    const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unnamed';
    return `the only WebGPU adapter is a software one (${name}); ?device=webgpu uses it`;
  }
  return undefined;
}

/** Best of 3 timings (ms) of one sample after a warm-up, on WebGPU and on the wasm kernels. */
async function timeDevices(onWasm: InferenceModel, onGpu: Runner): Promise<[number, number]> {
  const input = onWasm.inputs[0];
  const per = input.shape.slice(1).reduce((p, d) => p * Math.max(1, d), 1);
  const x = input.dtype === 'int32' ? new Int32Array(per) : new Float32Array(per);
  const wasm = wasmRunner(onWasm);
  const best = async (r: Runner) => {
    await r.classify(x, 1);
    let ms = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await r.classify(x, 1);
      ms = Math.min(ms, performance.now() - t0);
    }
    return ms;
  };
  return [await best(onGpu), await best(wasm)];
}

const fmtMs = (ms: number) => `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)} ms`;

/** The artifact's metadata for the page (preprocessing, labels), when the model runs in the Worker. */
function artifactModel(bytes: Uint8Array, name: string): PageModel {
  const graph = readArtifact(bytes, name);
  const input = graph.meta.input;
  return {
    input,
    classNames: graph.meta.classNames,
    prepareText: (texts) => textInput(input, texts, 'prepareText'),
  };
}

async function artifactBytes(source: URL | Uint8Array, name: string): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  let res: Response;
  try {
    res = await fetch(source);
  } catch (e) {
    throw new Error(`${name}: cannot read artifact (${(e as Error).message})`);
  }
  if (!res.ok) throw new Error(`${name}: cannot read artifact (HTTP ${res.status} ${res.statusText})`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Loads the artifact on the device chosen: WebGPU where asked (or auto finds a hardware adapter)
 * and it opens, else the wasm kernels; says which and why.
 */
async function loadOnDevice(bytes: Uint8Array, name: string): Promise<{ model: PageModel; device: DeviceState }> {
  const asked = askedDevice();
  let reason = 'asked for';
  if (asked !== 'wasm') {
    const why = await whyNotWebGpu(asked);
    if (why) reason = why;
    else {
      gpuWorker ??= new GpuModelWorker();
      const r = await gpuWorker.load(bytes);
      if (r.adapter && asked === 'auto') {
        // the start-up micro-benchmark: the model itself, one sample, on both devices
        const onWasm = await loadArtifact(bytes, { maxBatch: 1, engineOptions: engineOptions(), name });
        const [gpuMs, wasmMs] = await timeDevices(onWasm, gpuWorker.runner());
        const times = `${fmtMs(gpuMs)} a sample on WebGPU, ${fmtMs(wasmMs)} on wasm`;
        if (gpuMs < wasmMs) {
          onWasm.dispose();
          runner.dispose();
          runner = gpuWorker.runner();
          return { model: artifactModel(bytes, name), device: { device: 'webgpu', adapter: r.adapter, reason: times } };
        }
        runner.dispose();
        runner = wasmRunner(onWasm);
        const engine = onWasm.session.engine;
        page.engine = { isa: engine.isa, threads: engine.threads, crossOriginIsolated: globalThis.crossOriginIsolated };
        return { model: onWasm, device: { device: 'wasm', reason: `faster here: ${times}` } };
      }
      if (r.adapter) {
        runner.dispose();
        runner = gpuWorker.runner();
        return {
          model: artifactModel(bytes, name),
          device: { device: 'webgpu', adapter: r.adapter, reason: 'asked for' },
        };
      }
      reason = `WebGPU failed: ${r.error}`;
    }
  }
  const model = await loadArtifact(bytes, { maxBatch: 1, engineOptions: engineOptions(), name });
  runner.dispose();
  runner = wasmRunner(model);
  const engine = model.session.engine;
  page.engine = { isa: engine.isa, threads: engine.threads, crossOriginIsolated: globalThis.crossOriginIsolated };
  return { model, device: { device: 'wasm', reason } };
}

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

const deviceEl = $<HTMLDivElement>('device');

async function useModel(source: URL | Uint8Array, name: string): Promise<void> {
  setStatus(`Loading ${name}…`, 'loading');
  const t0 = performance.now();
  const bytes = await artifactBytes(source, name);
  const { model, device } = await loadOnDevice(bytes, name);
  page.model = model;
  page.device = device;
  document.body.dataset.device = device.device;
  deviceEl.textContent =
    device.device === 'webgpu'
      ? `Device: WebGPU on ${device.adapter} (${device.reason})`
      : `Device: wasm kernels (${device.reason})`;
  const spec = audioSpec(model);
  const classes = `${model.classNames.length} classes (${model.classNames.join(', ')})`;
  if (spec) {
    const seconds = clipSamples(spec) / spec.sampleRate;
    const [frames, channels] = model.input.shape;
    modelInfo.textContent = `${name}: audio, ${spec.kind} [${frames}, ${channels}] of ${seconds.toFixed(2)} s at ${spec.sampleRate} Hz, ${classes}`;
    recordButton.textContent = `Record ${seconds.toFixed(1)} s`;
  } else if (model.input.kind === 'text') {
    const kind = (model.input.tokenizer as { kind: string }).kind;
    modelInfo.textContent = `${name}: text, ${kind} tokenizer, ${model.input.shape[0]} tokens, ${classes}`;
  } else {
    const [H, W, C] = imageShape(model);
    modelInfo.textContent = `${name}: input [${H}, ${W}, ${C}], ${classes}`;
  }
  document.body.dataset.kind = model.input.kind;
  const ms = (performance.now() - t0).toFixed(0);
  const engine = page.engine;
  setStatus(
    device.device === 'webgpu' || !engine
      ? `Ready in ${ms} ms — WebGPU: ${device.adapter}`
      : `Ready in ${ms} ms — kernels: ${engine.isa}, ${engine.threads} thread${engine.threads > 1 ? 's' : ''}` +
          (globalThis.crossOriginIsolated ? ' (cross-origin isolated)' : ' (not cross-origin isolated: one thread)'),
    'ready',
  );
  await classifyPad();
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
