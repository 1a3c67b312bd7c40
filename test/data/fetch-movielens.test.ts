// fetchMovieLens and `graduate data fetch movielens-small` against a local HTTP server serving
// zips built here (fflate) laid out as GroupLens' ml-latest-small.zip: unpacking, content checks
// in place of a pinned hash (and --sha256 when given), resuming, HTTP errors, offline, corrupt and
// incomplete archives, and that a failed fetch never touches what DEST already holds.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { strToU8, type Zippable, zipSync } from 'fflate';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchMovieLens, MOVIELENS_SMALL_FILES, MOVIELENS_SMALL_URL } from '../../src/data/fetch-movielens.js';
import { loadMovieLens } from '../../src/data/interactions.js';
import { FormatError, GraduateError } from '../../src/errors.js';
import { cli } from '../cli/run.js';
import { serveFiles, tempDir } from './helpers.js';

const SHARED = join(import.meta.dirname, '../../../shared/datasets/movielens-small');
const TOP = 'ml-latest-small';

/** Small files with the real headers and line ends (CRLF). */
const SMALL: Record<string, string> = crlf({
  'ratings.csv': 'userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.0,964981247\n2,1,3.5,1445714835\n',
  'movies.csv':
    'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n3,"Grumpier Old Men, The (1995)",Comedy\n',
  'tags.csv': 'userId,movieId,tag,timestamp\n2,1,funny,1445714994\n',
  'links.csv': 'movieId,imdbId,tmdbId\n1,0114709,862\n3,0113228,15602\n',
  'README.txt': 'Summary\n=======\nThis dataset (ml-latest-small) describes 5-star rating ...\n',
});
function crlf(files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([f, t]) => [f, t.replaceAll('\n', '\r\n')]));
}

/** A zip laid out as GroupLens' (TOP/name), with `files` (null drops one) and a stray entry. */
function buildZip(files: Record<string, string | null> = {}): Buffer {
  const entries: Zippable = {};
  for (const [name, text] of Object.entries({ ...SMALL, ...files })) if (text !== null) entries[name] = strToU8(text);
  return Buffer.from(zipSync({ [TOP]: { ...entries, 'notes.md': strToU8('not taken') } }));
}

let zip: Buffer;
let sha: string;
const served = new Map<string, Buffer>();
const requests: string[] = [];
let closeServer: () => Promise<void>;
let base: string;

beforeAll(async () => {
  zip = buildZip();
  sha = createHash('sha256').update(zip).digest('hex');
  const http = await serveFiles(served, requests);
  base = `${http.url}`;
  closeServer = http.close;
});
afterAll(() => closeServer());
beforeEach(() => {
  served.clear();
  served.set('/ml-latest-small.zip', zip);
  requests.length = 0;
});
const savedUrl = process.env.GRADUATE_MOVIELENS_URL;
afterEach(() => {
  if (savedUrl === undefined) delete process.env.GRADUATE_MOVIELENS_URL;
  else process.env.GRADUATE_MOVIELENS_URL = savedUrl;
});

