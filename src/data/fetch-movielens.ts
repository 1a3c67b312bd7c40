// Downloading MovieLens ml-latest-small (GroupLens' zip: ml-latest-small/{ratings,movies,tags,links}.csv
// and README.txt). GroupLens publishes no checksum and this project could not download the archive
// to pin one, so by default the content is what is verified: the zip is read in memory (fflate),
// each file's CRC-32 must match the zip's directory, the five files must be there, ratings.csv and
// movies.csv must load as MovieLens (every row checked, at least one rating), tags.csv and
// links.csv must parse as CSV with their headers; --sha256 pins the archive when the user knows
// its hash. Only then is anything written: each file atomically,
// ratings.csv last, so a failed fetch never touches a copy already there, and a complete copy is
// not fetched again. Not for: loading (interactions.ts).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { unzipSync } from 'fflate';
import { FormatError, GraduateError } from '../errors.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { readFileChecked, readFileHead } from '../io/read.js';
import { parseCsv } from './csv.js';
import { download } from './fetch.js';
import { movieLensCacheDir, parseMovieLens } from './interactions.js';

/** GroupLens' archive of ml-latest-small (research use; see its README.txt). */
export const MOVIELENS_SMALL_URL = 'https://files.grouplens.org/datasets/movielens/ml-latest-small.zip';
/** The files taken from the archive, each as `<top folder>/<name>` or `<name>`. */
export const MOVIELENS_SMALL_FILES = ['movies.csv', 'tags.csv', 'links.csv', 'README.txt', 'ratings.csv'] as const;
const HEADERS: Readonly<Record<string, string>> = {
  'ratings.csv': 'userId,movieId,rating,timestamp',
  'movies.csv': 'movieId,title,genres',
  'tags.csv': 'userId,movieId,tag,timestamp',
  'links.csv': 'movieId,imdbId,tmdbId',
};
/** A download larger than this is refused while it arrives (the archive is about 1 MB). */
const MAX_ARCHIVE_BYTES = 256 * 1024 ** 2;
/** Files that declare more than this in all are not inflated (ml-latest-small's are 5 MB). */
const MAX_EXTRACTED_BYTES = 1024 ** 3;

export interface FetchMovieLensOptions {
  /** Archive URL (default $GRADUATE_MOVIELENS_URL, then MOVIELENS_SMALL_URL) */
  url?: string;
  /** A local copy of the archive instead of a download */
  archive?: string;
  /** Folder to fill (default ~/.cache/graduate/movielens-small) */
  dest?: string;
  /** Expected SHA-256 of the archive; without it the content is checked (see the header) */
  sha256?: string;
  log?: (line: string) => void;
}

/**
 * Downloads (or reads opts.archive), verifies and unpacks ml-latest-small into DEST; returns DEST,
 * the folder `--data` and loadMovieLens take. A DEST that already holds the five files is kept.
 */
