// Tokenizer speed: training the byte-level BPE (src/text/train-bpe.ts) on a few MB, and encoding a
// ~25 MB corpus document by document (src/text/bpe.ts), in MB/s of UTF-8 input; beside peers
// installed from npm when they are found: @huggingface/tokenizers (pure JS) and tokenizers (HF's
// Rust core, native) loading the same merges (their ids are compared with ours document by
// document), and gpt-tokenizer (pure JS, o200k_base: another vocabulary, cannot train). Runners
// are interleaved round by round and the best round is kept, so load from other processes on a
// shared host falls on all alike.
//
//   node --import tsx bench/tokenizer.ts [--corpus FILE] [--mb 25] [--train-mb 5] [--vocab 8000]
//        [--rounds 3] [--peers DIR]
// --corpus: a CSV with a text column (one document per row: the SpamAssassin train.csv of
// `graduate data fetch spamassassin` is 26.6 MB), or a text file, one document per blank-line-
// separated block (default: the .md and .txt files under node_modules, one document each, repeated
// up to --mb). --peers: a folder whose
// node_modules holds the peers (default: this repository's).
// Not for: the correctness of the tokenizer (test/text/).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readCsv } from '../src/data/csv.js';
import type { BpeTokenizer } from '../src/text/bpe.js';
import { normalizeText } from '../src/text/pretokenize.js';
import { trainBpe } from '../src/text/train-bpe.js';

const { values: args } = parseArgs({
  options: {
    corpus: { type: 'string' },
    mb: { type: 'string', default: '25' },
    'train-mb': { type: 'string', default: '5' },
    vocab: { type: 'string', default: '8000' },
    rounds: { type: 'string', default: '3' },
    peers: { type: 'string', default: process.cwd() },
  },
});
const MB = 1e6;
const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** Documents of about `mb` MB: the blocks of a file, or node_modules' .md/.txt files (repeated if short). */
function loadCorpus(): { docs: string[]; distinctBytes: number; source: string } {
  const target = Number(args.mb) * MB;
  let distinct: string[];
  let source: string;
  if (args.corpus?.endsWith('.csv')) {
    const { header, rows } = readCsv(args.corpus);
    const column = header.indexOf('text');
    if (column < 0) throw new Error(`${args.corpus}: no 'text' column in [${header.join(', ')}]`);
    distinct = rows.map((r) => r[column]);
    source = `${args.corpus} (column text)`;
  } else if (args.corpus) {
    distinct = readFileSync(args.corpus, 'utf8')
      .split(/\n\s*\n/)
      .filter((d) => d.trim() !== '');
    source = args.corpus;
  } else {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir).sort()) {
        const p = join(dir, name);
        const st = statSync(p, { throwIfNoEntry: false });
        if (st?.isDirectory()) walk(p);
        else if (st?.isFile() && /\.(md|txt)$/i.test(name) && st.size > 0 && st.size < 2 * MB) files.push(p);
      }
    };
    walk('node_modules');
    distinct = files.map((f) => readFileSync(f, 'utf8'));
    source = `node_modules/**/*.{md,txt} (${files.length} files)`;
  }
  const distinctBytes = distinct.reduce((s, d) => s + utf8Bytes(d), 0);
  const docs: string[] = [];
  let bytes = 0;
  for (let i = 0; bytes < target && distinct.length > 0; i++) {
    const d = distinct[i % distinct.length];
    docs.push(d);
    bytes += utf8Bytes(d);
  }
  return { docs, distinctBytes, source };
}

