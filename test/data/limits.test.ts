// Input limits (src/limits.ts): a small file declaring huge contents is refused from its header,
// before anything is decoded, inflated or parsed, with an error naming the file, the declared size,
// the limit and the variable that raises it. Each limit is lowered here so the files stay small.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readJsonTensor } from '../../src/cli/predict.js';
import { loadCsv } from '../../src/data/csv.js';
import { parseIdx } from '../../src/data/idx.js';
import { loadText } from '../../src/data/text.js';
import { FormatError } from '../../src/errors.js';
import { decodeImage, imageSize } from '../../src/io/image-decode.js';
import { Engine } from '../../src/kernels/engine.js';
import { DEFAULT_LIMITS, inputLimits } from '../../src/limits.js';
import { loadArtifact } from '../../src/runtime/index.js';
import { cli } from '../cli/run.js';
import { writeTinyArtifact } from '../serve/fixtures.js';
import { idxGzip, jpegDeclaring, pngDeclaring, realJpeg, realPng } from './bombs.js';
import { tempDir } from './helpers.js';

afterEach(() => vi.unstubAllEnvs());

/** Peak of process.memoryUsage().rss growth while running fn, in MB (sampled before and after). */
function rssGrowthMb(fn: () => unknown): number {
  const before = process.memoryUsage().rss;
  try {
    fn();
  } catch {}
  return (process.memoryUsage().rss - before) / 2 ** 20;
}

