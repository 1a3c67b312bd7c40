// Fuzzing checkpoints: a real checkpoint of a tiny model (written by saveCheckpoint through fit) is
// truncated at every structural boundary of its safetensors files, bit-flipped, overwritten with
// huge sizes, given wrong dtypes and NaN/Inf values, and has its JSON fields mangled. The property
// (expectCleanOutcome): readCheckpoint and loadModel return correct data or throw a GraduateError
// naming the file — never another exception. Mutations are tried twice: as they are (the recorded
// sha256 must catch them) and with the checksums re-recorded, to reach the parsers and validators
// behind the checksums. Seeded and bounded by GRADUATE_FUZZ_RUNS / GRADUATE_FUZZ_SEED.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraduateError } from '../../src/errors.js';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '../../src/io/safetensors.js';
import { checkpointDir, loadModel, readCheckpoint } from '../../src/train/checkpoint.js';
import { resign, trainTiny } from '../train/tiny.js';
import { bitFlips, expectCleanOutcome, FUZZ_RUNS, fuzzParams, overwrites, truncations } from './mutate.js';

const root = mkdtempSync(join(tmpdir(), 'graduate-fuzz-ckpt-'));
const pristine = join(root, 'pristine');
const scratch = join(root, 'scratch');
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Name = 'model.safetensors' | 'optimizer.safetensors' | 'config.json' | 'state.json' | 'manifest.json';
const NAMES: Name[] = ['model.safetensors', 'optimizer.safetensors', 'config.json', 'state.json', 'manifest.json'];
let epochRel = '';
// path relative to the checkpoint folder → bytes; Uint8Array, not Buffer: a Buffer's slice() is a
// view, and the mutators copy with slice()
const original = new Map<string, Uint8Array>();
let weights: Record<string, NamedArray> = {};
let probes = 0;

const rel = (name: Name | 'checkpoint.json') => (name === 'checkpoint.json' ? name : join(epochRel, name));

beforeAll(() => {
  trainTiny(pristine, 2);
  epochRel = checkpointDir(pristine).slice(pristine.length + 1);
  for (const n of [...NAMES, 'checkpoint.json'] as const)
    original.set(rel(n), new Uint8Array(readFileSync(join(pristine, rel(n)))));
  cpSync(pristine, scratch, { recursive: true });
  weights = readCheckpoint(pristine).weights;
});

/**
 * Writes `files` (undefined: removed) over the pristine checkpoint in scratch, optionally
 * re-records the checksums, then reads it both ways. Without re-recording, success must return the
 * pristine weights (the checksums guarantee it); with it, what loads must at least be finite.
 */
function probe(files: Partial<Record<Name | 'checkpoint.json', Uint8Array | string | undefined>>, sign: boolean) {
  probes++;
  for (const [path, bytes] of original) writeFileSync(join(scratch, path), bytes);
  for (const [name, bytes] of Object.entries(files) as [Name, Uint8Array | string | undefined][]) {
    if (bytes === undefined) rmSync(join(scratch, rel(name)), { force: true });
    else writeFileSync(join(scratch, rel(name)), bytes);
  }
  if (sign) {
    try {
      resign(scratch);
    } catch {
      // the pointer or manifest itself is mangled: read it as it is
    }
  }
  for (const read of [() => readCheckpoint(scratch).weights, () => loadWeightsOf(scratch)]) {
    const r = expectCleanOutcome(read, scratch);
    if (r instanceof GraduateError) continue;
    for (const [name, w] of Object.entries(r)) {
      if (!sign) expect(Array.from(w.data), name).toEqual(Array.from(weights[name].data));
      else expect(Array.from(w.data).every(Number.isFinite), name).toBe(true);
    }
  }
}

function loadWeightsOf(dir: string): Record<string, NamedArray> {
  const { model, checkpoint } = loadModel(dir);
  model.dispose();
  return checkpoint.weights;
}

/** Offsets where a safetensors file changes meaning: inside the length, header end, each tensor's data. */
function boundaries(bytes: Uint8Array): number[] {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const out = [4, 8, 8 + n];
  for (const [k, v] of Object.entries(header))
    if (k !== '__metadata__') out.push(...(v as { data_offsets: number[] }).data_offsets.map((o) => 8 + n + o));
  return out;
}

const safetensors = ['model.safetensors', 'optimizer.safetensors'] as const;
const bytesOf = (name: Name | 'checkpoint.json') => original.get(rel(name)) as Uint8Array;

