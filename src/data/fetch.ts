// Downloading Fashion-MNIST into a local folder that loadFashionMnist() searches. Each file is
// verified (parsed as IDX; MD5 and dimensions when it comes from an official mirror) before it is
// written atomically, and files already present and valid are kept, so an interrupted fetch resumes.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, GraduateError } from '../errors.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { FASHION_MNIST_FILES, fashionMnistCacheDir } from './fashion-mnist.js';
import { parseIdx } from './idx.js';

/**
 * The official download location. S3 website endpoints serve plain HTTP only (no TLS), so the
 * integrity check is the MD5 of each file, published by the dataset's authors.
 */
export const FASHION_MNIST_URL = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';
const OFFICIAL_MIRRORS = new Set([
  FASHION_MNIST_URL,
  'https://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
  'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/',
]);

/** A file to fetch: its name under the base URL, and what it must be. */
export interface FetchSpec {
  name: string;
  /** IDX rank (3 for images, 1 for labels). */
  rank: number;
  /** Official MD5 of the (gzip'd) bytes and IDX shape, checked when known. */
  md5?: string;
  shape?: readonly number[];
}

const OFFICIAL_FILES: FetchSpec[] = [
  { name: 'train-images-idx3-ubyte.gz', rank: 3, md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d', shape: [60000, 28, 28] },
  { name: 'train-labels-idx1-ubyte.gz', rank: 1, md5: '25c81989df183df01b3e8a0aad5dffbe', shape: [60000] },
  { name: 't10k-images-idx3-ubyte.gz', rank: 3, md5: 'bef4ecab320f06d8554ea6380940ec79', shape: [10000, 28, 28] },
  { name: 't10k-labels-idx1-ubyte.gz', rank: 1, md5: 'bb300cfdad3c16e7a12a480ee83cd310', shape: [10000] },
];

/**
 * Downloads the 4 Fashion-MNIST files (from opts.baseUrl, $GRADUATE_FASHION_MNIST_URL or the
 * official URL) into opts.dest (default ~/.cache/graduate/fashion-mnist). Returns the folder.
 */
export async function fetchFashionMnist(
  opts: { baseUrl?: string; dest?: string; log?: (line: string) => void } = {},
): Promise<string> {
  let baseUrl = opts.baseUrl ?? process.env.GRADUATE_FASHION_MNIST_URL ?? FASHION_MNIST_URL;
  if (!baseUrl.endsWith('/')) baseUrl += '/';
  const official = OFFICIAL_MIRRORS.has(baseUrl);
  // other mirrors (and tests) may serve other bytes of other sizes: only the format is checked
  const files = official ? OFFICIAL_FILES : OFFICIAL_FILES.map(({ name, rank }) => ({ name, rank }));
  const dest = opts.dest ?? fashionMnistCacheDir();
  const counts = await fetchFiles(baseUrl, dest, files, opts.log ?? (() => {}));
  for (const split of Object.values(FASHION_MNIST_FILES)) {
    const n = counts.get(`${split.images}.gz`);
    const m = counts.get(`${split.labels}.gz`);
    if (n !== m)
      throw new FormatError(`${baseUrl}${split.labels}.gz: ${m} labels for ${n} images in ${split.images}.gz`);
  }
  return dest;
}

/** Fetches each file unless a valid copy is in dest; returns the first IDX dimension of each. */
export async function fetchFiles(
  baseUrl: string,
  dest: string,
  files: readonly FetchSpec[],
  log: (line: string) => void,
): Promise<Map<string, number>> {
  mkdirSync(dest, { recursive: true });
  const counts = new Map<string, number>();
  for (const spec of files) {
    const path = join(dest, spec.name);
    if (existsSync(path)) {
      try {
        counts.set(spec.name, verify(readFileSync(path), path, spec));
        log(`${path}: present and valid, skipped`);
        continue;
      } catch (e) {
        log(`${path}: invalid (${(e as Error).message}), downloading again`);
      }
    }
    const url = baseUrl + spec.name;
    const bytes = await download(url, log);
    counts.set(spec.name, verify(bytes, url, spec));
    writeFileAtomicSync(path, bytes);
    log(`${path}: saved (${mb(bytes.length)}${spec.md5 ? ', MD5 ok' : ''})`);
  }
  return counts;
}

/** Throws a FormatError naming `where` unless bytes are the IDX file described; returns its first dimension. */
function verify(bytes: Uint8Array, where: string, spec: FetchSpec): number {
  if (spec.md5) {
    const md5 = createHash('md5').update(bytes).digest('hex');
    if (md5 !== spec.md5) throw new FormatError(`${where}: MD5 ${md5} differs from the official ${spec.md5}`);
  }
  const { shape } = parseIdx(bytes, where);
  if (shape.length !== spec.rank)
    throw new FormatError(`${where}: expected a rank-${spec.rank} IDX file, got rank ${shape.length}`);
  if (spec.shape && shape.join() !== spec.shape.join())
    throw new FormatError(`${where}: expected IDX shape [${spec.shape.join(', ')}], got [${shape.join(', ')}]`);
  return shape[0];
}

/** GETs url into memory, logging progress about every quarter of the file; refused past maxBytes. */
export async function download(url: string, log: (line: string) => void, maxBytes = Infinity): Promise<Uint8Array> {
  log(`downloading ${url}`);
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    const cause = (e as Error & { cause?: Error }).cause;
    throw new GraduateError(`GET ${url} failed: ${cause?.message ?? (e as Error).message}`);
  }
  if (!res.ok || !res.body) throw new GraduateError(`GET ${url}: HTTP ${res.status} ${res.statusText}`.trimEnd());
  const total = Number(res.headers.get('content-length') ?? 0);
  const tooBig = (n: number) => new FormatError(`GET ${url}: ${n} bytes or more, over the limit of ${maxBytes} bytes`);
  if (total > maxBytes) {
    await res.body.cancel();
    throw tooBig(total);
  }
  const chunks: Uint8Array[] = [];
  let received = 0;
  let nextReport = 0.25;
  const reader = res.body.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    const chunk = r.value;
    chunks.push(chunk);
    received += chunk.length;
    if (received > maxBytes) {
      await reader.cancel();
      throw tooBig(received);
    }
    if (total > 0 && received / total >= nextReport && received < total) {
      log(`  ${Math.floor((100 * received) / total)}% of ${mb(total)}`);
      while (received / total >= nextReport) nextReport += 0.25;
    }
  }
  return Buffer.concat(chunks, received);
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
