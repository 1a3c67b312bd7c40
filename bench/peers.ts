// Peer frameworks measured in the same run as Graduate: TensorFlow.js with its wasm backend
// (XNNPACK, SIMD; single-threaded under Node), and ONNX Runtime — onnxruntime-node (native CPU
// binary) and onnxruntime-web (its wasm backend, run under Node) — on an exported ONNX model.
// Both ONNX Runtime packages share onnxruntime-common's backend registry: 'cpu' resolves to the
// native binding (priority 100 over the web bundle's 10) and 'wasm' to onnxruntime-web, so every
// session names its execution provider. onnxruntime-web reads env.wasm.numThreads once, when its
// wasm module starts, so one process gets one thread count: a second count runs in a worker thread.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

export type Tf = typeof import('@tensorflow/tfjs');
export type OrtNode = typeof import('onnxruntime-node');
export type OrtWeb = typeof import('onnxruntime-web');

const require = createRequire(import.meta.url);

/** Loads @tensorflow/tfjs on the wasm backend (silencing its console banner). */
export async function loadTfWasm(): Promise<Tf> {
  const tf = await import('@tensorflow/tfjs');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(`${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')}/`);
  await tf.setBackend('wasm');
  await tf.ready();
  return tf;
}

/** A model's logits for n samples (NHWC float32, as the ONNX input takes them). */
export type OrtRun = (x: Float32Array, n: number) => Promise<Float32Array>;

export interface OrtPeer {
  run: OrtRun;
  release(): Promise<void>;
}

/** A session of either package as an OrtPeer (its first input and output, batch first). */
function ortPeer(
  ort: OrtNode | OrtWeb,
  s: Awaited<ReturnType<OrtNode['InferenceSession']['create']>>,
  sampleShape: number[],
): OrtPeer {
  const [input] = s.inputNames;
  const [output] = s.outputNames;
  return {
    run: async (x, n) =>
      (await s.run({ [input]: new ort.Tensor('float32', x, [n, ...sampleShape]) }))[output].data as Float32Array,
    release: () => s.release(),
  };
}

/** The module and an onnxruntime-node CPU session: intraOpNumThreads = threads, interOpNumThreads 1, sequential. */
export async function ortNodeCpu(model: Uint8Array, threads: number) {
  const ort: OrtNode = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  return { ort, session };
}

/** An onnxruntime-node CPU session over float32 inputs [n, ...sampleShape] (ortNodeCpu's settings). */
export async function ortNodeSession(model: Uint8Array, threads: number, sampleShape: number[]): Promise<OrtPeer> {
  const { ort, session } = await ortNodeCpu(model, threads);
  return ortPeer(ort, session, sampleShape);
}

/** Installed versions of onnxruntime-node and onnxruntime-web (their `exports` hide package.json). */
export function ortVersions(): { node: string; web: string } {
  const version = (pkg: string) => {
    for (let d = dirname(require.resolve(pkg)); d !== dirname(d); d = dirname(d)) {
      const f = join(d, 'package.json');
      if (existsSync(f)) return (JSON.parse(readFileSync(f, 'utf8')) as { version: string }).version;
    }
    return '?';
  };
  return { node: version('onnxruntime-node'), web: version('onnxruntime-web') };
}

/** The folder of onnxruntime-web's bundles and .wasm files (its `exports` hide package.json). */
export function ortWebDist(): string {
  return dirname(require.resolve('onnxruntime-web'));
}

/** An onnxruntime-web session on its wasm backend in this process (env.wasm.numThreads = threads). */
export async function ortWebSession(model: Uint8Array, threads: number, sampleShape: number[]): Promise<OrtPeer> {
  const ort: OrtWeb = await import('onnxruntime-web');
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.wasmPaths = `${ortWebDist()}/`;
  const s = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  return ortPeer(ort, s, sampleShape);
}