/** The files of a folder and their contents. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

describe('fetchMovieLens', () => {
  it('points at GroupLens’ ml-latest-small.zip', () => {
    expect(MOVIELENS_SMALL_URL).toBe('https://files.grouplens.org/datasets/movielens/ml-latest-small.zip');
  });

  it('downloads, checks the content and unpacks the five files into DEST, then skips', async () => {
    const dest = join(tempDir(), 'movielens-small');
    const lines: string[] = [];
    const url = `${base}/ml-latest-small.zip`;
    expect(await fetchMovieLens({ url, dest, log: (l) => lines.push(l) })).toBe(dest);
    expect(snapshot(dest)).toEqual(SMALL); // nothing else: no temporaries, no stray entry
    expect(lines).toContain(`downloading ${url}`);
    expect(lines.some((l) => l.includes(`SHA-256 ${sha}`))).toBe(true);
    expect(lines.some((l) => l.includes('content ok (3 ratings, 2 users, 2 rated movies; no pinned SHA-256'))).toBe(
      true,
    );
    expect(loadMovieLens(dest).itemFeatures?.titles).toEqual(['Toy Story (1995)', 'Grumpier Old Men, The (1995)']);
    requests.length = 0;
    const again: string[] = [];
    expect(await fetchMovieLens({ url, dest, log: (l) => again.push(l) })).toBe(dest);
    expect(requests).toEqual([]);
    expect(again).toEqual([`${dest}: present (${MOVIELENS_SMALL_FILES.join(', ')}), skipped`]);
  });

  it('takes $GRADUATE_MOVIELENS_URL; with --sha256 the archive must match it', async () => {
    process.env.GRADUATE_MOVIELENS_URL = `${base}/ml-latest-small.zip`;
    const dest = join(tempDir(), 'ml');
    const other = 'ab'.repeat(32);
    await expect(fetchMovieLens({ dest, sha256: other })).rejects.toThrow(
      `${base}/ml-latest-small.zip: SHA-256 ${sha} differs from the expected ${other}`,
    );
    expect(existsSync(dest)).toBe(false);
    await expect(fetchMovieLens({ dest, sha256: 'xyz' })).rejects.toThrow(
      "--sha256: expected 64 hexadecimal digits, got 'xyz'",
    );
    await fetchMovieLens({ dest, sha256: sha.toUpperCase() });
    expect(requests).toEqual(['/ml-latest-small.zip', '/ml-latest-small.zip']);
    expect(snapshot(dest)).toEqual(SMALL);
  });

  it('an HTTP error names the URL; an unreachable host says what to do offline', async () => {
    const dest = join(tempDir(), 'ml');
    await expect(fetchMovieLens({ url: `${base}/gone.zip`, dest })).rejects.toThrow(
      `GET ${base}/gone.zip: HTTP 404 Not Found`,
    );
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const url = `http://127.0.0.1:${port}/ml-latest-small.zip`;
    const err = await fetchMovieLens({ url, dest }).catch((e) => e);
    expect(err).toBeInstanceOf(GraduateError);
    expect(err.message).toContain(`GET ${url} failed:`);
    expect(err.message).toContain('(offline?)');
    expect(err.message).toContain('graduate data fetch movielens-small --archive');
    expect(existsSync(dest)).toBe(false);
  });

  it('refuses a corrupt, truncated or incomplete archive and bad content, naming the archive and file', async () => {
    const dir = tempDir();
    const dest = join(dir, 'ml');
    const serve = (bytes: Buffer) => {
      served.set('/x.zip', bytes);
      return fetchMovieLens({ url: `${base}/x.zip`, dest });
    };
    const url = `${base}/x.zip`;
    await expect(serve(Buffer.from('plain text, not a zip'))).rejects.toThrow(FormatError);
    await expect(serve(Buffer.from('plain text, not a zip'))).rejects.toThrow(`${url}: not a valid zip archive`);
    await expect(serve(zip.subarray(0, zip.length - 30))).rejects.toThrow(`${url}: not a valid zip archive`);
    // damage inside ratings.csv's data that still reads as ratings: only the CRC-32 catches it
    const stored = Buffer.from(
      zipSync({
        [TOP]: { ...Object.fromEntries(Object.entries(SMALL).map(([f, t]) => [f, [strToU8(t), { level: 0 }]])) },
      }),
    );
    const at = stored.indexOf('4.0,964981247');
    stored[at] = '5'.charCodeAt(0);
    await expect(serve(stored)).rejects.toThrow(
      /ml-latest-small\/ratings\.csv is damaged \(CRC-32 [0-9a-f]{8}, the archive records [0-9a-f]{8}\)/,
    );
    // a deflate stream damaged in its middle: refused by inflate or by the CRC-32
    const deflated = Buffer.from(
      zipSync({ [TOP]: { ...Object.fromEntries(Object.entries(SMALL).map(([f, t]) => [f, strToU8(t.repeat(20))])) } }),
    );
    const name = deflated.indexOf(`${TOP}/ratings.csv`);
    const size = deflated.readUInt32LE(name - 30 + 18);
    const start = name + `${TOP}/ratings.csv`.length + deflated.readUInt16LE(name - 30 + 28);
    for (let k = 0; k < 4; k++) deflated[start + Math.floor(size / 2) + k] ^= 0x24;
    await expect(serve(deflated)).rejects.toThrow(/not a valid zip archive|is damaged/);
    await expect(serve(buildZip({ 'tags.csv': null }))).rejects.toThrow(`${url}: no tags.csv in the archive`);
    await expect(serve(buildZip({ 'ratings.csv': 'user,item\n1,2\n' }))).rejects.toThrow(
      `${url}: ml-latest-small/ratings.csv does not start with the header line 'userId,movieId,rating,timestamp'`,
    );
    await expect(serve(buildZip({ 'ratings.csv': 'userId,movieId,rating,timestamp\n' }))).rejects.toThrow(
      `${url}: ratings.csv: no interactions after the header line`,
    );
    await expect(serve(buildZip({ 'ratings.csv': `${SMALL['ratings.csv']}2,5,four,1\n` }))).rejects.toThrow(
      `${url}: ratings.csv:5: column 'rating' is not a number ('four')`,
    );
    await expect(serve(buildZip({ 'links.csv': 'movieId,imdbId,tmdbId\n1,"unclosed\n' }))).rejects.toThrow(
      `${url}: links.csv: invalid CSV`,
    );
    expect(existsSync(dest)).toBe(false);
  });

  it('a failed fetch never touches a copy already there; a complete copy is never fetched again', async () => {
    const dest = join(tempDir(), 'ml');
    mkdirSync(dest);
    // an incomplete copy (README.txt lost) with a local change: a failed refetch leaves it as it was
    const partial = { ...SMALL, 'ratings.csv': `${SMALL['ratings.csv']}3,3,1.0,1\n` } as Record<string, string>;
    delete partial['README.txt'];
    for (const [f, t] of Object.entries(partial)) writeFileSync(join(dest, f), t);
    served.set('/bad.zip', buildZip({ 'movies.csv': 'movieId,title,genres\n1,A\n' }));
    await expect(fetchMovieLens({ url: `${base}/bad.zip`, dest })).rejects.toThrow(/movies\.csv:2: 2 fields/);
    await expect(fetchMovieLens({ url: `${base}/gone.zip`, dest })).rejects.toThrow(/HTTP 404/);
    expect(snapshot(dest)).toEqual(partial);
    // a good fetch completes it
    await fetchMovieLens({ url: `${base}/ml-latest-small.zip`, dest });
    expect(snapshot(dest)).toEqual(SMALL);
    // complete: kept, even when the source is gone
    requests.length = 0;
    await fetchMovieLens({ url: `${base}/gone.zip`, dest });
    expect(requests).toEqual([]);
    expect(snapshot(dest)).toEqual(SMALL);
  });

  it('takes a local archive with --archive', async () => {
    const dir = tempDir();
    const file = join(dir, 'ml-latest-small.zip');
    writeFileSync(file, zip);
    const dest = await fetchMovieLens({ archive: file, dest: join(dir, 'ml') });
    expect(snapshot(dest)).toEqual(SMALL);
    expect(requests).toEqual([]);
    await expect(fetchMovieLens({ archive: join(dir, 'none.zip'), dest: join(dir, 'o') })).rejects.toThrow(
      /none\.zip: cannot read MovieLens archive/,
    );
  });

  it.skipIf(!existsSync(join(SHARED, 'ratings.csv')))(
    'unpacks a zip of the real files into a loadable copy',
    async () => {
      const real: Zippable = {};
      for (const f of MOVIELENS_SMALL_FILES) real[f] = readFileSync(join(SHARED, f));
      served.set('/real.zip', Buffer.from(zipSync({ [TOP]: real })));
      const dest = await fetchMovieLens({ url: `${base}/real.zip`, dest: join(tempDir(), 'ml') });
      for (const f of MOVIELENS_SMALL_FILES)
        expect(readFileSync(join(dest, f)).equals(readFileSync(join(SHARED, f)))).toBe(true);
      const d = loadMovieLens(dest);
      expect([d.size, d.numUsers, d.numItems]).toEqual([100836, 610, 9724]);
    },
  );
});

describe('graduate data fetch movielens-small', () => {
  it('--url --dest prints where the files are; a bad --sha256 is exit 1 with the reason', async () => {
    const dest = join(tempDir(), 'ml');
    const url = `${base}/ml-latest-small.zip`;
    const r = await cli('data', 'fetch', 'movielens-small', '--url', url, '--dest', dest);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `movielens-small is in ${dest} (ratings.csv, movies.csv, tags.csv, links.csv, README.txt)`,
    );
    const bad = await cli(
      'data',
      'fetch',
      'movielens-small',
      '--url',
      url,
      '--dest',
      join(tempDir(), 'x'),
      '--sha256',
      '0'.repeat(64),
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('differs from the expected');
  });
});
