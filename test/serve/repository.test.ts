// The model repository reads each artifact with a FileError naming its path when it cannot.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileError } from '../../src/errors.js';
import { readEntry } from '../../src/serve/repository.js';
import { tempDir } from '../data/helpers.js';

describe('model repository', () => {
  it('an artifact that cannot be read is a FileError naming its path', () => {
    const dir = tempDir();
    const missing = join(dir, 'gone.grad');
    expect(() => readEntry('gone', '1', missing)).toThrow(FileError);
    expect(() => readEntry('gone', '1', missing)).toThrow(`${missing}: cannot read artifact (ENOENT)`);
    const folder = join(dir, 'folder.grad');
    mkdirSync(folder);
    expect(() => readEntry('folder', '1', folder)).toThrow(`${folder}: is a folder, expected an artifact`);
  });
});