/** HuggingFace tokenizer.json holding the same merges, ids and normalisation as `t`. */
function huggingFaceJSON(t: BpeTokenizer): object {
  const vocab: Record<string, number> = {};
  for (let id = 0; id < t.vocabSize; id++) vocab[t.tokenPiece(id)] = id;
  const merges: [string, string][] = [];
  for (let r = 0; r < t.merges.length / 2; r++)
    merges.push([t.tokenPiece(t.merges[2 * r]), t.tokenPiece(t.merges[2 * r + 1])]);
  const norm = [
    ...(t.normalization.unicode === 'NFKC' ? [{ type: 'NFKC' }] : []),
    ...(t.normalization.lowercase ? [{ type: 'Lowercase' }] : []),
  ];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    // none: HuggingFace would match '[MASK]' typed in the text as the special token, we never do
    added_tokens: [],
    normalizer: norm.length === 0 ? null : { type: 'Sequence', normalizers: norm },
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

interface Runner {
  name: string;
  /** Encodes every document; returns the token count (or per-document ids when `keep`). */
  run: (docs: readonly string[], keep: boolean) => Promise<{ tokens: number; ids?: number[][] }>;
}

/** A peer package resolved from the --peers folder, or undefined with a note. */
async function peer(name: string): Promise<{ mod: Record<string, unknown>; version: string } | undefined> {
  const req = createRequire(join(args.peers!, 'package.json'));
  try {
    const path = req.resolve(name);
    // the package.json above the entry (not every package exports ./package.json)
    let dir = dirname(path);
    const manifest = () => {
      const p = join(dir, 'package.json');
      return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string }) : {};
    };
    while ((manifest().name !== name || !manifest().version) && dirname(dir) !== dir) dir = dirname(dir);
    const version = manifest().version ?? '?';
    const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    return { mod: (mod.default as Record<string, unknown> | undefined) ?? mod, version };
  } catch (e) {
    console.log(`  (${name} not found from ${args.peers}: ${(e as Error).message.split('\n')[0]})`);
    return undefined;
  }
}

type Encoding = { ids: number[] };
type HfJsTokenizer = new (json: object, config: object) => { encode(s: string): Encoding };
type HfNative = {
  Tokenizer: { fromString(s: string): { encodeBatch(s: string[]): Promise<{ getIds(): number[] }[]> } };
};

