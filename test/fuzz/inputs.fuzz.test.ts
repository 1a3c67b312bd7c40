// Fuzzing the input loaders: IDX (a slice of Fashion-MNIST), CSV and JSONL (generated), PNG and
// JPEG (small real images), and predict's JSON tensors. Truncated at every boundary, bit-flipped,
// overwritten (huge declared sizes), or generated at random: each is a correct result or a
// GraduateError naming the file, and nothing decoded is bigger than the configured limit.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readJsonTensor } from '../../src/cli/predict.js';
import { loadCsv } from '../../src/data/csv.js';
import { parseIdx, readIdx } from '../../src/data/idx.js';
import { decodeImage } from '../../src/data/images.js';
import { loadText } from '../../src/data/text.js';
import { Engine } from '../../src/kernels/engine.js';
import { loadArtifact } from '../../src/runtime/index.js';
import { idxGzip, jpegDeclaring, pngDeclaring, realJpeg, realPng, sofOffset } from '../data/bombs.js';
import { idxU8, tempDir } from '../data/helpers.js';
import { writeTinyArtifact } from '../serve/fixtures.js';
import { bitFlips, expectCleanOutcome, FUZZ_RUNS, fuzzParams, overwrites, truncations } from './mutate.js';

// Lowered limits: a mutation that declares more than these must be refused, not decoded.
const MAX_PIXELS = 1_000_000;
const MAX_IDX = 1 << 20;
beforeAll(() => {
  vi.stubEnv('GRADUATE_MAX_IMAGE_PIXELS', String(MAX_PIXELS));
  vi.stubEnv('GRADUATE_MAX_IDX_BYTES', String(MAX_IDX));
  vi.stubEnv('GRADUATE_MAX_TEXT_BYTES', String(1 << 20));
  vi.stubEnv('GRADUATE_MAX_RECORD_CHARS', String(1 << 12));
});
afterAll(() => vi.unstubAllEnvs());

describe('fuzz: IDX', () => {
  // 20 Fashion-MNIST test images and their labels, re-gzipped
  const images = readIdx('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz');
  const slice = (images.data as Uint8Array).subarray(0, 20 * 784);
  const plain = new Uint8Array(idxU8([20, 28, 28], slice, true));
  const gz = new Uint8Array(idxU8([20, 28, 28], slice));

  /** The property: a clean outcome; a result has the data its shape says, within the limit. */
  const check = (bytes: Uint8Array) => {
    const r = expectCleanOutcome(() => parseIdx(bytes, 'slice.idx'), 'slice.idx');
    if ('shape' in r) {
      expect(r.data.length).toBe(r.shape.reduce((a, b) => a * b, 1));
      expect(r.data.byteLength).toBeLessThanOrEqual(MAX_IDX);
    }
  };

  it('reads the unmutated slice, plain and gzip’d', () => {
    expect(parseIdx(gz, 'slice.idx').data).toEqual(new Uint8Array(slice));
    expect(parseIdx(plain, 'slice.idx').data).toEqual(new Uint8Array(slice));
  });

  it('truncated at every header boundary and across the data', () => {
    for (const b of truncations(plain, [2, 3, 4, 8, 12, 16])) check(b);
    for (const b of truncations(gz, [2, 3, 10, 16, gz.length - 8, gz.length - 4])) check(b);
  });

  it('bit flips and overwritten bytes (0xff: huge dimensions)', () => {
    const head = plain.subarray(0, 40); // the header and the first pixels: where sizes live
    fc.assert(
      fc.property(fc.oneof(bitFlips(plain), overwrites(plain), overwrites(head), bitFlips(gz), overwrites(gz)), (b) =>
        check(b.length === 40 ? Uint8Array.from([...b, ...plain.subarray(40)]) : b),
      ),
      fuzzParams(),
    );
  });

  it('random headers: any type byte, rank and dimensions', () => {
    const header = fc.tuple(
      fc.constantFrom(8, 9, 11, 12, 13, 14, 0, 255),
      fc.array(fc.oneof(fc.nat(40), fc.constant(0xffffffff), fc.nat()), { minLength: 0, maxLength: 5 }),
      fc.nat(4096),
      fc.boolean(),
    );
    fc.assert(
      fc.property(header, ([type, dims, body, zip]) => {
        const h = idxU8(dims, new Uint8Array(body), true);
        h[2] = type;
        check(zip ? new Uint8Array(gzipSync(h)) : h);
      }),
      fuzzParams(),
    );
  });

  it('gzip bombs: the declared size bounds inflation', () => {
    check(idxGzip([1, 28, 28], 8 << 20)); // inflates beyond its header
    check(idxGzip([2000, 28, 28], 2000 * 784)); // declares more than the limit
  });
});

