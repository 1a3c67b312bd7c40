// The artifact format: round trip, equality of runtime and eager outputs, and a fuzz test —
// truncated and bit-flipped files must always give a clean FormatError.
import { describe, expect, it } from 'vitest';
import { captureGraph } from '../../src/compile/capture.js';
import { FormatError } from '../../src/errors.js';
import { crc32, readArtifact, writeArtifact } from '../../src/graph/artifact.js';
import { dumpGraph } from '../../src/graph/dump.js';
import * as G from '../../src/index.js';
import { buildModel } from '../../src/nn/build.js';
import type { ModelSpec } from '../../src/nn/spec.js';
import { Session } from '../../src/runtime/session.js';
import { expectClose, rand } from '../helpers.js';

const spec: ModelSpec = {
  inputShape: [9, 9, 2],
  layers: [
    { type: 'conv2d', out: 5, kernel: 3, padding: 'same' },
    { type: 'batchnorm' },
    { type: 'relu' },
    { type: 'residual', layers: [{ type: 'conv2d', out: 5, kernel: 3, padding: 'same' }, { type: 'batchnorm' }] },
    { type: 'maxpool2d', kernel: 2 },
    { type: 'flatten' },
    { type: 'dropout', p: 0.5 },
    { type: 'linear', out: 7 },
  ],
};

function tinyModel() {
  G.manualSeed(3);
  const { model } = buildModel(spec);
  // non-trivial running statistics so BatchNorm matters in eval mode
  G.tidy(() => {
    for (let i = 0; i < 3; i++) model.forward(G.randn([8, 9, 9, 2]));
  });
  model.eval();
  const graph = captureGraph(model, { kind: 'image', shape: [9, 9, 2] }, ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  return { model, graph };
}

describe('artifact', () => {
  it('round-trips the graph and constants; the runtime matches the eager model', () => {
    const { model, graph } = tinyModel();
    const bytes = writeArtifact(graph);
    const back = readArtifact(bytes, 'tiny.grad');
    expect(dumpGraph(back)).toBe(dumpGraph(graph));
    for (const [k, c] of Object.entries(graph.constants))
      expect(Array.from(back.constants[k].data)).toEqual(Array.from(c.data));
    const x = rand(3 * 9 * 9 * 2, 5);
    const session = new Session(back, { engine: G.engine(), maxBatch: 4 });
    const got = session.run(x, 3);
    const want = G.tidy(() => G.noGrad(() => model.forward(G.tensor(x, [3, 9, 9, 2])).data()));
    expectClose(got, want, 1e-5, 1e-4);
    expect(session.plan.arenaBytes).toBeLessThan(session.plan.naiveBytes);
    session.dispose();
    model.dispose();
  });

  it('rejects every truncated or bit-flipped file with a FormatError naming the file', () => {
    const { model, graph } = tinyModel();
    const bytes = writeArtifact(graph);
    let seed = 1;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    for (let i = 0; i < 200; i++) {
      const cut = bytes.subarray(0, rnd(bytes.length));
      expect(() => readArtifact(cut, 'cut.grad')).toThrow(FormatError);
      const flipped = bytes.slice();
      flipped[rnd(bytes.length)] ^= 1 << rnd(8);
      expect(() => readArtifact(flipped, 'flip.grad')).toThrow(/flip\.grad: /);
    }
    model.dispose();
  });

  it('names what is wrong: magic, version, header, unknown op', () => {
    const { model, graph } = tinyModel();
    const bytes = writeArtifact(graph);
    const reseal = (b: Uint8Array) => {
      new DataView(b.buffer).setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
      return b;
    };
    const magic = bytes.slice();
    magic[0] = 0x58;
    expect(() => readArtifact(magic, 'm')).toThrow(/bad magic/);
    const version = bytes.slice();
    new DataView(version.buffer).setUint32(8, 99, true);
    expect(() => readArtifact(reseal(version), 'v')).toThrow(/format version 99 is not supported/);
    const header = bytes.slice();
    header[16] = 0x7b + 1;
    expect(() => readArtifact(reseal(header), 'h')).toThrow(/header is not valid JSON/);
    const badOp = { ...graph, nodes: graph.nodes.map((n, i) => (i === 1 ? { ...n, op: 'warp' } : n)) } as typeof graph;
    expect(() => readArtifact(writeArtifact(badOp), 'op')).toThrow(/node 1 .*unknown op "warp"/);
    model.dispose();
  });
});