describe('input limits', () => {
  it('defaults are generous and each is overridden by its environment variable', () => {
    expect(inputLimits()).toEqual(DEFAULT_LIMITS);
    vi.stubEnv('GRADUATE_MAX_IMAGE_PIXELS', '1000');
    expect(inputLimits().imagePixels).toBe(1000);
    vi.stubEnv('GRADUATE_MAX_IDX_BYTES', 'lots');
    expect(() => inputLimits()).toThrow("GRADUATE_MAX_IDX_BYTES: expected a positive integer (bytes), got 'lots'");
  });

  it('reads PNG and JPEG sizes from their headers without decoding', () => {
    expect(imageSize(realPng(7, 5))).toEqual({ width: 7, height: 5 });
    expect(imageSize(realJpeg(9, 4))).toEqual({ width: 9, height: 4 });
    expect(imageSize(pngDeclaring(30000, 30000))).toEqual({ width: 30000, height: 30000 });
    expect(imageSize(jpegDeclaring(40000, 30000))).toEqual({ width: 40000, height: 30000 });
  });

  it('refuses a PNG over the pixel limit before decoding it (a 1001×1000 image at 1 MP)', () => {
    vi.stubEnv('GRADUATE_MAX_IMAGE_PIXELS', '1000000');
    expect(() => decodeImage(realPng(1000, 1000), 'ok.png')).not.toThrow();
    expect(() => decodeImage(realPng(1001, 1000), 'big.png')).toThrow(
      'big.png: image of 1001×1000 = 1001000 pixels, over the limit of 1000000 pixels (raise it with GRADUATE_MAX_IMAGE_PIXELS=<pixels>)',
    );
  });

  it('refuses a 30000×30000 PNG bomb (valid CRCs) at once, with the default limit', () => {
    const bomb = pngDeclaring(30000, 30000);
    const t0 = performance.now();
    expect(() => decodeImage(bomb, 'bomb.png')).toThrow(/bomb\.png: image of 30000×30000 = 900000000 pixels, over/);
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it('refuses a PNG declaring 0×43794056 at once (pngjs walked every empty row: a hang)', () => {
    const t0 = performance.now();
    expect(() => decodeImage(pngDeclaring(0, 43794056, 0), 'empty.png')).toThrow(
      'empty.png: image of 0×43794056 has no pixels',
    );
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it('refuses a JPEG over the pixel limit before decoding it', () => {
    vi.stubEnv('GRADUATE_MAX_IMAGE_PIXELS', '100');
    expect(() => decodeImage(realJpeg(11, 10), 'photo.jpg')).toThrow(
      /photo\.jpg: image of 11×10 = 110 pixels, over the limit of 100 pixels/,
    );
    vi.unstubAllEnvs();
    expect(() => decodeImage(jpegDeclaring(65000, 65000), 'bomb.jpg')).toThrow(/bomb\.jpg: image of 65000×65000/);
  });

  it('refuses an IDX file whose header declares more than the limit, before inflating it', () => {
    vi.stubEnv('GRADUATE_MAX_IDX_BYTES', '10000');
    expect(() => parseIdx(idxGzip([100, 10, 10], 10000), 'big.gz')).toThrow(
      'big.gz: IDX uint8[100, 10, 10] declares 10016 bytes, over the limit of 10000 bytes (raise it with GRADUATE_MAX_IDX_BYTES=<bytes>)',
    );
    expect(parseIdx(idxGzip([99, 10, 10], 9900), 'ok.gz').shape).toEqual([99, 10, 10]);
  });

  it('stops inflating a gzip bomb at the size its IDX header declares (64 MB of zeros behind a header declaring 784)', () => {
    const bomb = idxGzip([1, 28, 28], 64 * 2 ** 20);
    expect(bomb.length).toBeLessThan(100_000);
    let err: unknown;
    const grew = rssGrowthMb(() => {
      try {
        parseIdx(bomb, 'bomb.gz');
      } catch (e) {
        err = e;
      }
    });
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toBe(
      'bomb.gz: IDX uint8[1, 28, 28] needs 800 bytes, the gzip stream inflates to more',
    );
    expect(grew).toBeLessThan(32);
  });

  it('refuses CSV and text files over the size limit, and lines over the record limit, before parsing', () => {
    const dir = tempDir();
    const csv = join(dir, 'big.csv');
    writeFileSync(csv, `a,label\n${'1,x\n'.repeat(300)}`);
    vi.stubEnv('GRADUATE_MAX_TEXT_BYTES', '1000');
    expect(() => loadCsv(csv)).toThrow(
      `${csv}: CSV file of 1208 bytes, over the limit of 1000 bytes (raise it with GRADUATE_MAX_TEXT_BYTES=<bytes>)`,
    );
    vi.unstubAllEnvs();
    vi.stubEnv('GRADUATE_MAX_RECORD_CHARS', '100');
    const long = join(dir, 'long.csv');
    writeFileSync(long, `a,label\n1,x\n${'9'.repeat(200)},y\n`);
    expect(() => loadCsv(long)).toThrow(
      `${long}:3: a record longer than allowed, over the limit of 100 characters (raise it with GRADUATE_MAX_RECORD_CHARS=<characters>)`,
    );
    const jsonl = join(dir, 'long.jsonl');
    writeFileSync(jsonl, `{"text":"a","label":"x"}\n{"text":"${'b'.repeat(200)}","label":"y"}\n`);
    vi.unstubAllEnvs();
    // values that overflow float32, and digit labels that would make billions of classes
    const big = join(dir, 'overflow.csv');
    writeFileSync(big, 'a,label\n1,x\n1e39,y\n');
    expect(() => loadCsv(big)).toThrow(`${big}:3: column 'a' is beyond float32's range (±3.4028235e+38) ('1e39')`);
    const labels = join(dir, 'labels.jsonl');
    writeFileSync(labels, '{"text":"a","label":1}\n{"text":"b","label":2000000000}\n');
    expect(() => loadText(labels)).toThrow(`${labels}:2: label '2000000000' read as a class index is over 65535`);
    vi.stubEnv('GRADUATE_MAX_RECORD_CHARS', '100');
    expect(() => loadText(jsonl)).toThrow(`${jsonl}:2: a line of 223 characters, over the limit of 100 characters`);
  });
});

describe('predict: JSON tensors', async () => {
  const dir = tempDir();
  const model = await loadArtifact(writeTinyArtifact(dir), { engine: Engine.create({ threads: 1 }), maxBatch: 4 });
  const tensorFile = (name: string, text: string) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  it('graduate predict refuses a 30000×30000 PNG bomb: exit 1 naming the file and the limit', async () => {
    const bomb = join(dir, 'bomb.png');
    writeFileSync(bomb, pngDeclaring(30000, 30000));
    const r = await cli('predict', join(dir, 'tiny.grad'), bomb);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bomb}: image of 30000×30000 = 900000000 pixels, over the limit of 50000000 pixels`);
  });

  it('reads one sample, a batch, or {shape, data}', () => {
    const one = Array.from({ length: 8 }, () => Array.from({ length: 8 }, () => [0.5]));
    expect(readJsonTensor(model, tensorFile('one.json', JSON.stringify(one))).batch).toBe(1);
    expect(readJsonTensor(model, tensorFile('two.json', JSON.stringify([one, one]))).batch).toBe(2);
    const flat = { shape: [1, 8, 8, 1], data: new Array(64).fill(1) };
    expect(readJsonTensor(model, tensorFile('flat.json', JSON.stringify(flat))).batch).toBe(1);
  });

  it('names a value that overflows float32 (1e39 is finite as a double, Infinity as float32)', () => {
    const data = new Array(64).fill(0);
    data[17] = 1e39;
    const f = tensorFile('overflow.json', JSON.stringify(data));
    expect(() => readJsonTensor(model, f)).toThrow(`${f}: data[17] = 1e+39 is beyond float32's range (±3.4028235e+38)`);
  });

  it('names arrays nested 200k deep (no stack overflow) and any nesting deeper than a batch', () => {
    const deep = tensorFile('deep.json', `${'['.repeat(200_000)}1${']'.repeat(200_000)}`);
    expect(() => readJsonTensor(model, deep)).toThrow(FormatError);
    expect(() => readJsonTensor(model, deep)).toThrow(
      `${deep}: data nests deeper than the model's input [8, 8, 1] as a batch of samples (4 levels)`,
    );
    const five = tensorFile('five.json', JSON.stringify([[[[[1]]]]]));
    expect(() => readJsonTensor(model, five)).toThrow(/nests deeper/);
  });
});
