// One test of ONNX's backend test suite through Graduate (import → Session → compare), shared by
// `npm run conformance` (bench/conformance.ts) and test/onnx/conformance.test.ts.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraduateError } from '../../src/errors.js';
import type { Graph } from '../../src/graph/ir.js';
import { TensorReader } from '../../src/onnx/import/tensors.js';
import { importOnnx } from '../../src/onnx/import.js';
import { onnx, type TensorProto } from '../../src/onnx/proto.js';
import { Session } from '../../src/runtime/session.js';

export interface ConformanceResult {
  folder: string;
  test: string;
  /** Op types of the model's graph (sorted, unique). */
  ops: string[];
  status: 'pass' | 'fail' | 'unsupported' | 'error';
  /** Why it is not a pass, with file paths and node names cut (for counting). */
  reason?: string;
  /** The full message or the worst difference. */
  detail?: string;
  /** Inputs fixed to the test data's values at import (shape/axes inputs; ImportOptions.constants). */
  frozen?: string[];
}

const RTOL = 1e-3;
const ATOL = 1e-7;

/** A TensorProto's dims and values (every numeric type and bool; others: undefined). */
function values(t: TensorProto): { dims: number[]; data: Float32Array | Int32Array; int: boolean } | undefined {
  let c: { dims: number[]; data: Float32Array | Float64Array; int: boolean };
  try {
    c = new TensorReader('test data', '.', (m) => {
      throw new Error(m);
    }).read(t);
  } catch {
    return undefined;
  }
  if (!c.int) return { dims: c.dims, data: Float32Array.from(c.data), int: false };
  if (c.data.some((v) => v < -(2 ** 31) || v >= 2 ** 31)) return undefined;
  return { dims: c.dims, data: Int32Array.from(c.data), int: true };
}

/** NCHW → NHWC of a [N, C, H, W] tensor. */
function toNhwc(x: Float32Array | Int32Array, [N, C, H, W]: number[]): Float32Array | Int32Array {
  const out = new (x.constructor as { new (n: number): Float32Array | Int32Array })(x.length);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) out[((n * H + h) * W + w) * C + c] = x[((n * C + c) * H + h) * W + w];
  return out;
}

/** A refusal's message with the file path and node names cut, so equal reasons count together. */
function reasonOf(msg: string, path: string): string {
  return msg
    .replace(path, 'model.onnx')
    .replace(/^model\.onnx: /, '')
    .replace(/node '[^']*' /g, '')
    .replace(/'[^']*'/g, "'…'")
    .replace(/\[[\d, -]+\]/g, '[…]')
    .slice(0, 160);
}

