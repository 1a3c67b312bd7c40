// Table lookups by int32 ids (-1 = padding, giving zeros): embedding (rows of weight[V, D] for ids
// of any shape) and embeddingbag (the mean of the rows of each bag ids[B, L]: bag-of-words text).
// Inputs are (ids, weight). Ids outside [-1, V) are refused before any read (checkValues eagerly;
// the runtime checks requests by graph/ir.ts tokenIdLimit). A graduated embedding's table may be
// int8 with one scale per row (quant axis 0: the compiler's quantize.ts): its rows are
// dequantized as they are gathered (a text model's table is most of its file).
// Training: the table's gradient is dense [V, D] (vjp) or, for tables that ask for it, the rows
// the ids touch (rowVjp: no pass over the whole table).
import type { Buf } from '../backend/backend.js';
import { fmtShape, ShapeError, ValueError } from '../errors.js';
import type { Arg, CheckCtx, Exec, Grad, Info, OpDef, Ref } from './op.js';
import { expectDtype, numel } from './rules.js';

export interface GatherAttrs {
  embedding: Record<string, never>;
  embeddingbag: Record<string, never>;
}

function checkTable(op: string, ids: Info, w: Info): void {
  if (w.shape.length !== 2) throw new ShapeError(`${op}: weight ${fmtShape(w.shape)} must be [vocab, dim]`);
  if (ids.dtype !== 'int32') throw new ShapeError(`${op}: ids ${ids.dtype}${fmtShape(ids.shape)} must be int32`);
}

function checkIds(op: string, [ids, w]: readonly Ref[]): void {
  const id = ids.data();
  const V = w.shape[0];
  for (let i = 0; i < id.length; i++) {
    if (!(id[i] >= -1 && id[i] < V))
      throw new ValueError(`${op}: token id ${id[i]} at index ${i} is outside [-1, ${V})`);
  }
}

/**
 * Ids in [-1, rows) before the kernel reads the table: the runtime's input check covers ids from
 * the graph's first input only, and ids may come from another input or be computed (int32 ops),
 * so each step checks its own (a scan of the ids; an id past the table would read other memory).
 */
function idsInRange(x: Exec, op: string, ids: Arg, rows: number): void {
  const v = x.backend.i32(ids.buf, numel(ids.shape));
  for (let i = 0; i < v.length; i++)
    if (!(v[i] >= -1 && v[i] < rows))
      throw new ValueError(`${op}: token id ${v[i]} at index ${i} is outside [-1, ${rows})`);
}

function checkIr(c: CheckCtx<unknown>, bagged: boolean): void {
  const ids = c.value(0);
  expectDtype(c, `ids '${c.n.inputs[0]}'`, ids, 'int32');
  if (bagged && ids.shape.length !== 2) c.bad(`ids '${c.n.inputs[0]}' must be [-1, L], got ${fmtShape(ids.shape)}`);
  const w = c.constant(1);
  const int8 = !bagged && w.dtype === 'int8';
  if (w.shape.length !== 2 || (w.dtype !== 'float32' && w.dtype !== 'float16' && !int8))
    c.bad(
      `weight '${c.n.inputs[1]}' must be a float${bagged ? '' : ' or int8'} [V, D] table, got ${w.dtype}${fmtShape(w.shape)}`,
    );
  if (int8 && (w.quant?.axis !== 0 || w.quant.scale.length !== w.shape[0] || w.quant.zeroPoint.some((z) => z !== 0)))
    c.bad(`int8 weight '${c.n.inputs[1]}' needs ${w.shape[0]} per-row scales (quant axis 0, zero points 0)`);
  expectDtype(c, `output '${c.n.output}'`, c.out, 'float32');
}

/**
 * out[i, :] = table[ids[i], :] · scale[ids[i]] for an int8 table (zeros for -1): a host loop over
 * a view of the output (D multiplies a token; the ids are checked as they are read).
 */
export function gatherInt8(
  table: Int8Array,
  scale: readonly number[],
  D: number,
  ids: Int32Array,
  out: Float32Array,
): void {
  const V = scale.length;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(id >= -1 && id < V)) throw new ValueError(`embedding: token id ${id} at index ${i} is outside [-1, ${V})`);
    const o = i * D;
    if (id < 0) {
      out.fill(0, o, o + D);
      continue;
    }
    const s = scale[id];
    const r = id * D;
    for (let d = 0; d < D; d++) out[o + d] = table[r + d] * s;
  }
}

