// Fuzzing the artifact format from real files (float32 before and after the passes, int8):
// truncation at every structural boundary, bit flips and overwritten bytes (the CRC's job), and
// structural edits of the JSON header resealed with a valid CRC (the validator's job): fields
// dropped or given wrong types, huge shapes and offsets, nulls, unknown ops, cycles, dangling
// names. The property: readArtifact throws a GraduateError naming the file, or returns a graph
// that inspect's computations handle and that a Session runs — without any error, since whatever
// inspect accepts predict must run — giving finite outputs on seeded inputs in [-1, 1) (see
// test/runtime/seeded-run.ts for the one exemption: parameters float32 cannot hold).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GraduateError } from '../../src/errors.js';
import { crc32, readArtifact, writeArtifact } from '../../src/graph/artifact.js';
import { dumpGraph } from '../../src/graph/dump.js';
import { type Graph, graphMacs, graphParams, nodeMacs } from '../../src/graph/ir.js';
import { planMemory } from '../../src/graph/plan.js';
import { boundaries, craftedHeaders, floatGraph, type Header, int8Graph, rewriteHeader } from '../graph/craft.js';
import { runSeeded } from '../runtime/seeded-run.js';
import { bitFlips, expectCleanOutcome, FUZZ_RUNS, fuzzParams, overwrites, truncations } from './mutate.js';

const NAME = 'fuzz.grad';
const SEEDS: [string, Uint8Array][] = [
  ['float32', writeArtifact(floatGraph())],
  ['float32 before passes', writeArtifact(floatGraph(false))],
  ['int8', writeArtifact(int8Graph())],
];

/** What inspect does with a graph, and one batch through a Session: none may throw. */
function useGraph(g: Graph, bytes: Uint8Array): void {
  graphMacs(g);
  graphParams(g);
  for (const n of g.nodes) nodeMacs(g, n);
  planMemory(g, 256);
  dumpGraph(g);
  `${JSON.stringify(g.meta.input)} ${g.meta.classNames.join(', ')}`;
  // seeded by the file itself, so that a counterexample reproduces its input too
  runSeeded(g, crc32(bytes));
}

/** The property: a GraduateError naming the file, or a graph inspect handles and a Session runs. */
function check(bytes: Uint8Array): 'refused' | 'accepted' {
  const r = expectCleanOutcome(() => readArtifact(bytes, NAME), NAME);
  if (r instanceof GraduateError) return 'refused';
  useGraph(r, bytes);
  return 'accepted';
}

// ------------------------------------------------------------------ structural header edits

const DELETE = Symbol('delete');
/** Replacement values: wrong types, nulls, extremes, huge sizes. */
const REPLACEMENTS: unknown[] = [
  DELETE,
  null,
  true,
  0,
  -1,
  1.5,
  2 ** 31,
  2 ** 53,
  1e308,
  1e-50,
  'x',
  'float64',
  [],
  [0],
  [-1, 1e9, 1e9, 3],
  [1e9, 1e9],
  {},
  { scale: [0], zeroPoint: [0] },
];

/** Every path into the header (objects and arrays), up to 6 deep. */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (at.length > 0) out.push(at);
  if (at.length < 6 && typeof v === 'object' && v !== null)
    for (const k of Object.keys(v))
      paths((v as Record<string, unknown>)[k], [...at, Array.isArray(v) ? Number(k) : k], out);
  return out;
}

function setPath(h: Header, path: (string | number)[], value: unknown): void {
  let o = h;
  for (const k of path.slice(0, -1)) o = o?.[k];
  if (typeof o !== 'object' || o === null) return;
  const k = path[path.length - 1];
  if (value === DELETE) {
    if (Array.isArray(o)) o.splice(Number(k), 1);
    else delete o[k];
  } else o[k] = structuredClone(value); // a copy: later edits must not change the shared replacement
}

