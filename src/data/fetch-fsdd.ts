// Downloading the Free Spoken Digit Dataset: the upstream release archive (a .tar.gz of the
// repository at tag v1.0.9: 2,500 recordings, 5 speakers, the set this project's shared copy holds),
// verified by SHA-256 before anything is extracted, then only its recordings/*.wav regular files are
// extracted (node-tar: no absolute or '..' paths, no links) into a temporary folder that is renamed
// into place, so an interrupted fetch leaves nothing half-made and a finished one is not repeated.
// Not for: loading (data/audio.ts).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { FormatError, GraduateError } from '../errors.js';
import { readFileChecked } from '../io/read.js';
import { fsddCacheDir } from './audio.js';
import { download } from './fetch.js';

/** The upstream release archive (GitHub's tarball of tag v1.0.9, as TensorFlow Datasets pins it). */
export const FSDD_URL = 'https://github.com/Jakobovski/free-spoken-digit-dataset/archive/v1.0.9.tar.gz';
/**
 * SHA-256 and size of that archive, as recorded by TensorFlow Datasets
 * (tensorflow_datasets/audio/spoken_digit/checksums.tsv); not recomputed here (no network).
 */
export const FSDD_SHA256 = '8bc44cde129d505cbbb6b365c09f80c663f2aa77578afc634e6141a2f87100c0';
export const FSDD_ARCHIVE_BYTES = 11_975_353;
/** A download larger than this is refused while it arrives (the release is 12 MB). */
const MAX_ARCHIVE_BYTES = 512 * 1024 ** 2;
/** Extracted recordings larger than this in total are refused (the release's are 23 MB). */
const MAX_EXTRACTED_BYTES = 4 * 1024 ** 3;
const RECORDING = /^[^/]+\/recordings\/[^/]+\.wav$/i;

export interface FetchFsddOptions {
  /** Archive URL (default $GRADUATE_FSDD_URL, then FSDD_URL) */
  url?: string;
  /** A local copy of the archive instead of a download */
  archive?: string;
  /** Folder to fill (default ~/.cache/graduate/fsdd); the clips go to DEST/recordings */
  dest?: string;
  /** Expected SHA-256 of the archive (default FSDD_SHA256, the upstream release's) */
  sha256?: string;
  log?: (line: string) => void;
}

const wavsIn = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => /\.wav$/i.test(f)).length : 0);

/**
 * Downloads (or reads opts.archive), verifies and extracts FSDD; returns DEST/recordings, the folder
 * that `--data` and loadAudioSplits take. A DEST/recordings already there is kept as it is.
 */
export async function fetchFsdd(opts: FetchFsddOptions = {}): Promise<string> {
  const log = opts.log ?? (() => {});
  const dest = opts.dest ?? fsddCacheDir();
  const recordings = join(dest, 'recordings');
  const present = wavsIn(recordings);
  if (present > 0) {
    log(`${recordings}: present (${present} recordings), skipped`);
    return recordings;
  }
  const expected = (opts.sha256 ?? FSDD_SHA256).toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(expected))
    throw new FormatError(`--sha256: expected 64 hexadecimal digits, got '${opts.sha256}'`);

  let bytes: Uint8Array;
  let source: string;
  if (opts.archive) {
    source = opts.archive;
    bytes = readFileChecked(opts.archive, 'FSDD archive');
  } else {
    source = opts.url ?? process.env.GRADUATE_FSDD_URL ?? FSDD_URL;
    try {
      bytes = await download(source, log, MAX_ARCHIVE_BYTES);
    } catch (e) {
      if (!(e instanceof GraduateError) || !/ failed: /.test(e.message)) throw e;
      throw new GraduateError(
        `${e.message}\nCannot reach ${source} (offline?). Download the archive elsewhere and run ` +
          '`graduate data fetch fsdd --archive <file.tar.gz>`, or pass --url with a mirror.',
      );
    }
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== expected)
    throw new FormatError(
      `${source}: SHA-256 ${sha} differs from the expected ${expected}` +
        (opts.sha256 ? '' : ' (the upstream v1.0.9 release archive); pass --sha256 for another archive'),
    );
  log(`${source}: SHA-256 ok (${(bytes.length / 1e6).toFixed(1)} MB)`);
  if (!(bytes[0] === 0x1f && bytes[1] === 0x8b)) throw new FormatError(`${source}: not a gzip'd tar archive`);

  mkdirSync(dest, { recursive: true });
  const work = mkdtempSync(join(dest, '.fetch-'));
  try {
    const file = join(work, 'archive.tar.gz');
    writeFileSync(file, bytes);
    const out = join(work, 'x');
    mkdirSync(out);
    let total = 0;
    let skipped = 0;
    let tooBig = false;
    await tar
      .x({
        file,
        cwd: out,
        strict: true,
        filter: (path, entry) => {
          const size = 'size' in entry ? entry.size : 0;
          const keep = 'type' in entry && entry.type === 'File' && RECORDING.test(path);
          if (!keep) skipped++;
          else total += size;
          if (total > MAX_EXTRACTED_BYTES) tooBig = true;
          return keep && !tooBig;
        },
      })
      .catch((e: Error) => {
        throw new FormatError(`${source}: not a valid tar.gz archive (${e.message})`);
      });
    if (tooBig) throw new FormatError(`${source}: recordings of over ${MAX_EXTRACTED_BYTES} bytes in all, refused`);
    const tops = readdirSync(out);
    const found = tops.map((t) => join(out, t, 'recordings')).find((d) => wavsIn(d) > 0);
    if (!found) throw new FormatError(`${source}: no <top folder>/recordings/*.wav in the archive`);
    renameSync(found, recordings);
    log(`${recordings}: ${wavsIn(recordings)} recordings extracted (${skipped} other entries skipped)`);
    return recordings;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
