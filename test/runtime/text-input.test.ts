// Text models in the runtime: InferenceModel.prepareText tokenises exactly as text/encode.ts
// encodeText (the training data's encoder), a text's answer does not depend on the texts batched
// with it (each is padded to maxTokens with -1 and the model masks padding), and bad input is named.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCsv } from '../../src/data/csv.js';
import { loadText } from '../../src/data/text.js';
import type { InputSpec } from '../../src/graph/ir.js';
import { type InferenceModel, loadArtifact } from '../../src/runtime/index.js';
import { checkText, textInput } from '../../src/runtime/text-input.js';
import { encodeText, type TextTokenizer } from '../../src/text/encode.js';
import {
  TEXT_TOKENS,
  TEXTS,
  tinyTextGraph,
  writeTinyArtifact,
  writeTinyTransformerArtifact,
} from '../serve/fixtures.js';

let dir: string;
let model: InferenceModel;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'graduate-text-input-'));
  model = await loadArtifact(writeTinyTransformerArtifact(dir), { maxBatch: 8 });
});
afterAll(() => {
  model.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('InferenceModel.prepareText', () => {
  it('gives encodeText ids of each text under the model tokenizer, [B, maxTokens]', () => {
    const ids = model.prepareText(TEXTS);
    expect(ids).toBeInstanceOf(Int32Array);
    expect(ids.length).toBe(TEXTS.length * TEXT_TOKENS);
    const tokenizer = model.input.tokenizer as TextTokenizer;
    TEXTS.forEach((t, i) => {
      expect(Array.from(ids.subarray(i * TEXT_TOKENS, (i + 1) * TEXT_TOKENS))).toEqual(
        Array.from(encodeText(t, tokenizer, TEXT_TOKENS)),
      );
    });
    // [CLS] first, 'ok' is short (padded with -1), the long text is truncated (no padding)
    expect(ids[0]).toBe(2);
    expect(ids[2 * TEXT_TOKENS + TEXT_TOKENS - 1]).toBe(-1);
    expect(ids[4 * TEXT_TOKENS - 1]).not.toBe(-1);
  });

  it('answers a text the same alone and batched with shorter and longer texts', () => {
    const together = model.run(model.prepareText(TEXTS), TEXTS.length);
    const C = together.length / TEXTS.length;
    TEXTS.forEach((t, i) => {
      const alone = model.run(model.prepareText([t]), 1);
      for (let c = 0; c < C; c++) expect(together[i * C + c]).toBeCloseTo(alone[c], 5);
    });
    // and the texts differ in answer (the comparison above could not pass by a constant output)
    expect(Math.abs(together[0] - together[C])).toBeGreaterThan(1e-4);
  });

  it('refuses non-strings, over-long texts and non-text models by name', async () => {
    expect(() => textInput(model.input, ['ok', 7], 'texts')).toThrow('texts[1]: expected a string, got 7');
    expect(() => checkText('input', 'é'.repeat(10), { maxBytes: 16, raiseWith: '--max-text-bytes' })).toThrow(
      'input: 20 bytes of UTF-8, over the limit of 16 bytes per text (--max-text-bytes raises it)',
    );
    expect(() => checkText('input', 'é'.repeat(8), { maxBytes: 16 })).not.toThrow();
    const image = await loadArtifact(writeTinyArtifact(dir));
    expect(() => image.prepareText(['hi'])).toThrow('prepareText: text, but the model takes image input [8, 8, 1]');
    image.dispose();
  });

  it('gives the training data ids: loadText of SpamAssassin mails (BPE with the e-mail cut, vocab, hash)', () => {
    const file = join(import.meta.dirname, '../fixtures/text/spamassassin-sample/test.csv');
    const { header, rows } = readCsv(file);
    const texts = rows.map((r) => r[header.indexOf('text')]);
    for (const tokenizer of ['bpe', 'vocab', 'hash'] as const) {
      const ds = loadText(file, { tokenizer, vocabSize: tokenizer === 'bpe' ? 400 : 500, maxTokens: 64 });
      // the input spec a checkpoint of this data records
      const { tokenizer: recorded } = ds.preprocessing as { tokenizer: unknown };
      const spec: InputSpec = { kind: 'text', shape: [...ds.sampleShape], tokenizer: recorded };
      if (tokenizer === 'bpe') expect(spec.tokenizer).toMatchObject({ kind: 'bpe', mail: 'subject+from+body' });
      expect(Array.from(textInput(spec, texts, 'texts')), tokenizer).toEqual(Array.from(ds.x));
    }
  });

  it('vocab tokenizers: words looked up, unknown words 0, padding -1', () => {
    const spec = tinyTextGraph().meta.input;
    expect(Array.from(textInput(spec, ['B zzz a'], 'text'))).toEqual([1, 0, 0, -1]);
  });
});
