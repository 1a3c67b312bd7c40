// npm run bench:gpu [-- --quick] [--peak-tflops X] [--json FILE] — the WebGPU backend beside the
// wasm backend (and onnxruntime-web's WebGPU provider where it runs) in one run:
//   1. the adapter: name, features, the limits the kernels depend on;
//   2. f32 GEMM TFLOP/s at 1024³…4096³ (--quick: 256³, 512³), kernels queued back to back and timed
//      to the device's completion; with --peak-tflops the share of the card's peak (WebGPU does not
//      report a peak);
//   3. training the `cnn` preset (batch 256, Adam): samples/s over timed steps, the loss read back
//      once at the end of each timing (as the fit loop reads it every 16 steps);
//   4. batch-256 inference of the same model graduated as f32 (BN folded, epilogues fused): img/s on
//      WebGPU, on wasm, and with onnxruntime-web's WebGPU execution provider on its ONNX export.
// Figures on lavapipe (a software Vulkan device) only show the script runs; speed needs a GPU.
// Random weights and inputs: speed does not depend on them.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { backward } from '../src/autograd/backward.js';
import type { Backend } from '../src/backend/backend.js';
import { adapterName, describeWebGpu, openWebGpu } from '../src/backend/select.js';
import { WasmBackend } from '../src/backend/wasm.js';
import { captureGraph } from '../src/compile/capture.js';
import { runPasses } from '../src/compile/passes/index.js';
import { buildModel } from '../src/nn/build.js';
import { crossEntropy } from '../src/nn/losses.js';
import { presetSpec } from '../src/nn/presets.js';
import { exportOnnx } from '../src/onnx/index.js';
import { createOptimizer } from '../src/optim/index.js';
import { Session } from '../src/runtime/session.js';
import { useBackend } from '../src/tensor/context.js';
import { manualSeed } from '../src/tensor/random.js';
import { tidy } from '../src/tensor/scope.js';
import { tensor } from '../src/tensor/tensor.js';
import { ortWebDist } from './peers.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'peak-tflops': { type: 'string' },
    json: { type: 'string' },
  },
});
const quick = values.quick;
const peak = values['peak-tflops'] ? Number(values['peak-tflops']) : undefined;
const log = (s: string) => console.log(s);
const report: Record<string, unknown> = { quick };

// ---- 1. the adapter ---------------------------------------------------------------------------------
const { backend: gpu, reason } = openWebGpu();
for (const line of describeWebGpu()) log(line);
if (!gpu) {
  log(`bench:gpu: nothing to measure without a WebGPU adapter (${reason})`);
  process.exit(0);
}
report.adapter = { name: adapterName(gpu), ...gpu.adapter };
const wasm = WasmBackend.create();
log(`wasm: ${wasm.engine.isa}, ${wasm.engine.threads} thread(s)`);

/** Median ms of `fn` over `trials` (after one warm-up), each trial finished with `done`. */
function timed(fn: () => void, done: () => void, trials: number, reps = 1): number {
  fn();
  done();
  const t: number[] = [];
  for (let k = 0; k < trials; k++) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) fn();
    done();
    t.push((performance.now() - t0) / reps);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

// ---- 2. GEMM -------------------------------------------------------------------------------------
function gemmMs(b: Backend, n: number, reps: number): number {
  const [a, w, c] = [b.alloc(n * n * 4), b.alloc(n * n * 4), b.alloc(n * n * 4)];
  b.fill(a, n * n, 0.5);
  b.fill(w, n * n, 0.25);
  const ms = timed(
    () => b.gemm(a, w, c, n, n, n),
    () => b.read(c, 'float32', 1),
    3,
    reps,
  );
  for (const p of [a, w, c]) b.free(p);
  return ms;
}
log('\nf32 GEMM (C = A·B, square):');
const gemmRows: Record<string, unknown>[] = [];
for (const n of quick ? [256, 512] : [1024, 2048, 4096]) {
  const flop = 2 * n ** 3;
  const g = gemmMs(gpu, n, quick ? 2 : 10);
  const c = n <= 2048 ? gemmMs(wasm, n, 1) : undefined;
  const tf = (ms: number) => flop / (ms * 1e9);
  const share = peak ? ` (${((100 * tf(g)) / peak).toFixed(1)}% of ${peak} TFLOP/s)` : '';
  log(
    `  ${n}³: webgpu ${tf(g).toFixed(3)} TFLOP/s${share}` +
      (c ? `, wasm ${tf(c).toFixed(3)} TFLOP/s (webgpu ${(c / g).toFixed(2)}×)` : ''),
  );
  gemmRows.push({ n, webgpuTflops: tf(g), wasmTflops: c ? tf(c) : undefined });
}
report.gemm = gemmRows;

