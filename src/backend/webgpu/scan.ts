// WebGPU kernels: the GRU/LSTM time loop of one direction (inference). One dispatch per time step:
// invocation (n, j) computes hidden unit j of sequence n — the recurrent GEMV columns of its G gates
// over the previous state (read back from y), then the cell — so a step never reads what it writes.
// int8 weights: the state enters the GEMV as 16-bit fixed point q = round(h · 2^14) (ties to even,
// as the reference) with exact i32 sums, then f32(acc) · (scale / 2^14) per column.
// Semantics: src/backend/backend.ts (scan, prepareScan) and the reference backend.
// Not for: the training op's forward and backward (src/ops/recurrent.ts).

import { ShapeError, ValueError } from '../../errors.js';
import { type Prepared, SCAN_I8_MAX_HIDDEN, SCAN_STATE_ONE, type ScanCell } from '../backend.js';
import { bind, type GpuPrepared, iw, type KernelSpec, type Kernels, specFor } from './wgsl.js';

interface PreparedScan extends GpuPrepared {
  kind: 'webgpu-scan';
  cell: ScanCell;
  H: number;
  int8: boolean;
}

const gatesOf = (cell: ScanCell) => (cell === 'gru' ? 3 : 4);

/** Threads per workgroup along the hidden units; sequences along y. */
const WG = 64;

/** WGSL of hw(col) = the recurrent GEMV of column col (+ bias) for sequence n at step `prev`. */
function gemv(int8: boolean): string {
  // Wh[k·GH + col]: f32, or int8 bytes in u32 words; S[col] = scale / 2^14 (int8 only).
  const dot = int8
    ? `var acc = 0;
  for (var k = 0u; k < H; k++) {
    let q = i32(round(Y[o_Y + hb + k] * ${SCAN_STATE_ONE}.0));
    let b = k * GH + col;
    acc += q * extractBits(i32(Wh[o_Wh + (b >> 2u)]), (b & 3u) * 8u, 8u);
  }
  return f32(acc) * S[o_S + col] + Bh[o_Bh + col];`
    : `var acc = 0.0;
  for (var k = 0u; k < H; k++) { acc += Y[o_Y + hb + k] * Wh[o_Wh + k * GH + col]; }
  return acc + Bh[o_Bh + col];`;
  return `fn hw(col: u32, hb: u32, first: bool) -> f32 {
  $Q
  if (first) { return Bh[o_Bh + col]; }
  ${dot}
}`;
}

function cellWgsl(cell: ScanCell): string {
  return cell === 'gru'
    ? `let z = sigmoid_(X[x + j] + hw(j, hb, first));
  let r = sigmoid_(X[x + H + j] + hw(H + j, hb, first));
  let nn = tanh_(X[x + 2u * H + j] + r * hw(2u * H + j, hb, first));
  let hj = select(Y[o_Y + hb + j], 0.0, first);
  Y[o_Y + yb + j] = nn + z * (hj - nn);`
    : `let gi = sigmoid_(X[x + j] + hw(j, hb, first));
  let go = sigmoid_(X[x + H + j] + hw(H + j, hb, first));
  let gf = sigmoid_(X[x + 2u * H + j] + hw(2u * H + j, hb, first));
  let gc = tanh_(X[x + 3u * H + j] + hw(3u * H + j, hb, first));
  let cj = select(gf * Cs[o_Cs + n * H + j], 0.0, first) + gi * gc;
  Cs[o_Cs + n * H + j] = cj;
  Y[o_Y + yb + j] = go * tanh_(cj);`;
}

const PARAMS = ['H:u32', 'GH:u32', 'T:u32', 't:u32', 'prev:u32', 'firstStep:u32', 'n0:u32'];

const specs = new Map<string, KernelSpec>();
function stepSpec(cell: ScanCell, int8: boolean): KernelSpec {
  return specFor(specs, `${cell}_${int8}`, () => {
    const state = cell === 'lstm' ? ['Cs:f32!'] : [];
    const bindings = ['X:f32', int8 ? 'Wh:u32' : 'Wh:f32', 'S:f32', 'Bh:f32', ...state, 'Y:f32!'];
    // hw() needs the offsets and parameters too: it gets them from the parameter words itself.
    const lets = bindings.map((b, i) => {
      const name = b.split(':')[0];
      return `let o_${name} = pu_(${i}u) >> 2u;`;
    });
    const H = `let H = pu_(${bindings.length}u); let GH = pu_(${bindings.length + 1}u);`;
    return {
      name: `scan_${cell}_${int8 ? 'i8' : 'f32'}`,
      bindings,
      params: PARAMS,
      body: `${gemv(int8).replace('$Q', `${lets.join(' ')} ${H}`)}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u) {
  $P
  let j = gid.x;
  let n = n0 + gid.y;
  if (j >= H) { return; }
  let first = firstStep != 0u;
  let x = o_X + (n * T + t) * GH;
  let hb = (n * T + prev) * H;
  let yb = (n * T + t) * H;
  ${cellWgsl(cell)}
}`,
    };
  });
}