export function runConformanceTest(dir: string, folder: string, test: string): ConformanceResult {
  const path = join(dir, test, 'model.onnx');
  const bytes = readFileSync(path);
  let ops: string[] = [];
  try {
    const m = onnx.ModelProto.decode(bytes);
    ops = [...new Set((m.graph?.node ?? []).map((n) => `${n.domain ? `${n.domain}:` : ''}${n.opType}`))].sort();
  } catch {
    // an undecodable model: import says why
  }
  const base = { folder, test, ops };
  const sets = readdirSync(join(dir, test))
    .filter((d) => d.startsWith('test_data_set_'))
    .sort();
  const read = (set: string, f: string) => values(onnx.TensorProto.decode(readFileSync(join(dir, test, set, f))));
  const files = (set: string, prefix: string) =>
    readdirSync(join(dir, test, set))
      .filter((f) => f.startsWith(prefix))
      .sort((a, b) => Number(a.replace(/\D/g, '')) - Number(b.replace(/\D/g, '')));
  const m0 = (() => {
    try {
      return onnx.ModelProto.decode(bytes);
    } catch {
      return undefined;
    }
  })();
  const inits = new Set((m0?.graph?.initializer ?? []).map((t) => t.name));
  const names = (m0?.graph?.input ?? []).map((i) => i.name ?? '').filter((n) => !inits.has(n));
  let g: Graph;
  let frozen: string[] = [];
  try {
    g = importOnnx(bytes, path);
  } catch (e) {
    // inputs with symbolic sizes: fixed to the test data's shapes (as a user gives them); an input
    // that import needs as a constant (a shape, axes, scales: it names the graph input) is fixed to
    // the test data's value, as `graduate import --fix-input` does — when every data set agrees
    const symbolic = e instanceof GraduateError && /symbolic|has no shape/.test(e.message);
    const named = (m: unknown) =>
      m instanceof GraduateError
        ? /computed from graph input ((?:'[^']+'(?:, )?)+)/
            .exec(m.message)?.[1]
            .split(', ')
            .map((q) => q.slice(1, -1))
        : undefined;
    try {
      if (!(symbolic || named(e)) || !sets.length) throw e;
      const shapes: Record<string, number[]> = {};
      const data = new Map<string, { shape: number[]; data: ArrayLike<number> }>();
      files(sets[0], 'input_').forEach((f, i) => {
        const v = read(sets[0], f);
        if (!v || names[i] === undefined) return;
        shapes[names[i]] = v.dims;
        const same = sets.every((s2) => {
          const w = read(s2, f);
          return w && w.data.length === v.data.length && w.data.every((d, k) => d === v.data[k]);
        });
        if (same) data.set(names[i], { shape: v.dims, data: v.data });
      });
      const constants: Record<string, { shape: number[]; data: ArrayLike<number> }> = {};
      let want = named(e);
      for (;;) {
        for (const name of want ?? []) {
          const value = data.get(name);
          if (!value || constants[name]) throw e;
          constants[name] = value;
        }
        frozen = Object.keys(constants);
        try {
          g = importOnnx(bytes, path, { shapes, ...(frozen.length ? { constants } : {}) });
          break;
        } catch (e3) {
          want = named(e3);
          if (want === undefined) throw e3;
        }
      }
    } catch (e2) {
      if (e2 instanceof GraduateError)
        return { ...base, status: 'unsupported', reason: reasonOf(e2.message, path), detail: e2.message };
      return {
        ...base,
        status: 'error',
        reason: `import crashed: ${(e2 as Error).message}`,
        detail: (e2 as Error).stack,
      };
    }
  }
  let worst = 0;
  const layout = (g.meta.onnx as { inputLayout?: string } | undefined)?.inputLayout;
  for (const set of sets) {
    const inputs = files(set, 'input_')
      .filter((_, i) => !frozen.includes(names[i]))
      .map((f) => read(set, f));
    const outputs = files(set, 'output_').map((f) => read(set, f));
    if (inputs.length !== g.inputs.length)
      return {
        ...base,
        status: 'unsupported',
        reason: `${inputs.length} inputs in the test data, ${g.inputs.length} in the graph`,
      };
    if (inputs.some((x) => !x) || outputs.some((x) => !x))
      return { ...base, status: 'unsupported', reason: 'test data of a type the runner does not read' };
    // bfloat16 test data is stored as its uint16 bits: read as the model declares it
    const io = g.meta.onnx as { inputs?: { elemType: number }[]; outputs?: { elemType: number }[] } | undefined;
    const bf16 = (x: NonNullable<(typeof inputs)[number]>, elem?: number) =>
      elem === 16 && x.int
        ? {
            ...x,
            int: false,
            data: Float32Array.from(x.data, (b) => new Float32Array(new Uint32Array([b << 16]).buffer)[0]),
          }
        : x;
    const xs = (inputs as NonNullable<(typeof inputs)[number]>[]).map((x, i) => bf16(x, io?.inputs?.[i]?.elemType));
    const wants = (outputs as NonNullable<(typeof outputs)[number]>[]).map((x, i) =>
      bf16(x, io?.outputs?.[i]?.elemType),
    );
    // the batch: the first axis of batched inputs; fixed-shape graphs run once
    const batchedAt = g.inputs.findIndex((v) => g.values[v].shape[0] === -1);
    const N = batchedAt >= 0 ? (xs[batchedAt].dims[0] ?? 1) : 1;
    const feed = xs.map((x, i) => {
      const v = g.values[g.inputs[i]];
      const data = v.dtype === 'int32' ? Int32Array.from(x.data) : Float32Array.from(x.data);
      return layout === 'NCHW' && x.dims.length === 4 ? toNhwc(data, x.dims) : data;
    });
    let got: (Float32Array | Int32Array)[];
    try {
      const s = new Session(g, { maxBatch: Math.max(1, N) });
      try {
        got = s.runAll(feed, Math.max(1, N));
      } finally {
        s.dispose();
      }
    } catch (e) {
      if (e instanceof GraduateError)
        return { ...base, status: 'unsupported', reason: reasonOf(e.message, path), detail: e.message };
      return { ...base, status: 'error', reason: `run crashed: ${(e as Error).message}`, detail: (e as Error).stack };
    }
    if (got.length !== wants.length)
      return { ...base, status: 'fail', reason: 'output count differs', detail: `${got.length} vs ${wants.length}` };
    for (const [k, want] of wants.entries()) {
      const y = got[k];
      if (y.length !== want.data.length)
        return {
          ...base,
          status: 'fail',
          reason: 'output size differs',
          detail: `output ${k}: ${y.length} values, expected ${want.data.length}`,
        };
      for (let i = 0; i < y.length; i++) {
        const w = want.data[i];
        if (Number.isNaN(w) && Number.isNaN(y[i])) continue;
        const d = Math.abs(y[i] - w);
        const tol = ATOL + RTOL * Math.abs(w);
        if (!(d <= tol) && !(y[i] === w))
          return {
            ...base,
            status: 'fail',
            reason: 'outputs differ',
            detail: `${set} output ${k} [${i}]: ${y[i]} vs ${w}`,
          };
        if (Number.isFinite(d)) worst = Math.max(worst, d);
      }
    }
  }
  return {
    ...base,
    status: 'pass',
    detail: `max |diff| ${worst.toExponential(2)}${frozen.length ? ` (inputs fixed at import: ${frozen.join(', ')})` : ''}`,
    ...(frozen.length ? { frozen } : {}),
  };
}

/** Tests of `folder` under `data` that have a model. */
export function conformanceTests(data: string, folder: string): string[] {
  const dir = join(data, folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((t) => existsSync(join(dir, t, 'model.onnx')))
    .sort();
}