describe('checkpoint fuzzing: a correct result or a GraduateError naming the file', () => {
  it('truncation at every structural boundary of each safetensors file (and sampled offsets)', () => {
    for (const name of safetensors) {
      const cuts = truncations(bytesOf(name), boundaries(bytesOf(name)), 16);
      expect(cuts.length).toBeGreaterThan(20);
      for (const cut of cuts) for (const sign of [false, true]) probe({ [name]: cut }, sign);
    }
  });

  it('bit flips and overwritten runs (0xff: huge sizes) in every file of the checkpoint', () => {
    for (const name of [...NAMES, 'checkpoint.json'] as const) {
      const bytes = bytesOf(name);
      const runs = Math.max(10, Math.round(FUZZ_RUNS / 8));
      fc.assert(
        fc.property(fc.oneof(bitFlips(bytes), overwrites(bytes)), fc.boolean(), (m, sign) =>
          probe({ [name]: m }, sign),
        ),
        fuzzParams(runs),
      );
    }
  });

  it('huge declared header length, shapes and offsets allocate nothing beyond the file', () => {
    const file = bytesOf('model.safetensors');
    const DEEP = '"@@DEEP@@"';
    const craft = (header: unknown, data = new Uint8Array(16)) => {
      const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
      const head = new TextEncoder().encode(JSON.stringify(header).replace(DEEP, deep));
      const out = new Uint8Array(8 + head.length + data.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
      out.set(head, 8);
      out.set(data, 8 + head.length);
      return out;
    };
    const lengths = [2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n, BigInt(file.length), BigInt(file.length - 7), 0n];
    const cases: Uint8Array[] = lengths.map((n) => {
      const b = file.slice();
      new DataView(b.buffer).setBigUint64(0, n, true);
      return b;
    });
    const t = (shape: unknown, offsets: unknown, dtype: unknown = 'F32') => ({
      '0.weight': { dtype, shape, data_offsets: offsets },
    });
    const deep = '@@DEEP@@'; // spliced in as 100k nested arrays (JSON.stringify cannot write them)
    for (const h of [
      t([1e15, 1e15], [0, 16]),
      t([2 ** 53, 2], [0, 16]),
      t([4], [0, 1e18]),
      t([4], [-16, 0]),
      t([4], [0.5, 16.5]),
      t([4], [16, 0]),
      t([-4], [0, 16]),
      t([4], [0, 16], 'F64'),
      t([4], [0, 16], 'toString'),
      t([4], [0, 16], deep),
      t(deep, [0, 16]),
      t([4], deep),
      t('4', [0, 16]),
      t([4], null),
      { '0.weight': null },
      { '0.weight': 7 },
      { __proto__: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } },
      { ...t([2], [0, 8]), '1.weight': { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, // overlap + gap
      { __metadata__: { epoch: 3 } },
      [1, 2],
      null,
      'header',
    ])
      cases.push(craft(h));
    const before = process.memoryUsage().arrayBuffers;
    for (const c of cases) for (const sign of [false, true]) probe({ 'model.safetensors': c }, sign);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 << 20);
  });

  it('wrong dtypes and NaN/Inf values in the weights and the optimizer state are refused by name', () => {
    for (const name of safetensors) {
      const { tensors, metadata } = decodeSafetensors(bytesOf(name));
      const keys = Object.keys(tensors);
      fc.assert(
        fc.property(
          fc.constantFrom(...keys),
          fc.oneof(
            fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3.5e38 * 10),
            fc.constantFrom('I32', 'I8'),
          ),
          fc.nat(),
          (key, bad, at) => {
            const edited = { ...tensors };
            const w = tensors[key];
            if (typeof bad === 'number') {
              const data = Float32Array.from(w.data);
              data[at % data.length] = bad;
              edited[key] = { ...w, data };
            } else {
              const count = w.data.length;
              edited[key] = {
                dtype: bad,
                shape: w.shape,
                data: bad === 'I32' ? new Int32Array(count).fill(1) : new Int8Array(count).fill(1),
              };
            }
            probe({ [name]: encodeSafetensors(edited, metadata) }, true);
            // refused, and the message names the tensor
            expect(() => readCheckpoint(scratch)).toThrow(new RegExp(`${name}: tensor '${key.replace('.', '\\.')}'`));
          },
        ),
        fuzzParams(Math.max(10, Math.round(FUZZ_RUNS / 4))),
      );
    }
  });

  it('mangled JSON fields of checkpoint.json, manifest.json, config.json and state.json', () => {
    const deep = (d: number) => `${'['.repeat(d)}${']'.repeat(d)}`;
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.constantFrom(
        '1e308',
        '-1e308',
        '9007199254740993',
        '4294967296',
        '-1',
        '0',
        '1.5',
        '1e9',
        '""',
        '"one"',
        'null',
        'true',
        '[]',
        '{}',
        '[1,2,3,4]',
        '{"__proto__":{"x":1}}',
        deep(50_000),
      ),
    );
    /** Every field path of a JSON value (objects and arrays, to depth 4). */
    const paths = (v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []) => {
      if (at.length > 0) out.push(at);
      if (at.length < 4 && typeof v === 'object' && v !== null)
        for (const [k, x] of Object.entries(v)) paths(x, [...at, Array.isArray(v) ? Number(k) : k], out);
      return out;
    };
    for (const name of ['checkpoint.json', 'manifest.json', 'config.json', 'state.json'] as const) {
      const json = JSON.parse(new TextDecoder().decode(bytesOf(name)));
      const all = paths(json);
      fc.assert(
        fc.property(fc.constantFrom(...all), fc.option(value, { nil: undefined }), fc.boolean(), (path, v, sign) => {
          // set (or delete) the field, then splice the raw text in: deep nesting is never stringified
          const copy = JSON.parse(JSON.stringify(json));
          let parent = copy;
          for (const k of path.slice(0, -1)) parent = parent[k];
          const last = path[path.length - 1];
          const marker = '"@@FUZZ@@"';
          if (v === undefined) delete parent[last];
          else parent[last] = '@@FUZZ@@';
          const text = JSON.stringify(copy).replace(marker, v ?? marker);
          probe({ [name]: text }, sign);
        }),
        fuzzParams(Math.max(20, Math.round(FUZZ_RUNS / 2))),
      );
    }
  });

  it('a missing file of the epoch', () => {
    for (const name of [...NAMES, 'checkpoint.json'] as const)
      for (const sign of [false, true]) probe({ [name]: undefined }, sign);
    expect(probes).toBeGreaterThan(FUZZ_RUNS);
    console.log(`checkpoint fuzz: ${probes} checkpoints probed`);
  });
});
