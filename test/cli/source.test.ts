// graphFromSource: a command's source path as a graph. A .onnx file is imported, any other file
// read as an artifact; a missing file or a folder in its place is a FileError naming the path.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { graphFromSource } from '../../src/cli/source.js';
import { FileError } from '../../src/errors.js';
import { writeTinyArtifact } from '../serve/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'graduate-source-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `s` with the characters a RegExp treats specially escaped. */
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('graphFromSource', () => {
  it('a file that is not .onnx is read as an artifact', () => {
    const src = graphFromSource(writeTinyArtifact(dir));
    expect(src.kind).toBe('artifact');
    expect(src.checkpoint).toBeUndefined();
    expect(src.graph.meta.input.shape).toEqual([8, 8, 1]);
    src.dispose();
  });

  it('a missing or folder .onnx or artifact is a FileError naming the path', () => {
    const missing = join(dir, 'missing.onnx');
    expect(() => graphFromSource(missing)).toThrow(FileError);
    expect(() => graphFromSource(missing)).toThrow(`${missing}: cannot read ONNX model (ENOENT)`);
    const folder = join(dir, 'folder.onnx');
    mkdirSync(folder, { recursive: true });
    expect(() => graphFromSource(folder)).toThrow(new RegExp(`^${esc(folder)}: is a folder, expected an? ONNX model`));
  });
});
