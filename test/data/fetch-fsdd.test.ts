// fetchFsdd and `graduate data fetch fsdd` against a local HTTP server serving a .tar.gz built here
// from a few of the shared FSDD recordings (laid out as the upstream archive is): checksum,
// extraction of recordings only, resuming, HTTP errors, offline, --archive.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encodeWav } from '../../src/audio/wav.js';
import { loadAudioSplits } from '../../src/data/audio.js';
import { FSDD_SHA256, FSDD_URL, fetchFsdd } from '../../src/data/fetch-fsdd.js';
import { FormatError, GraduateError } from '../../src/errors.js';
import { cli } from '../cli/run.js';
import { serveFiles, tempDir } from './helpers.js';

const SHARED = join(import.meta.dirname, '../../../shared/datasets/fsdd/recordings');
const TOP = 'free-spoken-digit-dataset-1.0.9';

/** A .tar.gz laid out as the upstream archive: TOP/recordings/*.wav plus other files. */
async function buildArchive(): Promise<Buffer> {
  const root = tempDir();
  mkdirSync(join(root, TOP, 'recordings'), { recursive: true });
  mkdirSync(join(root, TOP, 'acquire_data'));
  writeFileSync(join(root, TOP, 'README.md'), '# FSDD\n');
  writeFileSync(join(root, TOP, 'acquire_data', 'x.wav'), 'not a recording');
  for (const d of [0, 1])
    for (const s of ['george', 'theo'])
      for (const i of [0, 1, 5, 6]) {
        const name = `${d}_${s}_${i}.wav`;
        const dst = join(root, TOP, 'recordings', name);
        if (existsSync(join(SHARED, name))) copyFileSync(join(SHARED, name), dst);
        else writeFileSync(dst, encodeWav(new Float32Array(2000).fill(0.1 * (d + 1)), { sampleRate: 8000 }));
      }
  const file = join(root, 'fsdd.tar.gz');
  await tar.c({ gzip: true, file, cwd: root }, [TOP]);
  return readFileSync(file);
}

let archive: Buffer;
let sha: string;
const served = new Map<string, Buffer>();
const requests: string[] = [];
let closeServer: () => Promise<void>;
let base: string;

beforeAll(async () => {
  archive = await buildArchive();
  sha = createHash('sha256').update(archive).digest('hex');
  const http = await serveFiles(served, requests);
  base = `${http.url}`;
  closeServer = http.close;
});
afterAll(() => closeServer());
beforeEach(() => {
  served.clear();
  served.set('/v1.0.9.tar.gz', archive);
  requests.length = 0;
});

describe('fetchFsdd', () => {
  it('pins the upstream release archive and its SHA-256', () => {
    expect(FSDD_URL).toBe('https://github.com/Jakobovski/free-spoken-digit-dataset/archive/v1.0.9.tar.gz');
    expect(FSDD_SHA256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('downloads, verifies and extracts only the recordings into DEST/recordings, then skips', async () => {
    const dest = join(tempDir(), 'fsdd');
    const lines: string[] = [];
    const dir = await fetchFsdd({ url: `${base}/v1.0.9.tar.gz`, dest, sha256: sha, log: (l) => lines.push(l) });
    expect(dir).toBe(join(dest, 'recordings'));
    expect(readdirSync(dest)).toEqual(['recordings']); // no temporary files, no README, no other .wav
    expect(readdirSync(dir)).toHaveLength(16);
    expect(lines).toContain(`downloading ${base}/v1.0.9.tar.gz`);
    expect(lines.some((l) => l.includes('SHA-256 ok'))).toBe(true);
    const { train, test } = loadAudioSplits(dir, 'fsdd');
    expect([train.size, test.size]).toEqual([8, 8]);
    requests.length = 0;
    const again: string[] = [];
    expect(await fetchFsdd({ url: `${base}/v1.0.9.tar.gz`, dest, sha256: sha, log: (l) => again.push(l) })).toBe(dir);
    expect(requests).toEqual([]);
    expect(again).toEqual([`${dir}: present (16 recordings), skipped`]);
  });

  it('refuses an archive whose SHA-256 differs (by default the upstream release’s), leaving nothing', async () => {
    const dest = join(tempDir(), 'fsdd');
    const url = `${base}/v1.0.9.tar.gz`;
    await expect(fetchFsdd({ url, dest })).rejects.toThrow(FormatError);
    await expect(fetchFsdd({ url, dest })).rejects.toThrow(
      `${url}: SHA-256 ${sha} differs from the expected ${FSDD_SHA256} (the upstream v1.0.9 release archive)`,
    );
    expect(existsSync(join(dest, 'recordings'))).toBe(false);
    await expect(fetchFsdd({ url, dest, sha256: 'abc' })).rejects.toThrow(
      "--sha256: expected 64 hexadecimal digits, got 'abc'",
    );
  });

  it('an HTTP error names the URL; an unreachable host says what to do offline', async () => {
    const dest = join(tempDir(), 'fsdd');
    await expect(fetchFsdd({ url: `${base}/gone.tar.gz`, dest, sha256: sha })).rejects.toThrow(
      `GET ${base}/gone.tar.gz: HTTP 404 Not Found`,
    );
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const url = `http://127.0.0.1:${port}/v1.0.9.tar.gz`;
    const err = await fetchFsdd({ url, dest, sha256: sha }).catch((e) => e);
    expect(err).toBeInstanceOf(GraduateError);
    expect(err.message).toContain(`GET ${url} failed:`);
    expect(err.message).toContain('(offline?)');
    expect(err.message).toContain('graduate data fetch fsdd --archive');
  });

  it('takes a local archive with --archive; refuses one that is not a tar.gz', async () => {
    const dir = tempDir();
    const file = join(dir, 'fsdd.tar.gz');
    writeFileSync(file, archive);
    const out = await fetchFsdd({ archive: file, dest: join(dir, 'fsdd'), sha256: sha });
    expect(readdirSync(out)).toHaveLength(16);
    const junk = join(dir, 'junk.tar.gz');
    writeFileSync(junk, 'plain text');
    const junkSha = createHash('sha256').update('plain text').digest('hex');
    await expect(fetchFsdd({ archive: junk, dest: join(dir, 'other'), sha256: junkSha })).rejects.toThrow(
      `${junk}: not a gzip'd tar archive`,
    );
  });

  it('`graduate data fetch fsdd --url --dest --sha256` prints where the recordings are', async () => {
    const dest = join(tempDir(), 'fsdd');
    const r = await cli('data', 'fetch', 'fsdd', '--url', `${base}/v1.0.9.tar.gz`, '--dest', dest, '--sha256', sha);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`fsdd is in ${join(dest, 'recordings')}`);
    const bad = await cli('data', 'fetch', 'fsdd', '--url', `${base}/v1.0.9.tar.gz`, '--dest', join(tempDir(), 'x'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('differs from the expected');
    const unknown = await cli('data', 'fetch', 'mnist2');
    expect(unknown.stderr).toContain(
      "unknown dataset 'mnist2' (available: fashion-mnist, fsdd, spamassassin, movielens-small)",
    );
  });
});
