// Session runs batches in tiles (the memory plan sized for one tile): any tile size gives the
// same outputs as one pass over the whole batch, remainders included; bad sizes are refused. A
// graph built by hand (not read by readArtifact) is validated by the constructor: what the
// kernels cannot run is a GraduateError naming the node or value, never a TypeError.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError, GraduateError, ValueError } from '../../src/errors.js';
import { readArtifact } from '../../src/graph/artifact.js';
import type { Graph } from '../../src/graph/ir.js';
import { Session } from '../../src/runtime/index.js';
import { engineConfigs, engineFor } from '../helpers.js';
import { writeTinyArtifact } from '../serve/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'graduate-session-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const graph = readArtifact(new Uint8Array(readFileSync(writeTinyArtifact(dir))));

describe.each(engineConfigs())('Session tiles (%j)', (cfg) => {
  const engine = engineFor(cfg);
  it.each([1, 3, 4, 7])('tile %i equals one pass over batch 10', (tile) => {
    const x = Float32Array.from({ length: 10 * 64 }, (_, i) => Math.sin(i * 0.91));
    const whole = new Session(graph, { engine, maxBatch: 10, tile: 10 });
    const tiled = new Session(graph, { engine, maxBatch: 10, tile });
    expect(tiled.tile).toBe(tile);
    expect(tiled.plan.arenaBytes).toBeLessThan(whole.plan.arenaBytes);
    expect(Array.from(tiled.run(x, 10))).toEqual(Array.from(whole.run(x, 10)));
    expect(Array.from(tiled.run(x.subarray(0, 2 * 64), 2))).toEqual(Array.from(whole.run(x, 10).subarray(0, 6)));
    whole.dispose();
    tiled.dispose();
  });

  it('chooses a tile within maxBatch and refuses a bad one', () => {
    const s = new Session(graph, { engine, maxBatch: 6 });
    expect(s.tile).toBeGreaterThanOrEqual(1);
    expect(s.tile).toBeLessThanOrEqual(6);
    s.dispose();
    expect(() => new Session(graph, { engine, maxBatch: 6, tile: 7 })).toThrow(ValueError);
    expect(() => new Session(graph, { engine, maxBatch: 6, tile: 0 })).toThrow(/tile must be an integer in \[1, 6\]/);
  });
});

/** x [-1, 4] → quantize 'q' → linear 'fc' (int8 weights [4, 3]) → y [-1, 3]: a valid int8 graph. */
function int8Linear(): Graph {
  return {
    inputs: ['x'],
    outputs: ['y'],
    values: {
      x: { shape: [-1, 4], dtype: 'float32' },
      xq: { shape: [-1, 4], dtype: 'int8', quant: { scale: [0.05], zeroPoint: [0] } },
      y: { shape: [-1, 3], dtype: 'float32' },
    },
    constants: {
      w: {
        dtype: 'int8',
        shape: [4, 3],
        data: Int8Array.from({ length: 12 }, (_, i) => i - 6),
        quant: { scale: [0.1, 0.2, 0.3], zeroPoint: [0, 0, 0] },
      },
    },
    nodes: [
      { name: 'q', op: 'quantize', inputs: ['x'], output: 'xq', attrs: {} },
      { name: 'fc', op: 'linear', inputs: ['xq', 'w'], output: 'y', attrs: { activation: 'none' } },
    ],
    meta: { classNames: ['a', 'b', 'c'], input: { kind: 'tabular', shape: [4] }, producer: 'test' },
  };
}

/** The error `new Session(g)` throws (fails the test if it throws none). */
function sessionError(g: Graph): Error {
  try {
    new Session(g, { maxBatch: 2 }).dispose();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the Session to refuse the graph');
}

describe('Session validates a hand-built graph', () => {
  it('a valid int8 graph runs', () => {
    const s = new Session(int8Linear(), { maxBatch: 2 });
    const y = s.run(Float32Array.from([1, -1, 0.5, 2, 0, 0, 0, 0]), 2);
    expect(y.length).toBe(6);
    expect(Array.from(y.subarray(3))).toEqual([0, 0, 0]);
    s.dispose();
  });

  it.each<[string, (g: Graph) => void, RegExp]>([
    [
      'a second output that is int8',
      (g) => {
        g.outputs.push('xq');
      },
      /^Session: output 'xq' is int8, expected float32 or int32/,
    ],
    [
      'an int8 value without quantization parameters',
      (g) => {
        delete g.values.xq.quant;
      },
      /^Session: value 'xq': int8 values need quantization parameters/,
    ],
    [
      'int8 weights without per-channel scales',
      (g) => {
        delete g.constants.w.quant;
      },
      /^Session: node 1 \('fc', linear\): int8 weight 'w' needs 3 per-channel scales/,
    ],
    [
      'a quantize whose output is float32',
      (g) => {
        g.values.xq = { shape: [-1, 4], dtype: 'float32' };
      },
      /^Session: node 0 \('q', quantize\): output 'xq' is float32, expected int8/,
    ],
  ])('%s: a GraduateError naming it, not a TypeError', (_, edit, message) => {
    const g = int8Linear();
    edit(g);
    const e = sessionError(g);
    expect(e).toBeInstanceOf(GraduateError);
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toMatch(message);
  });
});
