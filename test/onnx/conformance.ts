// One test of ONNX's backend test suite through Graduate (import → Session → compare), shared by
// `npm run conformance` (bench/conformance.ts) and test/onnx/conformance.test.ts.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraduateError } from '../../src/errors.js';
import type { Graph } from '../../src/graph/ir.js';
import { importOnnx } from '../../src/onnx/import.js';
import { DT, num, onnx, type TensorProto } from '../../src/onnx/proto.js';
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
}

const RTOL = 1e-3;
const ATOL = 1e-7;

/** A TensorProto's values and dims (float32 and integer types; others: undefined). */
function values(t: TensorProto): { dims: number[]; data: Float32Array | Int32Array } | undefined {
  const dims = (t.dims ?? []).map(num);
  const n = dims.reduce((a, b) => a * b, 1);
  const raw = t.rawData?.length ? t.rawData : undefined;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  if (t.dataType === DT.FLOAT) {
    const data = raw
      ? Float32Array.from({ length: n }, (_, i) => (view as DataView).getFloat32(i * 4, true))
      : Float32Array.from(t.floatData ?? []);
    return { dims, data };
  }
  if (t.dataType === DT.INT32 || t.dataType === DT.INT64) {
    const size = t.dataType === DT.INT64 ? 8 : 4;
    const get = (i: number) =>
      size === 8 ? Number((view as DataView).getBigInt64(i * 8, true)) : (view as DataView).getInt32(i * 4, true);
    const src = raw
      ? Array.from({ length: n }, (_, i) => get(i))
      : ((t.dataType === DT.INT64 ? t.int64Data : t.int32Data) ?? []);
    return { dims, data: Int32Array.from(src as ArrayLike<number>, (v) => num(v)) };
  }
  return undefined;
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
  let g: Graph;
  try {
    g = importOnnx(bytes, path);
  } catch (e) {
    if (e instanceof GraduateError)
      return { ...base, status: 'unsupported', reason: reasonOf(e.message, path), detail: e.message };
    return { ...base, status: 'error', reason: `import crashed: ${(e as Error).message}`, detail: (e as Error).stack };
  }
  const sets = readdirSync(join(dir, test))
    .filter((d) => d.startsWith('test_data_set_'))
    .sort();
  let worst = 0;
  for (const set of sets) {
    const files = readdirSync(join(dir, test, set));
    const inputs = files.filter((f) => f.startsWith('input_')).sort();
    const outputs = files.filter((f) => f.startsWith('output_')).sort();
    if (inputs.length !== 1 || outputs.length !== 1)
      return {
        ...base,
        status: 'unsupported',
        reason: `${inputs.length} inputs, ${outputs.length} outputs in the test data`,
      };
    const read = (f: string) => values(onnx.TensorProto.decode(readFileSync(join(dir, test, set, f))));
    const x = read(inputs[0]);
    const want = read(outputs[0]);
    if (!x || !want) return { ...base, status: 'unsupported', reason: 'test data of a type the runner does not read' };
    const N = x.dims[0] ?? 1;
    const layout = (g.meta.onnx as { inputLayout?: string } | undefined)?.inputLayout;
    const xin = layout === 'NCHW' && x.dims.length === 4 ? toNhwc(x.data, x.dims) : x.data;
    let got: Float32Array;
    try {
      const s = new Session(g, { maxBatch: Math.max(1, N) });
      try {
        got = s.run(xin, Math.max(1, N));
      } finally {
        s.dispose();
      }
    } catch (e) {
      if (e instanceof GraduateError)
        return { ...base, status: 'unsupported', reason: reasonOf(e.message, path), detail: e.message };
      return { ...base, status: 'error', reason: `run crashed: ${(e as Error).message}`, detail: (e as Error).stack };
    }
    if (got.length !== want.data.length)
      return {
        ...base,
        status: 'fail',
        reason: 'output size differs',
        detail: `${got.length} values, expected ${want.data.length}`,
      };
    for (let i = 0; i < got.length; i++) {
      const d = Math.abs(got[i] - want.data[i]);
      const tol = ATOL + RTOL * Math.abs(want.data[i]);
      if (!(d <= tol))
        return {
          ...base,
          status: 'fail',
          reason: 'outputs differ',
          detail: `${set} [${i}]: ${got[i]} vs ${want.data[i]}`,
        };
      worst = Math.max(worst, d);
    }
  }
  return { ...base, status: 'pass', detail: `max |diff| ${worst.toExponential(2)}` };
}

/** Tests of `folder` under `data` that have a model. */
export function conformanceTests(data: string, folder: string): string[] {
  const dir = join(data, folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((t) => existsSync(join(dir, t, 'model.onnx')))
    .sort();
}