describe('fuzz: CSV and JSONL', () => {
  const dir = tempDir();
  const cell = fc.oneof(
    fc.double({ noNaN: false }).map(String),
    fc.integer().map(String),
    fc.constantFrom(
      '',
      'NaN',
      'Infinity',
      '-0',
      '1e39',
      '0x10',
      ' 3 ',
      '"',
      '""',
      '"a,b"',
      'a\nb',
      '\r',
      '\u0000',
      'é',
    ),
    fc.string({ maxLength: 6 }),
  );
  const csv = fc.tuple(
    fc.array(fc.constantFrom('a', 'b', 'label', 'text', ''), { minLength: 0, maxLength: 4 }),
    fc.array(fc.array(cell, { minLength: 0, maxLength: 5 }), { minLength: 0, maxLength: 8 }),
    fc.constantFrom('\n', '\r\n'),
  );

  it('generated CSV files: loaded, or a GraduateError naming the file', () => {
    let n = 0;
    fc.assert(
      fc.property(csv, ([header, rows, eol]) => {
        const file = join(dir, `gen-${n++}.csv`);
        writeFileSync(file, [header.join(','), ...rows.map((r) => r.join(','))].join(eol));
        const r = expectCleanOutcome(() => loadCsv(file), file);
        if ('x' in r) {
          expect(r.x.every(Number.isFinite)).toBe(true);
          expect(r.y.length).toBe(r.size);
        }
      }),
      fuzzParams(),
    );
  });

  it('generated JSONL files (any JSON per line, broken lines, long lines)', () => {
    const line = fc.oneof(
      fc
        .record({ text: fc.string(), label: fc.oneof(fc.string({ maxLength: 3 }), fc.integer()) })
        .map((o) => JSON.stringify(o)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string(),
      fc.constant(`{"text":"${'x'.repeat(5000)}","label":"a"}`),
      fc.constant(`${'['.repeat(100_000)}${']'.repeat(100_000)}`),
    );
    let n = 0;
    fc.assert(
      fc.property(fc.array(line, { maxLength: 6 }), (lines) => {
        const file = join(dir, `gen-${n++}.jsonl`);
        writeFileSync(file, lines.join('\n'));
        expectCleanOutcome(() => loadText(file), file);
      }),
      fuzzParams(),
    );
  });

  it('a file over the size limit is refused before it is read', () => {
    const file = join(dir, 'big.csv');
    writeFileSync(file, `a,label\n${'1,x\n'.repeat(300_000)}`);
    expect(() => loadCsv(file)).toThrow(/big\.csv: CSV file of 1200008 bytes, over the limit of 1048576 bytes/);
  });
});

describe('fuzz: PNG and JPEG', () => {
  const png = new Uint8Array(realPng(12, 10));
  const jpg = new Uint8Array(realJpeg(16, 16));
  const check = (bytes: Uint8Array) => {
    const r = expectCleanOutcome(() => decodeImage(bytes, 'fuzz.img'), 'fuzz.img');
    if ('width' in r) {
      expect(r.width * r.height).toBeLessThanOrEqual(MAX_PIXELS);
      expect(r.data.length).toBe(r.width * r.height * 4);
    }
  };

  it('truncated at every chunk / segment boundary', () => {
    const pngChunks = [8, 16, 20, 24, 29, 33, png.length - 12];
    for (const b of truncations(png, pngChunks)) check(b);
    const at = sofOffset(jpg);
    for (const b of truncations(jpg, [2, 4, at, at + 5, at + 9, jpg.length - 2])) check(b);
  });

  it('bit flips and overwrites anywhere (huge declared sizes included)', () => {
    fc.assert(
      fc.property(fc.oneof(bitFlips(png), overwrites(png), bitFlips(jpg), overwrites(jpg)), check),
      fuzzParams(),
    );
  });

  it('declared sizes from 0 to 2^32-1 (PNG) and 65535 (JPEG), refused from the header when over the limit', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.nat(0xffffffff), fc.nat(2000), fc.constant(0)),
        fc.oneof(fc.nat(0xffffffff), fc.nat(2000), fc.constant(0)),
        fc.boolean(),
        (w, h, isPng) => {
          if (isPng) check(new Uint8Array(pngDeclaring(w, h, 0)));
          else check(new Uint8Array(jpegDeclaring(w & 0xffff, h & 0xffff)));
        },
      ),
      fuzzParams(Math.ceil(FUZZ_RUNS / 4)),
    );
  });
});

describe('fuzz: predict JSON tensors', async () => {
  const dir = tempDir();
  const model = await loadArtifact(writeTinyArtifact(dir), { engine: Engine.create({ threads: 1 }), maxBatch: 4 });
  const value = fc.oneof(
    fc.double(),
    fc.constantFrom(1e39, -1e39, 3.4e38, 1e-50, 0),
    fc.string({ maxLength: 3 }),
    fc.constant(null),
    fc.boolean(),
  );
  const sample = fc.array(fc.array(fc.array(value, { minLength: 1, maxLength: 1 }), { minLength: 8, maxLength: 8 }), {
    minLength: 8,
    maxLength: 8,
  });
  // as text: JSON.stringify itself overflows the stack on deep nesting
  const tensor = fc.oneof(
    fc
      .oneof(
        sample,
        fc.array(sample, { maxLength: 3 }),
        fc.array(value, { maxLength: 200 }),
        fc.record({ shape: fc.array(fc.integer()), data: fc.array(value, { maxLength: 130 }) }),
        fc.jsonValue(),
      )
      .map((t) => JSON.stringify(t) ?? ''),
    fc.nat(300_000).map((d) => `${'['.repeat(d + 1)}${d % 2 ? '1' : ''}${']'.repeat(d + 1)}`),
  );

  it('generated tensors: samples, or a GraduateError naming the file', () => {
    let n = 0;
    fc.assert(
      fc.property(tensor, fc.boolean(), (text, cut) => {
        const file = join(dir, `t-${n++}.json`);
        writeFileSync(file, cut ? text.slice(0, text.length >> 1) : text);
        const r = expectCleanOutcome(() => readJsonTensor(model, file), file);
        if ('data' in r) expect(r.data.every(Number.isFinite)).toBe(true);
      }),
      fuzzParams(),
    );
  });
});
