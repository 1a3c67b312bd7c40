// `train --overwrite` as a specification: nothing of the earlier run is deleted until the new run's
// first checkpoint is written and pointed to. A run that diverges, or is killed (simulated: the
// Nth atomic write throws, as if the process died there), leaves the earlier model loadable, and
// an earlier epoch folder with the new run's name is never written into while the pointer names it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ValueError } from '../../src/errors.js';
import { checkpointDir, readCheckpoint } from '../../src/train/checkpoint.js';
import { TINY_CONFIG, tempDirs, trainTiny } from './tiny.js';

// counts atomic writes; the write numbered `failAt` throws instead (a process killed mid-save)
const crash = vi.hoisted(() => ({ writes: 0, failAt: Number.POSITIVE_INFINITY }));
vi.mock('../../src/io/atomic.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/io/atomic.js')>();
  return {
    ...real,
    writeFileAtomicSync: (...args: Parameters<typeof real.writeFileAtomicSync>) => {
      if (++crash.writes === crash.failAt) throw new Error(`killed before writing ${args[0]}`);
      return real.writeFileAtomicSync(...args);
    },
  };
});

const tmp = tempDirs('graduate-overwrite-');
afterAll(tmp.cleanup);
afterEach(() => {
  crash.writes = 0;
  crash.failAt = Number.POSITIVE_INFINITY;
});

const epochsIn = (out: string) => readdirSync(join(out, 'checkpoints')).sort();
const pointer = (out: string) => readFileSync(join(out, 'checkpoint.json'), 'utf8');
const weights = (out: string) => readFileSync(join(checkpointDir(out), 'model.safetensors'));
/** Every file of the pointed epoch and the pointer, byte for byte. */
function snapshot(out: string) {
  const dir = checkpointDir(out);
  return {
    pointer: pointer(out),
    files: Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))])),
  };
}

describe('train --overwrite deletes nothing before its own first checkpoint', () => {
  it('a run that diverges in its first epoch leaves the earlier checkpoint as it was', () => {
    const out = tmp.make();
    trainTiny(out, 3);
    const before = snapshot(out);
    // before: prepareFreshOutDir removed checkpoint.json and checkpoints/ up front
    expect(() => trainTiny(out, 1, { overwrite: true, config: { ...TINY_CONFIG, lr: 1e30 } })).toThrow(ValueError);
    expect(snapshot(out)).toEqual(before);
    expect(readCheckpoint(out).state.epoch).toBe(3);
  });

  it('killed at any write of its first save, the earlier run (one epoch, in epoch-001) stays readable', () => {
    // each earlier run's pointer names epoch-001, the very folder a new one-epoch run would write
    const reference = tmp.make();
    trainTiny(reference, 1, { config: { ...TINY_CONFIG, seed: 99 } });
    const writesPerSave = crash.writes; // 4 files, the manifest, the pointer
    expect(writesPerSave).toBe(6);
    for (let k = 1; k <= writesPerSave; k++) {
      const out = tmp.make();
      trainTiny(out, 1);
      const before = snapshot(out);
      crash.writes = 0;
      crash.failAt = k;
      expect(() => trainTiny(out, 1, { overwrite: true, config: { ...TINY_CONFIG, seed: 99 } })).toThrow(
        /killed before writing/,
      );
      crash.failAt = Number.POSITIVE_INFINITY;
      // the pointer was not rewritten and names the earlier run's files, unchanged (before: the
      // old files were deleted up front; written in place, they would mix two runs)
      expect(snapshot(out)).toEqual(before);
      expect(() => readCheckpoint(out)).not.toThrow();
      // the next try completes, and only then is the earlier run's folder removed
      trainTiny(out, 1, { overwrite: true, config: { ...TINY_CONFIG, seed: 99 } });
      expect(epochsIn(out)).toHaveLength(1);
      expect(weights(out)).toEqual(weights(reference));
    }
  });

  it('a completed first save points at a fresh folder, then removes every folder of the earlier run', () => {
    const out = tmp.make();
    trainTiny(out, 2); // epoch-001 and epoch-002, the pointer at epoch-002
    expect(epochsIn(out)).toEqual(['epoch-001', 'epoch-002']);
    trainTiny(out, 1, { overwrite: true });
    // epoch-001 existed (the earlier run's): the new epoch 1 went to epoch-001-2, not into it
    expect(epochsIn(out)).toEqual(['epoch-001-2']);
    expect(JSON.parse(pointer(out))).toMatchObject({ latest: join('checkpoints', 'epoch-001-2'), epoch: 1 });
    // and the run goes on normally from there
    trainTiny(out, 3, { resume: true });
    expect(epochsIn(out)).toEqual(['epoch-002', 'epoch-003']);
    expect(readCheckpoint(out).state.epoch).toBe(3);
  });
});
