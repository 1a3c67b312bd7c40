// loadArtifact from a path: a missing file, a folder or an unreadable URL is a FileError naming
// the path, in io/read.ts's wording ("PATH: cannot read artifact (ENOENT)", "PATH: is a folder"), though the runtime
// reads through node:fs found at run time (it bundles for browsers) rather than through io/read.ts.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/kernels/engine.js';
import { FileError, loadArtifact } from '../../src/runtime/index.js';
import { writeTinyArtifact } from '../serve/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'graduate-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const engine = Engine.create({ threads: 1 });

/** The error loadArtifact rejects with. */
async function loadError(source: string | URL): Promise<Error> {
  try {
    (await loadArtifact(source, { engine, maxBatch: 1 })).dispose();
  } catch (e) {
    return e as Error;
  }
  throw new Error(`expected loadArtifact(${source}) to fail`);
}

describe('loadArtifact from a path', () => {
  it('a missing file: a FileError "PATH: cannot read artifact (ENOENT)"', async () => {
    const missing = join(dir, 'missing.grad');
    const e = await loadError(missing);
    expect(e).toBeInstanceOf(FileError);
    expect(e.message).toBe(`${missing}: cannot read artifact (ENOENT)`);
    expect((await loadError(pathToFileURL(missing))).message).toMatch(
      /missing\.grad: cannot read artifact \(ENOENT\)$/,
    );
  });

  it('a folder: a FileError naming it', async () => {
    const folder = join(dir, 'folder.grad');
    mkdirSync(folder);
    const e = await loadError(folder);
    expect(e).toBeInstanceOf(FileError);
    expect(e.message).toBe(`${folder}: is a folder, expected an artifact`);
  });

  it('an artifact file loads', async () => {
    const model = await loadArtifact(writeTinyArtifact(dir), { engine, maxBatch: 1 });
    expect(model.classNames.length).toBeGreaterThan(0);
    model.dispose();
  });
});