/** Graph-level edits: unknown ops, cycles, dangling names, reordering, duplicates, bad tensor ranges. */
const EDITS: ((h: Header, i: number) => void)[] = [
  (h, i) => {
    h.graph.nodes[i % h.graph.nodes.length].op = 'warp';
  },
  (h, i) => {
    const n = h.graph.nodes[i % h.graph.nodes.length];
    n.inputs[0] = n.output; // a cycle
  },
  (h, i) => {
    const n = h.graph.nodes[i % h.graph.nodes.length];
    n.inputs[0] = h.graph.nodes[h.graph.nodes.length - 1].output; // used before it is made
  },
  (h, i) => {
    h.graph.nodes[i % h.graph.nodes.length].inputs.push('nowhere'); // dangling
  },
  (h, i) => {
    const ns = h.graph.nodes;
    const j = i % ns.length;
    [ns[0], ns[j]] = [ns[j], ns[0]];
  },
  (h, i) => {
    h.graph.nodes.push({ ...h.graph.nodes[i % h.graph.nodes.length] });
  },
  (h) => {
    h.graph.outputs = ['input'];
  },
  (h, i) => {
    const t = Object.values(h.tensors)[i % Object.keys(h.tensors).length] as Header;
    t.offset = [2 ** 40, -64, 1, 64 * 1000][i % 4];
  },
  (h, i) => {
    const t = Object.values(h.tensors)[i % Object.keys(h.tensors).length] as Header;
    t.shape = [1e9, 1e9];
    t.length = 4e18;
  },
  (h, i) => {
    delete h.tensors[Object.keys(h.tensors)[i % Object.keys(h.tensors).length]];
  },
  (h, i) => {
    const v = Object.values(h.graph.values)[i % Object.keys(h.graph.values).length] as Header;
    v.shape = [-1, 100000, 100000, v.shape.at(-1)];
  },
  (h, i) => {
    const v = Object.values(h.graph.values)[i % Object.keys(h.graph.values).length] as Header;
    v.dtype = ['int8', 'int32', 'float16', 'float32'][i % 4];
  },
];

/** A labelled header edit: fast-check prints the label of a counterexample, not its bytes. */
interface Edit {
  label: string;
  apply(h: Header): void;
}

const headerEdits = (bytes: Uint8Array) => {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + view.getUint32(12, true))));
  const all = paths(header);
  const replace = fc.tuple(fc.constantFrom(...all), fc.constantFrom(...REPLACEMENTS)).map(
    ([p, v]): Edit => ({
      label: `${p.join('.')} = ${typeof v === 'symbol' ? '(deleted)' : JSON.stringify(v)}`,
      apply: (h) => setPath(h, p, v),
    }),
  );
  const edit = fc
    .tuple(fc.nat({ max: EDITS.length - 1 }), fc.nat())
    .map(([k, i]): Edit => ({ label: `EDITS[${k}](h, ${i})`, apply: (h) => EDITS[k](h, i) }));
  return fc.array(fc.oneof(replace, edit), { minLength: 1, maxLength: 3 }).map((fs) => {
    const out = rewriteHeader(bytes, (h) => {
      for (const f of fs) tryEdit(f.apply, h);
    });
    return Object.assign(out, { [fc.toStringMethod]: () => `header edits: ${fs.map((f) => f.label).join('; ')}` });
  });
};

/** Applies an edit unless an earlier one removed what it edits (then the header stays as it is). */
function tryEdit(f: (h: Header) => unknown, h: Header): Header {
  try {
    return f(h) ?? h;
  } catch {
    return h;
  }
}

describe.each(SEEDS)('artifact fuzz (%s)', (_, bytes) => {
  it('the unmodified file reads and runs', () => {
    expect(check(bytes)).toBe('accepted');
  });

  it('truncated at every structural boundary (magic, version, header length, header, tensors, CRC): refused', () => {
    const cuts = truncations(bytes, boundaries(bytes));
    expect(cuts.length).toBeGreaterThan(40);
    for (const cut of cuts) expect(check(cut)).toBe('refused');
  });

  it('bit flips and overwritten bytes: refused (the CRC) or, never, another error', () => {
    fc.assert(
      fc.property(bitFlips(bytes), (b) => check(b) === 'refused'),
      fuzzParams(),
    );
    fc.assert(
      fc.property(overwrites(bytes), (b) => void check(b)),
      fuzzParams(),
    );
  });

  it('structural header edits with a valid CRC: a GraduateError naming the file, or a graph the runtime runs', () => {
    const seen = { refused: 0, accepted: 0 };
    fc.assert(
      fc.property(headerEdits(bytes), (b) => {
        seen[check(b)]++;
      }),
      fuzzParams(),
    );
    expect(seen.refused + seen.accepted).toBe(FUZZ_RUNS);
    expect(seen.refused).toBeGreaterThan(0);
    expect(seen.accepted).toBeGreaterThan(0);
  });
});

describe('artifact fuzz: the crafted cases', () => {
  it('each crafted header, and each pair of them, is refused naming the file', () => {
    const [float, int8] = [SEEDS[0][1], SEEDS[2][1]];
    const crafted = craftedHeaders(float, int8);
    for (const [, base, edit] of crafted) expect(check(rewriteHeader(base, edit))).toBe('refused');
    for (const [i, [, base, a]] of crafted.entries())
      for (const [, other, b] of crafted.slice(i + 1))
        if (other === base) expect(check(rewriteHeader(base, (h) => tryEdit(b, tryEdit(a, h))))).toBe('refused');
  });
});
