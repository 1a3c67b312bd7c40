// The WebGPU recurrent scan against the reference backend, with the comparisons of scan.test.ts
// (which pins the reference to the training op's forward and a GRU by hand): float32 weights,
// int8 weights with the 16-bit fixed-point state (and close to the same weights in float), GRU and
// LSTM, reverse, with and without bias, odd hidden sizes and one past a workgroup (65), inputs at
// an offset inside a larger buffer. Skipped where no WebGPU adapter exists (test/backend/gpu.ts).
import { describe, expect, it } from 'vitest';
import type { Backend, Buf, Prepared, ScanCell } from '../../src/backend/backend.js';
import { ReferenceBackend } from '../../src/backend/reference.js';
import { expectClose, rand } from '../helpers.js';
import { gpuBackend } from './gpu.js';

const gpu = gpuBackend('the WebGPU scan tests');
const ref = new ReferenceBackend();

interface Case {
  cell: ScanCell;
  N: number;
  T: number;
  H: number;
  reverse: boolean;
  bias: boolean;
}
const gates = (c: ScanCell) => (c === 'gru' ? 3 : 4);

function inputs({ cell, N, T, H }: Case, seed: number) {
  const GH = gates(cell) * H;
  const s = 1 / Math.sqrt(H);
  return {
    xw: rand(N * T * GH, seed).map((v) => 2 * v),
    wh: rand(H * GH, seed + 1).map((v) => v * s * 2),
    bh: rand(GH, seed + 2).map((v) => v * s),
  };
}

/** Per-column symmetric int8 weights and their scales (as the compiler quantizes). */
function int8Weights(wh: Float32Array, H: number, GH: number) {
  const scales = new Float32Array(GH);
  for (let j = 0; j < GH; j++) {
    let m = 0;
    for (let k = 0; k < H; k++) m = Math.max(m, Math.abs(wh[k * GH + j]));
    scales[j] = m > 0 ? m / 127 : 1;
  }
  const q = Int8Array.from(wh, (v, i) => Math.round(v / scales[i % GH]));
  return { q, scales, deq: Float32Array.from(q, (v, i) => v * scales[i % GH]) };
}

/** y of one scan, xw placed 3 floats into its buffer. */
function runScan(be: Backend, c: Case, xw: Float32Array, prepare: (be: Backend) => Prepared): Float32Array {
  const [x, y]: Buf[] = [be.alloc((xw.length + 3) * 4), be.alloc(c.N * c.T * c.H * 4)];
  const p = prepare(be);
  try {
    be.write(x, 'float32', xw, 3);
    be.scan(x + 12, c.N, c.T, p, c.reverse, y);
    return be.read(y, 'float32', c.N * c.T * c.H) as Float32Array;
  } finally {
    be.release(p);
    be.free(x);
    be.free(y);
  }
}

const CASES: Case[] = [];
for (const cell of ['gru', 'lstm'] as const)
  for (const [N, T, H] of [
    [1, 1, 1],
    [3, 7, 5],
    [5, 4, 13],
    [2, 9, 64],
    [7, 3, 21],
    [2, 5, 65],
  ])
    for (const reverse of [false, true]) CASES.push({ cell, N, T, H, reverse, bias: (N + H) % 2 === 0 });

describe('webgpu scan', () => {
  it.skipIf(!gpu).each(CASES)('float32 $cell N=$N T=$T H=$H reverse=$reverse bias=$bias', (c) => {
    if (!gpu) return;
    const { xw, wh, bh } = inputs(c, c.N * 7 + c.H);
    const b = c.bias ? bh : undefined;
    const prepare = (be: Backend) => be.prepareScan(c.cell, c.H, wh, undefined, b);
    expectClose(runScan(gpu, c, xw, prepare), runScan(ref, c, xw, prepare), 1e-5, 1e-4);
  });

  // the gates in float32 (here) and float64 (reference): a state at a rounding boundary of the
  // fixed point may round apart, moving a later value by ~1e-5 (as scan.test.ts allows wasm)
  it.skipIf(!gpu).each(CASES)('int8 $cell N=$N T=$T H=$H reverse=$reverse: = reference; close to float', (c) => {
    if (!gpu) return;
    const GH = gates(c.cell) * c.H;
    const { xw, wh, bh } = inputs(c, c.N * 11 + c.H);
    const { q, scales, deq } = int8Weights(wh, c.H, GH);
    const b = c.bias ? bh : undefined;
    const got = runScan(gpu, c, xw, (be) => be.prepareScan(c.cell, c.H, q, scales, b));
    expectClose(
      got,
      runScan(ref, c, xw, (be) => be.prepareScan(c.cell, c.H, q, scales, b)),
      2e-5,
      1e-4,
    );
    const float = runScan(ref, c, xw, (be) => be.prepareScan(c.cell, c.H, deq, undefined, b));
    expectClose(got, float, 1e-3, 0);
  });

  it.skipIf(!gpu)('refuses what the kernel cannot hold', () => {
    expect(() => gpu?.prepareScan('gru', 2, new Int8Array(12), new Float32Array(5))).toThrow(/6 column scales/);
    expect(() => gpu?.prepareScan('lstm', 2, new Float32Array(12))).toThrow(/12 recurrent weights for \[2, 8\]/);
    expect(() => gpu?.prepareScan('gru', 1025, new Int8Array(1025 * 3075), new Float32Array(3075))).toThrow(
      /hidden ≤ 1024/,
    );
  });
});
