// Fuzzing ONNX import from real small models (Graduate's float and QDQ exports, a hand-written
// NCHW model, one with external data): protobuf bytes truncated, bit-flipped and overwritten, and
// fields mutated after decoding and re-encoding — wrong dims, dtypes, missing initializers, unknown
// ops, bad attributes, huge dims, broken metadata, external data outside the folder or missing. The
// property: importOnnx throws a GraduateError naming the file, or returns a graph that validates
// and that a Session runs one batch of.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { GraduateError } from '../../src/errors.js';
import { crc32 } from '../../src/graph/artifact.js';
import { planMemory } from '../../src/graph/plan.js';
import { validateGraph } from '../../src/graph/validate.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { importOnnx } from '../../src/onnx/import.js';
import { DT, type ModelProto, onnx } from '../../src/onnx/proto.js';
import { int8Graph } from '../graph/craft.js';
import { captured, GAP, handModel, init, node } from '../onnx/fixtures.js';
import { runSeeded } from '../runtime/seeded-run.js';
import { bitFlips, expectCleanOutcome, fuzzParams, overwrites, truncations } from './mutate.js';

const dir = mkdtempSync(join(tmpdir(), 'graduate-onnx-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FILE = join(dir, 'model', 'fuzz.onnx');
mkdirSync(join(dir, 'model'));
writeFileSync(join(dir, 'outside.bin'), new Uint8Array(4096));

/** A hand-written NCHW model: Conv → Relu → MaxPool → Flatten → Gemm (transB). */
function nchw(): Uint8Array {
  const r = (n: number) => Array.from({ length: n }, (_, i) => Math.sin(i * 1.7));
  return handModel({
    input: [-1, 2, 6, 6],
    nodes: [
      node('Conv', ['x', 'w', 'b'], ['c'], 'conv', { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
      node('Relu', ['c'], ['r'], 'relu'),
      node('MaxPool', ['r'], ['p'], 'pool', { kernel_shape: [2, 2], strides: [2, 2] }),
      node('Flatten', ['p'], ['f'], 'flat', { axis: 1 }),
      node('Gemm', ['f', 'g'], ['y'], 'fc', { transB: 1 }),
    ],
    inits: [init('w', [3, 2, 3, 3], r(54)), init('b', [3], r(3)), init('g', [4, 27], r(108))],
  });
}

/** Graduate's export with every float initializer moved to weights.bin beside the model. */
function external(): Uint8Array {
  const m = onnx.ModelProto.decode(exportOnnx(captured(GAP)));
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of m.graph?.initializer ?? []) {
    if (t.dataType !== DT.FLOAT || !t.rawData?.length) continue;
    const copy = Uint8Array.from(t.rawData);
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.externalData = [
      { key: 'location', value: 'weights.bin' },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(copy.length) },
    ];
    t.rawData = new Uint8Array();
    chunks.push(copy);
    offset += copy.length;
  }
  writeFileSync(join(dir, 'model', 'weights.bin'), Buffer.concat(chunks));
  return onnx.ModelProto.encode(m).finish();
}

// plain Uint8Array copies: protobufjs gives Node Buffers, whose slice() is a view, so mutate.ts's
// copies (bytes.slice()) would flip bits in the seed itself
const SEEDS: [string, Uint8Array][] = [
  ['float export', Uint8Array.from(exportOnnx(captured(GAP)))],
  ['QDQ export', Uint8Array.from(exportOnnx(int8Graph()))],
  ['hand-written NCHW', Uint8Array.from(nchw())],
  ['external data', Uint8Array.from(external())],
];

/** The property: a GraduateError naming the file, or a graph that validates and runs. */
function check(bytes: Uint8Array): 'refused' | 'accepted' {
  const g = expectCleanOutcome(() => importOnnx(bytes, FILE), FILE);
  if (g instanceof GraduateError) return 'refused';
  validateGraph(g, 'imported');
  planMemory(g, 256);
  // seeded by the model's bytes, so that a counterexample reproduces its input too
  runSeeded(g, crc32(bytes));
  return 'accepted';
}

// ------------------------------------------------------------------ decoded-field mutations

type Mutation = (m: ModelProto, i: number) => void;
const pick = <T>(a: readonly T[] | null | undefined, i: number): T | undefined =>
  a?.length ? a[i % a.length] : undefined;
const OPS = ['Einsum', 'LSTM', 'NoSuchOp', 'Conv', 'Relu', 'MaxPool', 'Gemm', 'Reshape', 'Transpose', 'Softmax', 'Add'];
const DTYPES = [0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 16, 99];
const DIMS = [[], [0], [1e9], [-1], [2 ** 31 + 1], [1e9, 1e9, 1e9], [3, 3, 3, 3, 3]];
const INTS = [[], [0, 0], [-1, -1, -1, -1], [1e9, 1e9], [3, 2, 1, 0], [1]];
const LOCATIONS = ['../outside.bin', '/etc/passwd', 'missing.bin', 'sub/../weights.bin', '', 'weights.bin'];

const MUTATIONS: Mutation[] = [
  (m, i) => {
    const t = pick(m.graph?.initializer, i);
    if (t) t.dims = DIMS[i % DIMS.length];
  },
  (m, i) => {
    const t = pick(m.graph?.initializer, i);
    if (t) t.dataType = DTYPES[i % DTYPES.length];
  },
  (m, i) => {
    const t = pick(m.graph?.initializer, i);
    if (t?.rawData?.length) t.rawData = t.rawData.subarray(0, i % t.rawData.length);
  },
  (m, i) => {
    m.graph?.initializer?.splice(i % (m.graph.initializer.length || 1), 1); // a missing initializer
  },
  (m, i) => {
    const n = pick(m.graph?.node, i);
    if (n) n.opType = OPS[i % OPS.length];
  },
  (m, i) => {
    const n = pick(m.graph?.node, i);
    if (n) n.input = i % 2 ? [...(n.input ?? []), 'missing'] : (n.input ?? []).slice(1);
  },
  (m, i) => {
    const a = pick(pick(m.graph?.node, i)?.attribute, i >> 3);
    if (a) {
      a.ints = INTS[i % INTS.length];
      a.i = [0, -1, 99, 2 ** 40][i % 4];
      a.f = [Number.NaN, Number.POSITIVE_INFINITY, -1][i % 3];
    }
  },
  (m, i) => {
    const dim = pick(m.graph?.input?.[0]?.type?.tensorType?.shape?.dim, i);
    if (dim) dim.dimValue = [0, -5, 1e9, 100000][i % 4];
  },
  (m, i) => {
    const tt = m.graph?.input?.[0]?.type?.tensorType;
    if (tt) tt.elemType = DTYPES[i % DTYPES.length];
  },
  (m, i) => {
    const o = m.opsetImport?.[0];
    if (o) o.version = [0, 1, 8, 23, 1000][i % 5];
  },
  (m, i) => {
    const p = pick(m.metadataProps, i);
    if (p) p.value = ['{', 'null', '[]', '{"kind":"image","layout":"NHWC","normalization":{"mean":["x"]}}'][i % 4];
  },
  (m, i) => {
    const t = m.graph?.initializer?.find((x) => x.externalData?.length);
    const kv = pick(t?.externalData, i);
    if (!kv) return;
    if (kv.key === 'location') kv.value = LOCATIONS[i % LOCATIONS.length];
    else kv.value = ['1e12', '-1', 'abc', '0', '999999999'][i % 5];
  },
  (m) => {
    if (m.graph) m.graph.output = [];
  },
];

const fieldEdits = (bytes: Uint8Array) =>
  fc.array(fc.tuple(fc.nat({ max: MUTATIONS.length - 1 }), fc.nat()), { minLength: 1, maxLength: 3 }).map((edits) => {
    const m = onnx.ModelProto.decode(bytes);
    for (const [k, i] of edits) MUTATIONS[k](m, i);
    return onnx.ModelProto.encode(m).finish();
  });

describe.each(SEEDS)('ONNX import fuzz (%s)', (_, bytes) => {
  it('the unmodified model imports and runs', () => {
    expect(check(bytes)).toBe('accepted');
  });

  it('truncated protobuf bytes: a GraduateError naming the file, or a graph that runs', () => {
    for (const cut of truncations(bytes, [], 64)) check(cut);
  });

  it('bit flips and overwritten bytes: a GraduateError naming the file, or a graph that runs', () => {
    fc.assert(
      fc.property(bitFlips(bytes), (b) => void check(b)),
      fuzzParams(),
    );
    fc.assert(
      fc.property(overwrites(bytes), (b) => void check(b)),
      fuzzParams(),
    );
  });

  it('decoded fields mutated and re-encoded: a GraduateError naming the file, or a graph that runs', () => {
    const seen = { refused: 0, accepted: 0 };
    fc.assert(
      fc.property(fieldEdits(bytes), (b) => {
        seen[check(b)]++;
      }),
      fuzzParams(),
    );
    expect(seen.refused).toBeGreaterThan(0);
  });
});