export async function fetchMovieLens(opts: FetchMovieLensOptions = {}): Promise<string> {
  const log = opts.log ?? (() => {});
  const dest = opts.dest ?? movieLensCacheDir();
  if (isComplete(dest)) {
    log(`${dest}: present (${MOVIELENS_SMALL_FILES.join(', ')}), skipped`);
    return dest;
  }
  const expected = opts.sha256?.toLowerCase();
  if (expected !== undefined && !/^[0-9a-f]{64}$/.test(expected))
    throw new FormatError(`--sha256: expected 64 hexadecimal digits, got '${opts.sha256}'`);

  let bytes: Uint8Array;
  let source: string;
  if (opts.archive) {
    source = opts.archive;
    bytes = readFileChecked(opts.archive, 'MovieLens archive');
  } else {
    source = opts.url ?? process.env.GRADUATE_MOVIELENS_URL ?? MOVIELENS_SMALL_URL;
    try {
      bytes = await download(source, log, MAX_ARCHIVE_BYTES);
    } catch (e) {
      if (!(e instanceof GraduateError) || !/ failed: /.test(e.message)) throw e;
      throw new GraduateError(
        `${e.message}\nCannot reach ${source} (offline?). Download ml-latest-small.zip elsewhere and run ` +
          '`graduate data fetch movielens-small --archive <file.zip>`, or pass --url with a mirror.',
      );
    }
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (expected !== undefined && sha !== expected)
    throw new FormatError(`${source}: SHA-256 ${sha} differs from the expected ${expected}`);
  log(`${source}: ${(bytes.length / 1e6).toFixed(1)} MB, SHA-256 ${sha}${expected ? ' (as expected)' : ''}`);

  if (!crc32) log(`${source}: CRC-32 not checked (this Node has no zlib.crc32; 20.15 or later has)`);
  const files = unzipMovieLens(bytes, source);
  const data = parseMovieLens(
    { ratings: files.get('ratings.csv') as string, movies: files.get('movies.csv') },
    { ratings: `${source}: ratings.csv`, movies: `${source}: movies.csv` },
  );
  for (const name of ['tags.csv', 'links.csv']) parseCsv(files.get(name) as string, `${source}: ${name}`);
  log(
    `${source}: content ok (${data.size} ratings, ${data.numUsers} users, ${data.numItems} rated movies${expected ? '' : '; no pinned SHA-256, see docs/recommend.md'})`,
  );

  mkdirSync(dest, { recursive: true });
  for (const name of MOVIELENS_SMALL_FILES) writeFileAtomicSync(join(dest, name), files.get(name) as string);
  log(`${dest}: ${MOVIELENS_SMALL_FILES.join(', ')} written`);
  return dest;
}

/** Whether `dir` holds the five files, with ratings.csv's header as MovieLens writes it. */
function isComplete(dir: string): boolean {
  if (!MOVIELENS_SMALL_FILES.every((f) => existsSync(join(dir, f)))) return false;
  const { head } = readFileHead(join(dir, 'ratings.csv'), 'ratings file', 64);
  return firstLine(head.toString('utf8')) === HEADERS['ratings.csv'];
}

/**
 * The five files of the archive as UTF-8 text, each checked to start with its header (README.txt:
 * non-empty). Entries may sit under one top folder; other entries are ignored.
 */
function unzipMovieLens(bytes: Uint8Array, source: string): Map<string, string> {
  const wanted = new Set<string>(MOVIELENS_SMALL_FILES);
  const declared = new Map<string, number>();
  let total = 0;
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, {
      filter: (f) => {
        const keep = wanted.has(baseName(f.name)) && /^([^/]+\/)?[^/]+$/.test(f.name);
        if (keep) {
          total += f.originalSize;
          declared.set(f.name, f.originalSize);
        }
        return keep && total <= MAX_EXTRACTED_BYTES;
      },
    });
  } catch (e) {
    throw new FormatError(`${source}: not a valid zip archive (${(e as Error).message})`);
  }
  if (total > MAX_EXTRACTED_BYTES)
    throw new FormatError(`${source}: files of over ${MAX_EXTRACTED_BYTES} bytes in all, refused`);
  const crcs = centralCrcs(bytes, source);
  const files = new Map<string, string>();
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  for (const [path, data] of Object.entries(entries)) {
    const name = baseName(path);
    if (files.has(name)) throw new FormatError(`${source}: ${name} twice in the archive`);
    if (data.length !== declared.get(path))
      throw new FormatError(
        `${source}: ${path} inflates to ${data.length} bytes, the archive says ${declared.get(path)}`,
      );
    const crc = crc32?.(data);
    if (crc !== undefined && crc !== crcs.get(path))
      throw new FormatError(
        `${source}: ${path} is damaged (CRC-32 ${hex(crc)}, the archive records ${hex(crcs.get(path) ?? 0)})`,
      );
    let text: string;
    try {
      text = utf8.decode(data);
    } catch {
      throw new FormatError(`${source}: ${path} is not UTF-8 text`);
    }
    const header = HEADERS[name];
    if (header !== undefined && firstLine(text) !== header)
      throw new FormatError(`${source}: ${path} does not start with the header line '${header}'`);
    if (text.trim() === '') throw new FormatError(`${source}: ${path} is empty`);
    files.set(name, text);
  }
  const missing = MOVIELENS_SMALL_FILES.filter((f) => !files.has(f));
  if (missing.length > 0)
    throw new FormatError(
      `${source}: no ${missing.join(', ')} in the archive (expected ml-latest-small/{${MOVIELENS_SMALL_FILES.join(',')}})`,
    );
  return files;
}

/** The first line of text (a BOM and the line end left out; undefined when no line end is in sight). */
const firstLine = (text: string) => /^\uFEFF?([^\r\n]*)\r?\n/.exec(text)?.[1];
const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1);
/** zlib.crc32 came with Node 20.15 (engines allow 20.0): older ones skip the CRC check, logging so. */
const crc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
const hex = (n: number) => n.toString(16).padStart(8, '0');

/**
 * Each entry's CRC-32 as the zip's central directory records it: fflate inflates without checking
 * it, and a damaged deflate stream can inflate to plausible but wrong text. The layout (APPNOTE
 * 4.3.12, 4.3.16, zip64 4.3.14–15) is read as fflate reads it; a malformed directory is refused.
 */
function centralCrcs(bytes: Uint8Array, source: string): Map<string, number> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string) => new FormatError(`${source}: not a valid zip archive (${why})`);
  let end = bytes.length - 22;
  while (end >= 0 && bytes.length - end <= 65557 && view.getUint32(end, true) !== 0x06054b50) end--;
  if (end < 0 || bytes.length - end > 65557) throw bad('no end of central directory');
  let count = view.getUint16(end + 10, true);
  let at = view.getUint32(end + 16, true);
  if (end >= 20 && view.getUint32(end - 20, true) === 0x07064b50) {
    const z = Number(view.getBigUint64(end - 12, true));
    if (z + 56 <= bytes.length && view.getUint32(z, true) === 0x06064b50) {
      count = Number(view.getBigUint64(z + 32, true));
      at = Number(view.getBigUint64(z + 48, true));
    }
  }
  const crcs = new Map<string, number>();
  for (let k = 0; k < count; k++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== 0x02014b50) throw bad(`central directory entry ${k}`);
    const utf8 = (view.getUint16(at + 8, true) & 0x800) !== 0;
    const n = view.getUint16(at + 28, true);
    const name = new TextDecoder(utf8 ? 'utf-8' : 'latin1').decode(bytes.subarray(at + 46, at + 46 + n));
    crcs.set(name, view.getUint32(at + 16, true));
    at += 46 + n + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return crcs;
}
