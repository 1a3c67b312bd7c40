// npm run bench:int8 — int8 GEMM (gemmInt8, int8 in/out with fused requantization) GOP/s against
// the f32 GEMM (gemmPacked, baseline mul+add and relaxed-SIMD FMA builds) GFLOP/s on the same
// shapes, same run, 1 and 2 threads, and their ratio. Weights packed once, as in inference.
import { Engine, type EngineOptions } from '../src/kernels/engine.js';
import { detectFeatures } from '../src/kernels/features.js';
import { freePacked, gemmPacked, packB } from '../src/kernels/gemm.js';
import { freePackedB8, gemmInt8, packB8 } from '../src/kernels/int8.js';
import { timeMs } from './timing.js';

type Shape = [M: number, K: number, N: number];
const SHAPES: Shape[] = [
  [512, 512, 512],
  [64, 784, 256],
  [7744, 288, 64],
];
const label = ([M, K, N]: Shape) => `M${M}·K${K}·N${N}`;
const quick = process.argv.includes('--quick');
const trialOpts = quick ? { minTrialMs: 20, trials: 3 } : {};

function f32Gflops(opts: EngineOptions, [M, K, N]: Shape): number {
  const e = Engine.create(opts);
  try {
    const a = e.alloc(M * K * 4);
    const b = e.alloc(K * N * 4);
    const c = e.alloc(M * N * 4);
    const f = e.f32;
    for (let i = 0; i < M * K; i++) f[a / 4 + i] = Math.random() - 0.5;
    for (let i = 0; i < K * N; i++) f[b / 4 + i] = Math.random() - 0.5;
    const packed = packB(e, b, K, N);
    const ms = timeMs(() => gemmPacked(e, a, M, packed, c), trialOpts);
    freePacked(e, packed);
    return (2 * M * K * N) / ms / 1e6;
  } finally {
    e.dispose();
  }
}

function int8Gops(opts: EngineOptions, [M, K, N]: Shape): number {
  const e = Engine.create(opts);
  try {
    const x = e.alloc(M * K);
    const w = e.alloc(K * N);
    const y = e.alloc(M * N);
    const i8 = new Int8Array(e.memory.buffer);
    for (let i = 0; i < M * K; i++) i8[x + i] = Math.floor(Math.random() * 256) - 128;
    for (let i = 0; i < K * N; i++) i8[w + i] = Math.floor(Math.random() * 255) - 127;
    const packed = packB8(e, w, K, N, new Float32Array(N).fill(0.01));
    const out = { kind: 'int8', scale: 0.5, zeroPoint: 3 } as const;
    const ms = timeMs(() => gemmInt8(e, x, M, 0.02, -5, packed, y, { out }), trialOpts);
    freePackedB8(e, packed);
    return (2 * M * K * N) / ms / 1e6;
  } finally {
    e.dispose();
  }
}

const relaxed = detectFeatures().relaxedSimd;
if (!relaxed) console.warn('relaxed SIMD unavailable: f32 FMA column skipped (npm run bench:int8 passes the flag)');
const pad = (s: string, n: number) => s.padStart(n);
const cols = ['f32 simd', ...(relaxed ? ['f32 fma'] : []), 'int8', 'int8/simd', ...(relaxed ? ['int8/fma'] : [])];
console.log(`\nint8 GEMM GOP/s vs f32 GEMM GFLOP/s (B pre-packed; median of trials) — ${new Date().toISOString()}`);
console.log(`${'shape'.padEnd(18)}${'thr'.padStart(4)}${cols.map((c) => pad(c, 11)).join('')}`);
for (const shape of SHAPES) {
  for (const threads of [1, 2]) {
    const simd = f32Gflops({ isa: 'simd', threads }, shape);
    const fma = relaxed ? f32Gflops({ isa: 'relaxed', threads }, shape) : 0;
    // The int8 kernels are the same code on both builds (dot_i16x8_s, no relaxed instructions).
    const int8 = int8Gops({ isa: 'simd', threads }, shape);
    const vals = [simd, ...(relaxed ? [fma] : []), int8];
    const ratios = [int8 / simd, ...(relaxed ? [int8 / fma] : [])];
    console.log(
      `${label(shape).padEnd(18)}${pad(String(threads), 4)}${vals.map((v) => pad(v.toFixed(1), 11)).join('')}` +
        `${ratios.map((r) => pad(`${r.toFixed(2)}×`, 11)).join('')}`,
    );
  }
}