/**
 * The rows that ids touch (sorted, unique, -1 skipped) and each id's index among them (slots;
 * -1 stays -1): a table gradient is then values[rows.length, D], scatter-added through the slots.
 */
export function compactRows(ids: Int32Array): { rows: Int32Array; slots: Int32Array } {
  const sorted = ids.slice().sort();
  let nnz = 0;
  for (const id of sorted) if (id >= 0 && (nnz === 0 || id !== sorted[nnz - 1])) sorted[nnz++] = id;
  const rows = sorted.slice(0, nnz);
  const slots = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0) {
      slots[i] = -1;
      continue;
    }
    let [lo, hi] = [0, nnz - 1];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (rows[mid] < ids[i]) lo = mid + 1;
      else hi = mid;
    }
    slots[i] = lo;
  }
  return { rows, slots };
}

/** A row-sparse table gradient: `add` sums dOut into values[rows, D] through the ids' slots. */
function rowGrad(g: Grad, ids: Ref, D: number, add: (slots: Buf, values: Buf) => void) {
  const { rows, slots } = compactRows(ids.data() as Int32Array);
  const values = g.alloc([rows.length, D]);
  g.backend.fill(values.buf, values.size, 0);
  const s = g.alloc(ids.shape, 'int32');
  try {
    g.backend.write(s.buf, 'int32', slots);
    add(s.buf, values.buf);
  } finally {
    s.dispose();
  }
  return { rows, values };
}

