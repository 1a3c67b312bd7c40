// The backends' recurrent scan (rnnscan's runtime step): the wasm kernel against the reference
// backend, the reference against the training op's forward (rnnscan with its saved gates) and a
// GRU step by hand; int8 weights against the same weights in float (the state's 16-bit fixed
// point and the per-column weight scales cost little), odd hidden sizes, 1 and 2 threads, reverse;
// WebGPU beside wasm where an adapter exists.
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend, Buf, Prepared, ScanCell } from '../../src/backend/backend.js';
import { ReferenceBackend } from '../../src/backend/reference.js';
import { WasmBackend } from '../../src/backend/wasm.js';
import { RECURRENT } from '../../src/ops/recurrent.js';
import { expectClose, rand } from '../helpers.js';
import { testGpu } from './gpu.js';

const ref = new ReferenceBackend();
const wasm = [WasmBackend.create({ threads: 1 }), WasmBackend.create({ threads: 2 })];
/** The backends checked against the reference: wasm at 1 and 2 threads, and WebGPU where an adapter exists. */
const devices: Backend[] = [...wasm, ...testGpu('the scan tests')];
afterAll(() => {
  for (const b of [ref, ...wasm]) b.dispose();
});

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

function runScan(be: Backend, c: Case, xw: Float32Array, prepare: (be: Backend) => Prepared): Float32Array {
  const [x, y]: Buf[] = [be.alloc(xw.length * 4), be.alloc(c.N * c.T * c.H * 4)];
  const p = prepare(be);
  try {
    be.write(x, 'float32', xw);
    be.scan(x, c.N, c.T, p, c.reverse, y);
    return be.read(y, 'float32', c.N * c.T * c.H) as Float32Array;
  } finally {
    be.release(p);
    be.free(x);
    be.free(y);
  }
}

/** The training op's forward (gates kept for the vjp) on the reference backend. */
function trainingForward(c: Case, xw: Float32Array, wh: Float32Array, bh: Float32Array | undefined): Float32Array {
  const GH = gates(c.cell) * c.H;
  const temps: Buf[] = [];
  const arg = (shape: number[], data?: Float32Array) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const buf = ref.alloc(n * 4);
    temps.push(buf);
    if (data) ref.write(buf, 'float32', data);
    return { buf, shape, dtype: 'float32' as const };
  };
  const ins = [arg([c.N, c.T, GH], xw), arg([c.H, GH], wh), ...(bh ? [arg([GH], bh)] : [])];
  const out = arg([c.N, c.T, c.H]);
  RECURRENT.rnnscan.forward({ backend: ref, temp: (shape) => arg([...shape]) }, ins, out, {
    cell: c.cell,
    hidden: c.H,
    reverse: c.reverse,
  });
  const y = ref.read(out.buf, 'float32', c.N * c.T * c.H) as Float32Array;
  for (const b of temps) ref.free(b);
  return y;
}

const CASES: Case[] = [];
for (const cell of ['gru', 'lstm'] as const)
  for (const [N, T, H] of [
    [1, 1, 1],
    [3, 7, 5],
    [5, 4, 13],
    [2, 9, 64],
    [7, 3, 21],
    [2, 5, 65], // one past a WebGPU workgroup
  ])
    for (const reverse of [false, true]) CASES.push({ cell, N, T, H, reverse, bias: (N + H) % 2 === 0 });

describe('scan: float32 weights', () => {
  it.each(CASES)('$cell N=$N T=$T H=$H reverse=$reverse bias=$bias: wasm = reference = training forward', (c) => {
    const { xw, wh, bh } = inputs(c, c.N * 7 + c.H);
    const b = c.bias ? bh : undefined;
    const want = trainingForward(c, xw, wh, b);
    const prepare = (be: Backend) => be.prepareScan(c.cell, c.H, wh, undefined, b);
    expectClose(runScan(ref, c, xw, prepare), want, 1e-5, 1e-4);
    for (const be of devices) expectClose(runScan(be, c, xw, prepare), want, 1e-5, 1e-4);
  });

  it('a GRU of one unit by hand', () => {
    // x = [z, r, n] pre-activations 0.5, −1, 2 at t = 0 and 0, 0, 0 at t = 1; wh = [1, 2, 3], bh = [0.1, 0.2, 0.3]
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const c: Case = { cell: 'gru', N: 1, T: 2, H: 1, reverse: false, bias: true };
    const [wh, bh] = [Float32Array.of(1, 2, 3), Float32Array.of(0.1, 0.2, 0.3)];
    // t = 0: h = 0, so hw = bh
    const n0 = Math.tanh(2 + sig(-1 + 0.2) * 0.3);
    const h0 = n0 + sig(0.5 + 0.1) * (0 - n0);
    const n1 = Math.tanh(0 + sig(2 * h0 + 0.2) * (3 * h0 + 0.3));
    const h1 = n1 + sig(h0 + 0.1) * (h0 - n1);
    const xw = Float32Array.of(0.5, -1, 2, 0, 0, 0);
    for (const be of [ref, ...devices])
      expectClose(
        runScan(be, c, xw, (b) => b.prepareScan('gru', 1, wh, undefined, bh)),
        [h0, h1],
        1e-6,
        1e-5,
      );
  });
});

describe('scan: int8 weights (16-bit fixed-point state)', () => {
  // wasm and reference compute the gates in float32 and float64: a state at a rounding boundary of
  // the fixed point may round apart, moving a later value by ~1e-5
  it.each(CASES)('$cell N=$N T=$T H=$H reverse=$reverse: wasm = reference; close to float', (c) => {
    const GH = gates(c.cell) * c.H;
    const { xw, wh, bh } = inputs(c, c.N * 11 + c.H);
    const { q, scales, deq } = int8Weights(wh, c.H, GH);
    const b = c.bias ? bh : undefined;
    const got = runScan(ref, c, xw, (be) => be.prepareScan(c.cell, c.H, q, scales, b));
    for (const be of devices)
      expectClose(
        runScan(be, c, xw, (x) => x.prepareScan(c.cell, c.H, q, scales, b)),
        got,
        2e-5,
        1e-4,
      );
    // the same int8 weights in float: only the state's rounding (2^-15) separates them
    const float = runScan(ref, c, xw, (be) => be.prepareScan(c.cell, c.H, deq, undefined, b));
    expectClose(got, float, 1e-3, 0);
  });

  it('refuses what the kernel cannot hold', () => {
    expect(() => ref.prepareScan('lstm', 2, new Float32Array(12))).toThrow(/12 recurrent weights for \[2, 8\]/);
    for (const be of devices) {
      expect(() => be.prepareScan('gru', 2, new Int8Array(12), new Float32Array(5))).toThrow(/6 column scales/);
      expect(() => be.prepareScan('lstm', 2, new Float32Array(12))).toThrow(/12 recurrent weights for \[2, 8\]/);
      expect(() => be.prepareScan('gru', 1025, new Int8Array(1025 * 3075), new Float32Array(3075))).toThrow(
        /hidden ≤ 1024/,
      );
    }
  });
});