function upload(k: Kernels, data: Float32Array | Uint8Array): number {
  const bytes = new Uint8Array(Math.max(4, Math.ceil(data.byteLength / 4) * 4));
  bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  const buf = k.dev.alloc(bytes.length);
  k.dev.write(buf, bytes);
  return buf;
}

/** Recurrent weights wh [H, G·H] (float32, or int8 with per-column scales) and bias bh [G·H] on the device. */
export function prepareScan(
  k: Kernels,
  cell: ScanCell,
  H: number,
  wh: Float32Array | Int8Array,
  scales?: ArrayLike<number>,
  bh?: Float32Array,
): Prepared {
  const GH = gatesOf(cell) * H;
  if (!Number.isInteger(H) || H < 1)
    throw new ValueError(`prepareScan: hidden size must be a positive integer, got ${H}`);
  if (wh.length !== H * GH) throw new ShapeError(`prepareScan: ${wh.length} recurrent weights for [${H}, ${GH}]`);
  if (bh && bh.length !== GH) throw new ShapeError(`prepareScan: recurrent bias of ${bh.length} for ${GH} gate units`);
  const int8 = wh instanceof Int8Array;
  let scale = new Float32Array(1);
  if (int8) {
    if (H > SCAN_I8_MAX_HIDDEN)
      throw new ShapeError(`prepareScan: int8 weights need hidden ≤ ${SCAN_I8_MAX_HIDDEN}, got ${H}`);
    if (scales?.length !== GH) throw new ShapeError(`prepareScan: int8 weights need ${GH} column scales`);
    scale = Float32Array.from(scales, (v) => v / SCAN_STATE_ONE);
  }
  const w = int8 ? new Uint8Array(wh.buffer, wh.byteOffset, wh.byteLength) : (wh as Float32Array);
  const p: PreparedScan = {
    kind: 'webgpu-scan',
    cell,
    H,
    int8,
    bufs: [upload(k, w), upload(k, scale), upload(k, bh ?? new Float32Array(GH))],
  };
  return p;
}

/** y[N, T, H] = the states of one GRU/LSTM direction over xw[N, T, G·H] (reverse: from the last step). */
export function scan(k: Kernels, xw: number, N: number, T: number, w: Prepared, reverse: boolean, y: number): void {
  if (w.kind !== 'webgpu-scan')
    throw new ValueError(`webgpu scan: weights prepared as '${w.kind}', expected 'webgpu-scan'`);
  const { cell, H, int8, bufs } = w as PreparedScan;
  if (N <= 0 || T <= 0) return;
  const GH = gatesOf(cell) * H;
  const [wh, scale, bias] = bufs;
  const spec = stepSpec(cell, int8);
  if (N > 65535) throw new ValueError(`webgpu scan: ${N} sequences in one call (at most 65535)`);
  // the cell state of an LSTM
  const c = cell === 'lstm' ? k.dev.alloc(N * H * 4) : 0;
  try {
    const binds = [
      bind(xw, N * T * GH),
      { buf: wh, bytes: k.dev.sizeAfter(wh) },
      { buf: scale, bytes: k.dev.sizeAfter(scale) },
      bind(bias, GH),
      ...(c ? [bind(c, N * H)] : []),
      bind(y, N * T * H),
    ];
    // sequences along y, in chunks of at most 65,535 workgroups (the dispatch limit per dimension)
    for (let s = 0; s < T; s++) {
      const t = reverse ? T - 1 - s : s;
      const prev = reverse ? t + 1 : t - 1;
      for (let n0 = 0; n0 < N; n0 += 65535) {
        const grid: [number, number, number] = [Math.ceil(H / WG), Math.min(65535, N - n0), 1];
        k.run(spec, binds, [H, GH, T, t, iw(Math.max(0, Math.min(T - 1, prev))), s === 0 ? 1 : 0, n0], grid);
      }
    }
  } finally {
    if (c) k.dev.free(c);
  }
}