export const GATHER = {
  embedding: {
    arity: [2, 2],
    infer: ([ids, w]) => {
      checkTable('embedding', ids, w);
      return { shape: [...ids.shape, w.shape[1]], dtype: 'float32' };
    },
    checkValues: (ins) => checkIds('embedding', ins),
    check: (c) => checkIr(c, false),
    forward(x, [ids, w], out) {
      idsInRange(x, 'embedding', ids, w.shape[0]);
      x.backend.gather(w.buf, w.shape[1], ids.buf, numel(ids.shape), out.buf);
      return undefined;
    },
    vjp: (g, [ids, w], _o, _s, d, _a, needs) => {
      if (!needs[1]) return [null, null];
      const dw = g.alloc(w.shape);
      g.backend.fill(dw.buf, dw.size, 0);
      g.backend.scatterAdd(d.buf, w.shape[1], ids.buf, ids.size, dw.buf);
      return [null, dw];
    },
    rowVjp: {
      input: 1,
      vjp: (g, [ids, w], d) =>
        rowGrad(g, ids, w.shape[1], (slots, values) =>
          g.backend.scatterAdd(d.buf, w.shape[1], slots, ids.size, values),
        ),
    },
    run(p, n) {
      const w = p.constantInfo(n.inputs[1]);
      if (w?.dtype !== 'int8') return undefined; // float tables: forward's backend gather
      const table = w.data as Int8Array;
      const scale = w.quant?.scale ?? [];
      const D = w.shape[1];
      const per = numel(p.value(n.inputs[0]).shape.slice(1));
      const [ids, out, bk] = [p.buf(n.inputs[0]), p.buf(n.output), p.backend];
      // views are taken per call: an allocation may move the backend's memory
      return (B) => gatherInt8(table, scale, D, bk.i32(ids, B * per), bk.f32(out, B * per * D));
    },
    traits: {},
    onnx: (o, n) => {
      // ONNX Gather reads -1 as the last row: padding ids are clamped to 0 and their rows zeroed
      const at = n.name;
      const ids = o.raw(n.inputs[0]);
      const w = o.constant(n.inputs[1]);
      const zero = o.tensor(`${at}/zero`, [], Int32Array.of(0));
      const row = o.node('Max', [ids, zero], at);
      let rows: string;
      if (w.dtype === 'int8') {
        // int8 rows gathered, then times their row's scale (what gatherInt8 computes)
        const q = o.node('Gather', [o.tensor(n.inputs[1], [...w.shape], w.data as Int8Array), row], at, [
          { name: 'axis', i: 0 },
        ]);
        const scales = o.tensor(`${n.inputs[1]}/scale`, [w.shape[0]], w.quant?.scale ?? []);
        const s = o.node('Unsqueeze', [o.node('Gather', [scales, row], at), o.ints(`${at}/last`, [-1])], at);
        rows = o.node('Mul', [o.node('Cast', [q], at, [{ name: 'to', i: o.DT.FLOAT }]), s], at);
      } else {
        const table = o.tensor(n.inputs[1], [...w.shape], o.floatData(n.inputs[1]));
        rows = o.node('Gather', [table, row], at, [{ name: 'axis', i: 0 }]);
      }
      const valid = o.node(
        'Cast',
        [o.node('Greater', [o.node('Add', [ids, o.tensor(`${at}/one`, [], Int32Array.of(1))], at), zero], at)],
        at,
        [{ name: 'to', i: o.DT.FLOAT }],
      );
      const mask = o.node('Unsqueeze', [valid, o.ints(`${at}/axes`, [-1])], at);
      o.bind(n.output, o.node('Mul', [rows, mask], at), at, 'graduate');
    },
  } satisfies OpDef<GatherAttrs['embedding']>,
  embeddingbag: {
    arity: [2, 2],
    infer: ([ids, w]) => {
      checkTable('embeddingbag', ids, w);
      if (ids.shape.length !== 2)
        throw new ShapeError(`embeddingbag: ids ${fmtShape(ids.shape)} must be [batch, tokens]`);
      return { shape: [ids.shape[0], w.shape[1]], dtype: 'float32' };
    },
    checkValues: (ins) => checkIds('embeddingbag', ins),
    check: (c) => checkIr(c, true),
    forward(x, [ids, w], out) {
      idsInRange(x, 'embeddingbag', ids, w.shape[0]);
      const [B, L] = ids.shape;
      x.backend.embeddingBag(w.buf, w.shape[1], ids.buf, B, L, out.buf);
      return undefined;
    },
    vjp: (g, [ids, w], _o, _s, d, _a, needs) => {
      if (!needs[1]) return [null, null];
      const [B, L] = ids.shape;
      const dw = g.alloc(w.shape);
      g.backend.fill(dw.buf, dw.size, 0);
      g.backend.embeddingBagBackward(d.buf, w.shape[1], ids.buf, B, L, dw.buf);
      return [null, dw];
    },
    rowVjp: {
      input: 1,
      vjp: (g, [ids, w], d) =>
        rowGrad(g, ids, w.shape[1], (slots, values) =>
          g.backend.embeddingBagBackward(d.buf, w.shape[1], slots, ids.shape[0], ids.shape[1], values),
        ),
    },
    traits: {},
    onnx: (o, n) => {
      // the masked mean: rows of the ids ≥ 0 summed, divided by their count (an empty bag: 0 / 1 = zeros)
      const at = n.name;
      const ids = o.raw(n.inputs[0]); // [N, L]
      const w = o.constant(n.inputs[1]);
      const zero = o.tensor(`${at}/zero`, [], Int32Array.of(0));
      const table = o.tensor(n.inputs[1], [...w.shape], o.floatData(n.inputs[1]));
      const rows = o.node('Gather', [table, o.node('Max', [ids, zero], at)], at, [{ name: 'axis', i: 0 }]); // [N, L, D]
      const valid = o.node('Cast', [o.node('GreaterOrEqual', [ids, zero], at)], at, [{ name: 'to', i: o.DT.FLOAT }]);
      const masked = o.node('Mul', [rows, o.node('Unsqueeze', [valid, o.ints(`${at}/last`, [-1])], at)], at);
      const bagAxis = o.ints(`${at}/axis`, [1]);
      const sum = o.node('ReduceSum', [masked, bagAxis], at, [{ name: 'keepdims', i: 0 }]); // [N, D]
      const count = o.node('ReduceSum', [valid, bagAxis], at, [{ name: 'keepdims', i: 1 }]); // [N, 1]
      const atLeast1 = o.node('Max', [count, o.tensor(`${at}/one`, [], [1])], at);
      o.bind(n.output, o.node('Div', [sum, atLeast1], at), at, 'graduate');
    },
  } satisfies OpDef<GatherAttrs['embeddingbag']>,
} satisfies { [K in keyof GatherAttrs]: OpDef<GatherAttrs[K]> };
