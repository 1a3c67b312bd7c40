// Recurrent scans on the engine: weights packed once for as/recurrent.ts (f32 as is; int8 as i16
// k-pairs with per-column scales ÷ 2^14, the state's fixed-point step) and the call that runs
// one GRU/LSTM direction's whole time loop in the kernel, rows split across the pool.
// Not for: training (src/ops/recurrent.ts keeps the gates for the vjp), choosing int8 (the compiler).
import { ShapeError } from '../errors.js';
import type { Engine } from './engine.js';

/** Recurrent cells of scan: GRU (gates z, r, n) and LSTM (gates i, o, f, c). */
export type ScanCell = 'gru' | 'lstm';
/** The fixed-point step of the state in an int8 scan's recurrent GEMV: q = round(h · 2^14), |h| < 1. */
export const SCAN_STATE_ONE = 1 << 14;
/** Largest hidden size of an int8 scan: H · 2^14 · 127 must stay inside an int32 accumulator. */
export const SCAN_I8_MAX_HIDDEN = 1024;

/** Recurrent weights packed for scan (engine memory; free with freeScan). */
export interface PackedScan {
  readonly cell: ScanCell;
  readonly H: number;
  readonly int8: boolean;
  /** wh: f32 [H, GH], or i16 k-pairs [ceil(H/2)][GH4][2]. */
  readonly wh: number;
  /** f32 [GH4] (int8: weight scale / 2^14, 0 past GH), or 0. */
  readonly scale: number;
  /** f32 [GH], or 0 (no recurrent bias). */
  readonly bh: number;
}

const gatesOf = (cell: ScanCell) => (cell === 'gru' ? 3 : 4);

/**
 * Packs wh [H, G·H] (float32, or int8 with one scale per column) and the optional bias bh [G·H]
 * for scan.
 */
export function packScan(
  e: Engine,
  cell: ScanCell,
  H: number,
  wh: Float32Array | Int8Array,
  scales?: ArrayLike<number>,
  bh?: Float32Array,
): PackedScan {
  const GH = gatesOf(cell) * H;
  const GH4 = (GH + 3) & ~3;
  if (wh.length !== H * GH) throw new ShapeError(`scan: ${wh.length} recurrent weights for [${H}, ${GH}]`);
  if (bh && bh.length !== GH) throw new ShapeError(`scan: recurrent bias of ${bh.length} for ${GH} gate units`);
  let bias = 0;
  if (bh) {
    bias = e.alloc(GH * 4);
    e.f32.set(bh, bias >> 2);
  }
  if (wh instanceof Float32Array) {
    const w = e.alloc(wh.byteLength);
    e.f32.set(wh, w >> 2);
    return { cell, H, int8: false, wh: w, scale: 0, bh: bias };
  }
  if (H > SCAN_I8_MAX_HIDDEN) throw new ShapeError(`scan: int8 weights need hidden ≤ ${SCAN_I8_MAX_HIDDEN}, got ${H}`);
  if (!scales || scales.length !== GH) throw new ShapeError(`scan: int8 weights need ${GH} column scales`);
  const P = (H + 1) >> 1;
  const pairs = new Int16Array(P * GH4 * 2);
  for (let k = 0; k < H; k++) for (let j = 0; j < GH; j++) pairs[((k >> 1) * GH4 + j) * 2 + (k & 1)] = wh[k * GH + j];
  const w = e.alloc(pairs.byteLength);
  e.u8.set(new Uint8Array(pairs.buffer), w);
  const scale = e.alloc(GH4 * 4);
  const sv = e.f32.subarray(scale >> 2, (scale >> 2) + GH4);
  sv.fill(0);
  for (let j = 0; j < GH; j++) sv[j] = scales[j] / SCAN_STATE_ONE;
  return { cell, H, int8: true, wh: w, scale, bh: bias };
}

export function freeScan(e: Engine, p: PackedScan): void {
  for (const b of [p.wh, p.scale, p.bh]) if (b) e.free(b);
}

/** y[N, T, H] = every step's hidden state of one direction over xw[N, T, G·H] (h = c = 0 at t = start). */
export function scan(e: Engine, xw: number, N: number, T: number, p: PackedScan, reverse: boolean, y: number): void {
  const { H } = p;
  const GH4 = (gatesOf(p.cell) * H + 3) & ~3;
  const Hp = (H + 1) & ~1;
  const state = e.alloc(N * 2 * H * 4);
  const hw = e.alloc(N * GH4 * 4);
  const qh = p.int8 ? e.alloc(N * Hp * 2) : 0;
  const cell = p.cell === 'gru' ? 0 : 1;
  // a row is T steps of an H × G·H GEMV: worth a thread from a few rows on
  const minRows = Math.max(1, Math.ceil(2e5 / Math.max(1, T * H * gatesOf(p.cell) * H)));
  try {
    const args = [cell, xw, p.wh, p.scale, p.bh, T, H, reverse ? 1 : 0, y, state, hw, qh];
    e.split('rnn_scan', args, N, 1, minRows);
  } finally {
    e.free(state);
    e.free(hw);
    if (qh) e.free(qh);
  }
}
