// Session runs batches in tiles (the memory plan sized for one tile): any tile size gives the
// same outputs as one pass over the whole batch, remainders included; bad sizes are refused.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ValueError } from '../../src/errors.js';
import { readArtifact } from '../../src/graph/artifact.js';
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