// ---- 3. training the cnn preset -----------------------------------------------------------------
const spec = presetSpec('cnn', [28, 28, 1], 10);
const BATCH = quick ? 32 : 256;
function trainRate(b: Backend): number {
  useBackend(b);
  manualSeed(1);
  const { model } = buildModel(spec);
  model.train();
  const opt = createOptimizer('adam', model.parameters(), { lr: 1e-3 });
  const x = new Float32Array(BATCH * 784).map((_, i) => Math.sin(i) * 0.5);
  const y = Int32Array.from({ length: BATCH }, (_, i) => i % 10);
  let last = 0;
  const step = () => {
    tidy(() => {
      const l = crossEntropy(model.forward(tensor(x, [BATCH, 28, 28, 1])), tensor(y, [BATCH], 'int32'));
      backward(l);
      opt.step();
      opt.zeroGrad();
    });
  };
  const steps = quick ? 2 : 10;
  const ms = timed(
    step,
    () => {
      last = tidy(() => model.parameters()[0].data()[0]);
    },
    3,
    steps,
  );
  useBackend(undefined);
  if (!Number.isFinite(last)) throw new Error('training diverged');
  return (BATCH * 1000) / ms;
}
log(`\ncnn preset training (batch ${BATCH}, Adam):`);
const trainGpu = trainRate(gpu);
const trainCpu = trainRate(wasm);
log(
  `  webgpu ${trainGpu.toFixed(0)} samples/s, wasm ${trainCpu.toFixed(0)} samples/s (webgpu ${(trainGpu / trainCpu).toFixed(2)}×)`,
);
report.train = { batch: BATCH, webgpu: trainGpu, wasm: trainCpu };

// ---- 4. batch-256 inference ---------------------------------------------------------------------
manualSeed(2);
const { model } = buildModel(spec);
model.eval();
const graph = runPasses(
  captureGraph(model, { kind: 'image', shape: [28, 28, 1], scale: 1, mean: [0], std: [1] }, [...'0123456789']),
).graph;
const IB = quick ? 64 : 256;
const images = new Float32Array(IB * 784).map((_, i) => (i * 7919) % 255);
const sGpu = new Session(graph, { backend: gpu, maxBatch: IB });
const sCpu = new Session(graph, { backend: wasm, maxBatch: IB });
const outGpu = sGpu.run(images, IB);
const outCpu = sCpu.run(images, IB);
let maxDiff = 0;
const scale = outCpu.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
for (let i = 0; i < outCpu.length; i++) maxDiff = Math.max(maxDiff, Math.abs(outGpu[i] - outCpu[i]) / scale);
const trials = quick ? 3 : 7;
const infGpu =
  (IB * 1000) /
  timed(
    () => sGpu.run(images, IB),
    () => {},
    trials,
  );
const infCpu =
  (IB * 1000) /
  timed(
    () => sCpu.run(images, IB),
    () => {},
    trials,
  );
log(
  `\ninference, the cnn graduated f32, batch ${IB} (outputs agree within ${maxDiff.toExponential(1)} of the largest logit):`,
);
log(`  webgpu ${infGpu.toFixed(0)} img/s, wasm ${infCpu.toFixed(0)} img/s (webgpu ${(infGpu / infCpu).toFixed(2)}×)`);
const inference: Record<string, unknown> = { batch: IB, webgpu: infGpu, wasm: infCpu, maxDiff };

/** onnxruntime-web's WebGPU provider on Dawn in this process (navigator.gpu supplied), or why not. */
async function ortWebGpu(onnx: Uint8Array): Promise<number | string> {
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const dawn = create([]);
  (globalThis as Record<string, unknown>).__ortGpu = dawn;
  const g = globalThis as Record<string, unknown>;
  if (!g.navigator) g.navigator = {};
  const nav = g.navigator as Record<string, unknown>;
  Object.defineProperty(nav, 'gpu', { value: dawn, configurable: true });
  // Dawn's writeBuffer refuses views of a SharedArrayBuffer, which ORT's wasm heap is: copy them.
  const probe = await (await dawn.requestAdapter())?.requestDevice();
  if (!probe) return 'no adapter';
  type Write = (this: unknown, buf: unknown, off: number, data: ArrayBufferView, at?: number, size?: number) => void;
  const Q = Object.getPrototypeOf(probe.queue) as { writeBuffer: Write };
  const write = Q.writeBuffer;
  Q.writeBuffer = function (this: unknown, buf: unknown, off: number, data: ArrayBufferView, at = 0, size?: number) {
    if (data.buffer instanceof SharedArrayBuffer) {
      const bpe = (data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
      const n = (size ?? data.byteLength / bpe - at) * bpe;
      const copy = new Uint8Array(n);
      copy.set(new Uint8Array(data.buffer, data.byteOffset + at * bpe, n));
      return write.call(this, buf, off, copy, 0, n);
    }
    return write.call(this, buf, off, data, at, size);
  };
  const ort = (await import('onnxruntime-web/webgpu')) as typeof import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = `${ortWebDist()}/`;
  const s = await ort.InferenceSession.create(onnx, { executionProviders: ['webgpu'] });
  const x = new ort.Tensor('float32', images, [IB, 28, 28, 1]);
  const run = () => s.run({ [s.inputNames[0]]: x });
  await run();
  const t: number[] = [];
  for (let k = 0; k < trials; k++) {
    const t0 = performance.now();
    await run();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return (IB * 1000) / t[Math.floor(t.length / 2)];
}
const timeout = new Promise<string>((r) => setTimeout(() => r('did not finish in 120 s'), 120_000).unref());
const ort = await Promise.race([ortWebGpu(exportOnnx(graph)), timeout]).catch((e: Error) => e.message.split('\n')[0]);
if (typeof ort === 'number') {
  log(`  onnxruntime-web webgpu ${ort.toFixed(0)} img/s (Graduate webgpu ${(infGpu / ort).toFixed(2)}×)`);
  inference.ortWebGpu = ort;
} else {
  log(`  onnxruntime-web webgpu: not measured (${ort})`);
  inference.ortWebGpu = ort;
}
report.inference = inference;

if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2));
process.exit(0);