async function main() {
  const { docs, distinctBytes, source } = loadCorpus();
  const totalBytes = docs.reduce((s, d) => s + utf8Bytes(d), 0);
  console.log(
    `corpus: ${(totalBytes / MB).toFixed(1)} MB of UTF-8 in ${docs.length} documents (${(distinctBytes / MB).toFixed(1)} MB distinct) from ${source}`,
  );

  const trainDocs: string[] = [];
  for (let b = 0, i = 0; b < Number(args['train-mb']) * MB && i < docs.length; i++) {
    trainDocs.push(docs[i]);
    b += utf8Bytes(docs[i]);
  }
  const trainBytes = trainDocs.reduce((s, d) => s + utf8Bytes(d), 0);
  let t0 = performance.now();
  const training = trainBpe(trainDocs, { vocabSize: Number(args.vocab) });
  let dt = (performance.now() - t0) / 1000;
  const tok = training.tokenizer;
  console.log(
    `train: ${(trainBytes / MB).toFixed(1)} MB → ${tok.vocabSize} tokens in ${dt.toFixed(2)} s (${(trainBytes / MB / dt).toFixed(1)} MB/s; ${training.distinctPieces} distinct pieces of ${training.pieces}; stopped by ${training.stoppedBy})`,
  );

  const runners: Runner[] = [
    {
      name: 'graduate encode (per document)',
      run: async (ds, keep) => {
        let tokens = 0;
        const ids: number[][] = [];
        for (const d of ds) {
          const e = tok.encode(d);
          tokens += e.length;
          if (keep) ids.push(Array.from(e));
        }
        return { tokens, ids: keep ? ids : undefined };
      },
    },
    {
      name: 'graduate encodeBatch (32 documents, maxLength 512: stops after 512 tokens; MB/s of whole documents)',
      run: async (ds) => {
        let tokens = 0;
        for (let i = 0; i < ds.length; i += 32) {
          const b = tok.encodeBatch(ds.slice(i, i + 32), { maxLength: 512 });
          tokens += b.lengths.reduce((s, n) => s + n, 0);
        }
        return { tokens };
      },
    },
  ];
  const hfJson = huggingFaceJSON(tok);
  const hfJs = await peer('@huggingface/tokenizers');
  if (hfJs) {
    const hfTok = new (hfJs.mod.Tokenizer as HfJsTokenizer)(hfJson, {});
    runners.push({
      name: `@huggingface/tokenizers ${hfJs.version} (pure JS, same merges)`,
      run: async (ds, keep) => {
        let tokens = 0;
        const ids: number[][] = [];
        for (const d of ds) {
          const e = hfTok.encode(d).ids;
          tokens += e.length;
          if (keep) ids.push(Array.from(e));
        }
        return { tokens, ids: keep ? ids : undefined };
      },
    });
  }
  const hfNative = await peer('tokenizers');
  if (hfNative) {
    const nt = (hfNative.mod as unknown as HfNative).Tokenizer.fromString(JSON.stringify(hfJson));
    runners.push({
      name: `tokenizers ${hfNative.version} (HF's Rust core, native, encodeBatch on its threads, same merges)`,
      run: async (ds, keep) => {
        let tokens = 0;
        const ids: number[][] = [];
        for (let i = 0; i < ds.length; i += 256) {
          for (const e of await nt.encodeBatch(ds.slice(i, i + 256) as string[])) {
            const x = e.getIds();
            tokens += x.length;
            if (keep) ids.push(Array.from(x));
          }
        }
        return { tokens, ids: keep ? ids : undefined };
      },
    });
  }
  const gpt = await peer('gpt-tokenizer');
  if (gpt) {
    const encode = gpt.mod.encode as (s: string) => number[];
    runners.push({
      name: `gpt-tokenizer ${gpt.version} (pure JS, o200k_base: 200k-token vocabulary)`,
      run: async (ds) => {
        let tokens = 0;
        for (const d of ds) tokens += encode(d).length;
        return { tokens };
      },
    });
  }

  // ids of the peers that load our merges, against ours
  const ours = (await runners[0].run(docs, true)).ids!;
  for (const r of runners.slice(2)) {
    const theirs = (await r.run(docs, true)).ids;
    if (!theirs) continue;
    let same = 0;
    let withMarks = 0;
    theirs.forEach((ids, i) => {
      if (ids.length === ours[i].length && ids.every((v, k) => v === ours[i][k])) same++;
      else if (/\p{M}/u.test(normalizeText(docs[i], tok.normalization))) withMarks++;
    });
    const rest = docs.length - same - withMarks;
    console.log(
      `  ids equal to ours: ${same}/${docs.length} documents (${r.name.split(' (')[0]}); different: ${withMarks} holding combining marks (GPT-2's rule splits them off, ours keeps them in words), ${rest} others`,
    );
  }

  const best = runners.map(() => Number.POSITIVE_INFINITY);
  const tokens = runners.map(() => 0);
  for (let round = 0; round < Number(args.rounds); round++) {
    for (const [i, r] of runners.entries()) {
      t0 = performance.now();
      tokens[i] = (await r.run(docs, false)).tokens;
      dt = (performance.now() - t0) / 1000;
      best[i] = Math.min(best[i], dt);
    }
  }
  console.log(`encode ${(totalBytes / MB).toFixed(1)} MB, best of ${args.rounds} interleaved rounds:`);
  for (const [i, r] of runners.entries()) {
    const rate = totalBytes / MB / best[i];
    const ratio = i < 2 ? '' : `; graduate encode ${(best[i] / best[0]).toFixed(2)}× as fast`;
    console.log(
      `  ${r.name}: ${best[i].toFixed(2)} s, ${rate.toFixed(1)} MB/s, ${(tokens[i] / 1e6).toFixed(2)} M tokens (${(totalBytes / tokens[i]).toFixed(2)} bytes/token)${ratio}`,
    );
  }
}

await main();
