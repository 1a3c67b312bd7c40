// Makes test/fixtures/text/spamassassin-sample/{train,test}.csv, the small slice of the
// SpamAssassin corpus CI trains on (the corpus itself is fetched, never committed): from the fetched
// train.csv and test.csv, messages of at most 2,000 characters, a seeded pick of 60 ham + 30 spam
// (train) and 30 ham + 15 spam (test), kept in corpus order. The texts are CC0 1.0 (docs/text.md).
//   npx tsx scripts/make-mail-sample.ts [DIR of the fetched corpus, default ~/.cache/graduate/spamassassin]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCsv } from '../src/data/csv.js';
import { type MailMessage, mailCsv, spamAssassinCacheDir } from '../src/data/fetch-spamassassin.js';
import { Rng } from '../src/tensor/random.js';

const MAX_CHARS = 2000;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = process.argv[2] ?? spamAssassinCacheDir();
const out = join(root, 'test/fixtures/text/spamassassin-sample');

function pick(file: string, counts: { ham: number; spam: number }, rng: Rng): MailMessage[] {
  const { header, rows } = readCsv(join(from, file));
  const [t, l] = [header.indexOf('text'), header.indexOf('label')];
  const ms = rows
    .map((r, i) => ({ group: '', id: String(i), label: r[l] as 'ham' | 'spam', text: r[t] }))
    .filter((m) => m.text.length <= MAX_CHARS);
  const keep = new Set<string>();
  for (const label of ['ham', 'spam'] as const) {
    const idx = Int32Array.from(ms.flatMap((m, i) => (m.label === label ? [i] : [])));
    rng.shuffle(idx);
    for (const i of idx.subarray(0, counts[label])) keep.add(ms[i].id);
  }
  return ms.filter((m) => keep.has(m.id));
}

const rng = new Rng(18);
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'train.csv'), mailCsv(pick('train.csv', { ham: 60, spam: 30 }, rng)));
writeFileSync(join(out, 'test.csv'), mailCsv(pick('test.csv', { ham: 30, spam: 15 }, rng)));
console.log(`wrote ${out}/train.csv and test.csv`);
