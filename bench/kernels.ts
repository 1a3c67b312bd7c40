// npm run bench:kernels [-- --json FILE] — f32 GEMM GFLOP/s of Graduate (baseline SIMD and
// relaxed-SIMD FMA builds, 1 and 2 threads) against TensorFlow.js's wasm backend, same run,
// same machine, and the ratios the engine issue sets as targets.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Engine, type EngineOptions } from '../src/kernels/engine.js';
import { detectFeatures } from '../src/kernels/features.js';
import { freePacked, gemmPacked, packB } from '../src/kernels/gemm.js';
import { loadTfWasm } from './peers.js';
import { timeMs } from './timing.js';

const { values } = parseArgs({ options: { json: { type: 'string' }, quick: { type: 'boolean', default: false } } });
const SHAPES: [number, number, number][] = [
  [512, 512, 512],
  [64, 784, 256],
  [1, 784, 256],
  [43264, 9, 32],
  [7744, 288, 64],
];
const label = ([M, K, N]: [number, number, number]) => `M${M}·K${K}·N${N}`;
const trialOpts = values.quick ? { minTrialMs: 20, trials: 3 } : {};

function randomFill(e: Engine, ptr: number, n: number): void {
  const f = e.f32;
  for (let i = 0; i < n; i++) f[(ptr >> 2) + i] = Math.random() - 0.5;
}

function graduateGflops(opts: EngineOptions, [M, K, N]: [number, number, number]): number {
  const e = Engine.create(opts);
  try {
    const a = e.alloc(M * K * 4);
    const b = e.alloc(K * N * 4);
    const c = e.alloc(M * N * 4);
    randomFill(e, a, M * K);
    randomFill(e, b, K * N);
    const packed = packB(e, b, K, N); // weights packed once, as inference and a training step do
    const ms = timeMs(() => gemmPacked(e, a, M, packed, c), trialOpts);
    freePacked(e, packed);
    return (2 * M * K * N) / ms / 1e6;
  } finally {
    e.dispose();
  }
}

const features = detectFeatures();
const configs: { key: string; opts: EngineOptions }[] = [
  { key: 'simd-1t', opts: { isa: 'simd', threads: 1 } },
  ...(features.relaxedSimd ? [{ key: 'fma-1t', opts: { isa: 'relaxed' as const, threads: 1 } }] : []),
  { key: 'simd-2t', opts: { isa: 'simd', threads: 2 } },
  ...(features.relaxedSimd ? [{ key: 'fma-2t', opts: { isa: 'relaxed' as const, threads: 2 } }] : []),
];
if (!features.relaxedSimd)
  console.warn('relaxed SIMD unavailable: run with node --experimental-wasm-relaxed-simd (npm run bench:kernels does)');

const tf = await loadTfWasm();
const results: Record<string, Record<string, number>> = {};
for (const shape of SHAPES) {
  const row: Record<string, number> = {};
  for (const { key, opts } of configs) row[key] = graduateGflops(opts, shape);
  const [M, K, N] = shape;
  const a = tf.randomNormal([M, K]);
  const b = tf.randomNormal([K, N]);
  const ms = timeMs(() => tf.matMul(a, b).dispose(), trialOpts);
  a.dispose();
  b.dispose();
  row['tfjs-wasm'] = (2 * M * K * N) / ms / 1e6;
  results[label(shape)] = row;
  console.error(`measured ${label(shape)}`);
}

const cols = [...configs.map((c) => c.key), 'tfjs-wasm'];
const pad = (s: string, n: number) => s.padStart(n);
console.log(`\nf32 GEMM, GFLOP/s (B pre-packed; median of trials) — ${new Date().toISOString()}`);
console.log(
  `${'shape'.padEnd(18)}${cols.map((c) => pad(c, 11)).join('')}${pad('fma/tfjs', 10)}${pad('simd/tfjs', 10)}${pad('2t/1t', 8)}`,
);
for (const [shape, row] of Object.entries(results)) {
  const best1 = row['fma-1t'] ?? row['simd-1t'];
  const best2 = row['fma-2t'] ?? row['simd-2t'];
  console.log(
    `${shape.padEnd(18)}${cols.map((c) => pad(row[c]?.toFixed(1) ?? '-', 11)).join('')}` +
      `${pad(row['fma-1t'] ? (row['fma-1t'] / row['tfjs-wasm']).toFixed(2) : '-', 10)}` +
      `${pad((row['simd-1t'] / row['tfjs-wasm']).toFixed(2), 10)}${pad((best2 / best1).toFixed(2), 8)}`,
  );
}

const r512 = results[label(SHAPES[0])];
const r64 = results[label(SHAPES[1])];
const targets = [
  ['1 thread FMA ≥ 1.5× tfjs-wasm on 512³', (r512['fma-1t'] ?? 0) / r512['tfjs-wasm'], 1.5],
  ['1 thread FMA ≥ 1.5× tfjs-wasm on M64·K784·N256', (r64['fma-1t'] ?? 0) / r64['tfjs-wasm'], 1.5],
  ['1 thread no-FMA ≥ 1.2× tfjs-wasm on 512³', r512['simd-1t'] / r512['tfjs-wasm'], 1.2],
  ['1 thread no-FMA ≥ 1.2× tfjs-wasm on M64·K784·N256', r64['simd-1t'] / r64['tfjs-wasm'], 1.2],
  ['2 threads ≥ 1.7× 1 thread on 512³', (r512['fma-2t'] ?? r512['simd-2t']) / (r512['fma-1t'] ?? r512['simd-1t']), 1.7],
] as const;
console.log('\ntargets');
for (const [name, value, goal] of targets)
  console.log(`  ${value >= goal ? 'MET ' : 'MISS'} ${name}: ${value.toFixed(2)}×`);

if (values.json) {
  const payload = {
    date: new Date().toISOString(),
    node: process.version,
    features,
    gflops: results,
    targets: targets.map(([name, value, goal]) => ({ name, value, goal, met: value >= goal })),
  };
  writeFileSync(values.json, `${JSON.stringify(payload, null, 2)}\n`);
  console.log(`wrote ${values.json}`);
}