// The worker: its own onnxruntime-web (own module graph, own wasm instance and thread count). It
// answers {i, n} with the logits of its samples i..i+n, and {measure} by timing itself (batch
// throughput as timeMs does: warm-up, reps per trial, median trial; then single-sample latencies),
// so the message round trip stays out of the numbers.
const WORKER_SRC = `
const { parentPort, workerData: w } = require('node:worker_threads');
(async () => {
  const ort = await import(w.ortUrl);
  ort.env.wasm.numThreads = w.threads;
  ort.env.wasm.wasmPaths = w.wasmPaths;
  const s = await ort.InferenceSession.create(w.model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const per = w.shape.reduce((a, b) => a * b, 1);
  const samples = w.x.length / per;
  const run = async (i, n) =>
    (await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', w.x.subarray(i * per, (i + n) * per), [n, ...w.shape]) }))[s.outputNames[0]].data;
  async function timeMs(fn, { minTrialMs, trials, warmup }) {
    for (let i = 0; i < warmup; i++) await fn();
    let reps = 1;
    for (;;) {
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) await fn();
      const dt = performance.now() - t0;
      if (dt >= minTrialMs / 4) { reps = Math.max(1, Math.ceil((reps * minTrialMs) / Math.max(dt, 1e-3))); break; }
      reps *= 4;
    }
    const t = [];
    for (let k = 0; k < trials; k++) {
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) await fn();
      t.push((performance.now() - t0) / reps);
    }
    t.sort((a, b) => a - b);
    return t[Math.floor(t.length / 2)];
  }
  parentPort.on('message', async (m) => {
    try {
      if (m.measure) {
        const o = m.measure;
        const ms = [];
        for (let r = 0; r < o.rounds; r++) ms.push(await timeMs(() => run(0, o.batch), o.trial));
        for (let i = 0; i < o.latWarmup; i++) await run(i % samples, 1);
        const lat = [];
        for (let r = 0; r < o.latRuns; r++) {
          const t0 = performance.now();
          await run(r % samples, 1);
          lat.push(performance.now() - t0);
        }
        parentPort.postMessage({ ms, lat });
      } else if (m.release) {
        await s.release();
        parentPort.postMessage({});
      } else {
        const y = await run(m.i, m.n);
        parentPort.postMessage({ logits: Float32Array.from(y) });
      }
    } catch (e) {
      parentPort.postMessage({ error: String(e && e.stack || e) });
    }
  });
  parentPort.postMessage({ ready: true });
})().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
`;

export interface MeasureOptions {
  batch: number;
  rounds: number;
  trial: { minTrialMs: number; trials: number; warmup: number };
  latRuns: number;
  latWarmup: number;
}

/** onnxruntime-web (wasm) with its own thread count in a worker thread, on the samples x it is given. */
export class OrtWebWorker {
  private constructor(
    private readonly w: Worker,
    private next: (m: Record<string, unknown>) => void,
  ) {}

  static async start(
    model: Uint8Array,
    threads: number,
    sampleShape: number[],
    x: Float32Array,
  ): Promise<OrtWebWorker> {
    const w = new Worker(WORKER_SRC, {
      eval: true,
      workerData: {
        ortUrl: pathToFileURL(join(ortWebDist(), 'ort.node.min.mjs')).href,
        wasmPaths: `${ortWebDist()}/`,
        model,
        threads,
        shape: sampleShape,
        x,
      },
    });
    const peer = new OrtWebWorker(w, () => {});
    w.on('message', (m) => peer.next(m));
    w.on('error', (e) => peer.next({ error: String(e) }));
    await peer.ask(undefined);
    return peer;
  }

  private ask(msg: unknown): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      this.next = (m) => (m.error ? reject(new Error(String(m.error))) : resolve(m));
      if (msg !== undefined) this.w.postMessage(msg);
    });
  }

  /** Logits of the worker's samples i..i+n. */
  async logits(i: number, n: number): Promise<Float32Array> {
    return (await this.ask({ i, n })).logits as Float32Array;
  }

  /** Batch timings (ms per call, one per round) and single-sample latencies (ms), timed in the worker. */
  async measure(o: MeasureOptions): Promise<{ ms: number[]; lat: number[] }> {
    return (await this.ask({ measure: o })) as { ms: number[]; lat: number[] };
  }

  async close(): Promise<void> {
    await this.ask({ release: true });
    await this.w.terminate();
  }
}

/** The middle value of a list (the upper one of an even count). */
export const median = (v: readonly number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

/** One thread count of a training comparison with PyTorch: per-round samples/s of each side and their ratios. */
export interface PeerRounds {
  threads: number;
  graduate: number[];
  torch: number[];
  ratios: number[];
}

/** A table line of PyTorch training comparison rounds: threads, both medians (`digits` decimals), the ratios. */
export function peerRoundsLine(r: PeerRounds, digits: number): string {
  const ratios = r.ratios.length
    ? `${median(r.ratios).toFixed(2)}× (${r.ratios.map((x) => x.toFixed(2)).join(', ')})`
    : '-';
  return `  ${String(r.threads).padEnd(9)}${median(r.graduate).toFixed(digits).padStart(10)}${(r.torch.length ? median(r.torch).toFixed(digits) : '-').padStart(10)}   ${ratios}`;
}

/** The JSON of PyTorch training comparison rounds: medians and every round. */
export function peerRoundsJson(rows: readonly PeerRounds[]) {
  return rows.map((r) => ({
    threads: r.threads,
    graduate: median(r.graduate),
    pytorch: r.torch.length ? median(r.torch) : null,
    ratio: r.ratios.length ? median(r.ratios) : null,
    rounds: { graduate: r.graduate, pytorch: r.torch, ratios: r.ratios },
  }));
}
