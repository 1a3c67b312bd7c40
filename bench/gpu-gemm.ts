// node --import tsx bench/gpu-gemm.ts [--quick] [--json FILE] — GFLOP/s of the WebGPU backend's
// f32 GEMM (the 64×64-tile kernel) at 512³, 1024³ and 2048³, and GB/s of batch-1 gemmPrepared
// (the GEMV kernel) over f32 and f16 weights. Each trial queues a batch of calls and waits for the
// device once (backend.sync()), after a warm-up that compiles the kernels. Only meaningful on a real
// GPU; --quick (256³, 1 × 1024 × 1024) keeps it runnable on lavapipe (docs/webgpu.md).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Prepared } from '../src/backend/backend.js';
import { WebGpuBackend } from '../src/backend/webgpu/backend.js';
import { prepareWeightsF16 } from '../src/backend/webgpu/gemm.js';

const { values } = parseArgs({ options: { json: { type: 'string' }, quick: { type: 'boolean', default: false } } });
const quick = values.quick;
const CUBES = quick ? [256] : [512, 1024, 2048];
const GEMV = quick ? [1024] : [4096];
const MIN_TRIAL_MS = quick ? 200 : 100;
const TRIALS = quick ? 3 : 5;

const { backend: gpu, reason } = WebGpuBackend.open();
if (!gpu) {
  console.error(`bench/gpu-gemm: no WebGPU adapter: ${reason}`);
  process.exit(1);
}
const be = gpu;
const { vendor, architecture, device, description } = be.adapter;
console.log(`adapter: ${[vendor, architecture, device, description].filter(Boolean).join(' / ')}`);

function filled(n: number): number {
  const b = be.alloc(n * 4);
  be.write(
    b,
    'float32',
    Float32Array.from({ length: n }, () => Math.random() - 0.5),
  );
  return b;
}

/** Median ms per call of `call`: batches queued back to back, one device sync per batch. */
function timeCalls(call: () => void): number {
  for (let i = 0; i < 3; i++) call();
  be.sync();
  let batch = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) call();
    be.sync();
    const dt = performance.now() - t0;
    if (dt >= MIN_TRIAL_MS || batch >= 1 << 12) break;
    batch *= dt < MIN_TRIAL_MS / 8 ? 8 : 2;
  }
  const per: number[] = [];
  for (let t = 0; t < TRIALS; t++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) call();
    be.sync();
    per.push((performance.now() - t0) / batch);
  }
  return per.sort((a, b) => a - b)[Math.floor(per.length / 2)];
}

const rows: { case: string; ms: number; gflops: number; gbps?: number }[] = [];

for (const n of CUBES) {
  const [a, b, c] = [filled(n * n), filled(n * n), be.alloc(n * n * 4)];
  const ms = timeCalls(() => be.gemm(a, b, c, n, n, n));
  const gflops = (2 * n ** 3) / (ms * 1e6);
  rows.push({ case: `gemm ${n}³`, ms, gflops });
  console.log(`gemm ${n}x${n}x${n}: ${ms.toFixed(3)} ms, ${gflops.toFixed(1)} GFLOP/s`);
  for (const x of [a, b, c]) be.free(x);
}

for (const n of GEMV) {
  const w = Float32Array.from({ length: n * n }, () => Math.random() - 0.5);
  const [x, y] = [filled(n), be.alloc(n * 4)];
  const preps: [string, Prepared, number][] = [['f32', be.prepareWeights(w, n, n), 4]];
  if (be.kernels.f16) preps.push(['f16', prepareWeightsF16(be.kernels, w, n, n), 2]);
  for (const [kind, p, bytes] of preps) {
    const ms = timeCalls(() => be.gemmPrepared(x, 1, p, y));
    const gflops = (2 * n * n) / (ms * 1e6);
    const gbps = (n * n * bytes) / (ms * 1e6);
    rows.push({ case: `gemmPrepared 1x${n}x${n} ${kind}`, ms, gflops, gbps });
    console.log(
      `gemmPrepared 1x${n}x${n} (${kind} weights): ${ms.toFixed(3)} ms, ${gflops.toFixed(1)} GFLOP/s, ${gbps.toFixed(1)} GB/s of weights`,
    );
    be.release(p);
  }
  be.free(x);
  be.free(y);
}

if (values.json) writeFileSync(values.json, `${JSON.stringify({ adapter: be.adapter, rows }, null, 2)}\n`);
be.dispose();
