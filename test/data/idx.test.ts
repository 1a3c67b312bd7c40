// readIdx reads what a file's header admits to and no more: the file's size and the size its
// header declares are checked against the limit and against each other from the first 64 KiB,
// before the file is read whole. node:fs is wrapped here to count the bytes read; the big files
// are sparse (a header, then a hole), so they cost no disk.
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readIdx } from '../../src/data/idx.js';
import { FileError } from '../../src/errors.js';
import { idxU8, tempDir } from './helpers.js';

const counter = vi.hoisted(() => ({ bytes: 0 }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const counted = {
    ...fs,
    readSync: ((...args: Parameters<typeof fs.readSync>) => {
      const n = fs.readSync(...args);
      counter.bytes += n;
      return n;
    }) as typeof fs.readSync,
    readFileSync: ((...args: Parameters<typeof fs.readFileSync>) => {
      const out = fs.readFileSync(...args);
      counter.bytes += out.length;
      return out;
    }) as typeof fs.readFileSync,
  };
  return { ...counted, default: counted };
});

const HEAD = 65536;
const MiB = 2 ** 20;
const dir = tempDir();

/** A file holding `bytes`, then a hole up to `size` bytes (sparse: no disk). */
function sparse(name: string, bytes: Uint8Array, size = bytes.length): string {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  if (size > bytes.length) truncateSync(file, size);
  return file;
}

/** The bytes read while `run` ran, and what it threw. */
function reading(run: () => unknown): { bytes: number; error?: Error } {
  counter.bytes = 0;
  try {
    run();
    return { bytes: counter.bytes };
  } catch (e) {
    return { bytes: counter.bytes, error: e as Error };
  }
}

beforeEach(() => vi.stubEnv('GRADUATE_MAX_IDX_BYTES', String(16 * MiB)));
afterEach(() => vi.unstubAllEnvs());

describe('readIdx: the header is checked before the file is read', () => {
  it('reads a valid file, plain or gzip’d, whole once after its header', () => {
    const data = Uint8Array.from({ length: 5 * 6 * 7 }, (_, i) => i % 251);
    const plain = sparse('ok.idx', idxU8([5, 6, 7], data, true));
    let r = reading(() => expect(readIdx(plain)).toEqual({ shape: [5, 6, 7], data }));
    expect(r.error).toBeUndefined();
    expect(r.bytes).toBe(2 * (16 + data.length)); // the head (the whole small file), then the file
    const gz = idxU8([5, 6, 7], data);
    r = reading(() => expect(readIdx(sparse('ok.idx.gz', gz))).toEqual({ shape: [5, 6, 7], data }));
    expect(r.bytes).toBe(2 * gz.length);
  });

  it('refuses a plain file whose header declares over the limit from its first 64 KiB (an 8 MiB file declaring 78 MB)', () => {
    const file = sparse('declares-big.idx', idxU8([100_000, 28, 28], new Uint8Array(0), true), 8 * MiB);
    const r = reading(() => readIdx(file));
    expect(r.error?.message).toBe(
      `${file}: IDX uint8[100000, 28, 28] declares 78400016 bytes, over the limit of 16777216 bytes (raise it with GRADUATE_MAX_IDX_BYTES=<bytes>)`,
    );
    expect(r.bytes).toBeLessThanOrEqual(HEAD);
  });

  it('refuses a plain file bigger than the limit before reading a byte (a 1.5 GB file)', () => {
    const file = sparse('huge.idx', idxU8([1000], new Uint8Array(0), true), 1.5e9);
    const r = reading(() => readIdx(file));
    expect(r.error?.message).toBe(
      `${file}: IDX file of 1500000000 bytes, over the limit of 16777216 bytes (raise it with GRADUATE_MAX_IDX_BYTES=<bytes>)`,
    );
    expect(r.bytes).toBe(0);
  });

  it('refuses a plain file longer or shorter than its header declares, from the header', () => {
    const longer = sparse('longer.idx', idxU8([1000, 28, 28], new Uint8Array(0), true), 4 * MiB);
    let r = reading(() => readIdx(longer));
    expect(r.error?.message).toBe(`${longer}: IDX uint8[1000, 28, 28] needs 784016 bytes, file has 4194304`);
    expect(r.bytes).toBeLessThanOrEqual(HEAD);
    const shorter = sparse('shorter.idx', idxU8([10_000, 28, 28], new Uint8Array(0), true), 2 * MiB);
    r = reading(() => readIdx(shorter));
    expect(r.error?.message).toBe(`${shorter}: IDX uint8[10000, 28, 28] needs 7840016 bytes, file has 2097152`);
    expect(r.bytes).toBeLessThanOrEqual(HEAD);
  });

  it('refuses a gzip file bigger than any compression of what its header declares, from the header', () => {
    // 800 bytes declared, then 4 MiB the stream does not account for
    const gz = gzipSync(idxU8([1, 28, 28], new Uint8Array(784), true));
    const file = sparse('padded.idx.gz', gz, 4 * MiB);
    const r = reading(() => readIdx(file));
    expect(r.error?.message).toBe(
      `${file}: a gzip stream of 4194304 bytes, more than any compression of the 800 bytes its IDX uint8[1, 28, 28] header declares`,
    );
    expect(r.bytes).toBeLessThanOrEqual(HEAD);
  });

  it('refuses a gzip file bigger than the limit before reading a byte', () => {
    const file = sparse('huge.idx.gz', gzipSync(idxU8([1, 28, 28], new Uint8Array(784), true)), 32 * MiB);
    const r = reading(() => readIdx(file));
    expect(r.error?.message).toMatch(/huge\.idx\.gz: IDX file of 33554432 bytes, over the limit of 16777216 bytes/);
    expect(r.bytes).toBe(0);
  });

  it('a missing file or a folder is a FileError naming it', () => {
    expect(() => readIdx(join(dir, 'missing.idx'))).toThrow(FileError);
    expect(() => readIdx(join(dir, 'missing.idx'))).toThrow(
      `${join(dir, 'missing.idx')}: cannot read IDX file (ENOENT)`,
    );
    expect(() => readIdx(dir)).toThrow(`${dir}: is a folder, expected an IDX file`);
  });
});
