// Fuzzing a real in-process server with KServe v2 requests: JSON bodies built from valid parts and
// wrong ones (names, datatypes, shapes, huge dims, values beyond float32, deep nesting, stray
// fields), the same bodies cut short, binary requests whose header length, binary_data_size and
// bytes lie (NaN/Inf bytes included), and mutated or oversized image uploads. The property: a 200
// whose outputs equal a local Session's on the same samples, or a 4xx whose JSON error names the
// input and field at fault; never a 500, a stack trace or a dropped connection.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/io/image-decode.js';
import { Engine } from '../../src/kernels/engine.js';
import { imageInput } from '../../src/runtime/image-input.js';
import { type InferenceModel, loadArtifact, topClasses } from '../../src/runtime/index.js';
import { InferenceServer } from '../../src/serve/server.js';
import { jpegDeclaring, pngDeclaring, realJpeg, realPng } from '../data/bombs.js';
import { CLASSES, writeTinyArtifact } from '../serve/fixtures.js';
import { bitFlips, FUZZ_RUNS, fuzzParams, overwrites, truncations } from './mutate.js';

const dir = mkdtempSync(join(tmpdir(), 'graduate-serve-fuzz-'));
const artifact = writeTinyArtifact(dir);
let server: InferenceServer;
let infer: string;
/** The same model, run locally: what every 200 must answer. */
let model: InferenceModel;
beforeAll(async () => {
  server = await InferenceServer.start(artifact, {
    port: 0,
    workers: 1,
    bodyLimit: 256 * 1024,
    maxImagePixels: 1_000_000,
    maxDelayMs: 0,
  });
  infer = `${server.url}/v2/models/tiny/infer`;
  model = await loadArtifact(artifact, { engine: Engine.create({ threads: 1 }), maxBatch: 64 });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * What a 4xx must name: the input and the field at fault (datatype, shape, data[i], …), the
 * request's other fields, the body or its header, or the uploaded image.
 */
const NAMES_FIELD =
  /^(input 'input': (datatype |"shape" |shape \[|batch \d|"data" |data nests|data\[\d+\] = |parameters\.binary_data_size |binary_data_size |the body holds )|inputs\[\d+\]: |unknown input '|missing input 'input'|input '[^']*' appears twice|request body: |request header \(|parameters\.top_k: |"outputs": |unknown output |Inference-Header-Content-Length: |uploaded image: |model 'tiny' takes |top_k: |Body |Request body is too large|Unsupported Media Type: |model 'tiny' version 1: output \[\d+\] = \S+ is not finite: the model overflows on this input$)/;

/** The request as the test reads it (not as the server does): the samples a 200 must answer. */
function samplesOf(body: Uint8Array | string, headers: Record<string, string>): { x: Float32Array; batch: number } {
  const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
  const headerLength = headers['inference-header-content-length'];
  const isJson = headers['content-type'] === 'application/json';
  if (!isJson && headerLength === undefined) {
    const x = imageInput(model.input, decodeImage(bytes, 'upload'), 'upload');
    return { x, batch: 1 };
  }
  const n = headerLength === undefined ? bytes.length : Number(headerLength);
  // biome-ignore lint/suspicious/noExplicitAny: the request JSON is read field by field
  const req = JSON.parse(bytes.subarray(0, n).toString('utf8')) as any;
  const input = req.inputs.find((t: { name?: unknown }) => t?.name === 'input');
  const batch = input.shape[0] as number;
  if (input.parameters?.binary_data_size !== undefined)
    return { x: new Float32Array(Uint8Array.from(bytes.subarray(n)).buffer), batch };
  return { x: Float32Array.from((input.data as unknown[]).flat(4) as number[]), batch };
}

/** Posts and checks the property; returns the status. A 200 must equal a local Session's answer. */
async function expectCleanAnswer(body: Uint8Array | string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(infer, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : Buffer.from(body),
  });
  const text = await res.text();
  const where = `${res.status} ${text.slice(0, 300)}`;
  expect(res.status, where).not.toBeGreaterThanOrEqual(500);
  expect(text, where).not.toMatch(/\n\s+at /);
  // biome-ignore lint/suspicious/noExplicitAny: response JSON is inspected field by field
  const json = JSON.parse(text) as any;
  if (res.status === 200) {
    const { x, batch } = samplesOf(body, headers);
    const want = model.run(x, batch); // [batch, 3]
    const top = (k: number) =>
      Array.from({ length: batch }, (_, b) => topClasses(want.subarray(b * 3, (b + 1) * 3), CLASSES, k)).flat();
    for (const o of json.outputs ?? []) {
      if (o.name === 'logits') {
        expect(o.shape, where).toEqual([batch, 3]);
        expect(o.data.length, where).toBe(batch * 3);
        for (let i = 0; i < want.length; i++) expect(o.data[i], where).toBeCloseTo(want[i], 5);
      } else {
        expect(o.name, where).toBe('labels');
        const k = o.shape[1];
        expect(o.data, where).toEqual(top(k).map((t) => `${t.score.toFixed(6)}:${t.index}:${t.label}`));
      }
    }
    if (json.predictions) {
      const got = json.predictions as { index: number; label: string; score: number }[];
      const expected = top(got.length);
      expect(
        got.map((p) => [p.index, p.label]),
        where,
      ).toEqual(expected.map((p) => [p.index, p.label]));
      for (const [i, p] of got.entries()) expect(p.score, where).toBeCloseTo(expected[i].score, 5);
    }
  } else {
    expect(res.status, where).toBeGreaterThanOrEqual(400);
    expect(typeof json.error, where).toBe('string');
    expect(json.error, where).toMatch(NAMES_FIELD);
  }
  return res.status;
}
const JSON_TYPE = { 'content-type': 'application/json' };

const good = fc.double({ min: -10, max: 10, noNaN: true });
const bad = fc.constantFrom(1e39, -1e39, 1e308, 2 ** 31, 1e-46, '1', null, true, [], {});
const value = fc.oneof({ weight: 9, arbitrary: good }, fc.constantFrom(3.4e38, 3e38, -0), bad);
const goodShape = (n: number) => [n, 8, 8, 1];
const shape = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 3 }).map(goodShape) },
  fc.array(fc.oneof(fc.integer({ min: -2, max: 70 }), fc.constantFrom(2 ** 31, 2 ** 53, 1.5, 1e300)), {
    maxLength: 5,
  }),
  fc.constantFrom([1e9, 8, 8, 1], [65, 8, 8, 1], [0, 8, 8, 1], '1,8,8,1', null),
);
/** data for a shape: flat, nested as the shape, nested deeper, or the wrong length. */
const dataFor = (s: unknown) => {
  const n =
    Array.isArray(s) && s.every((d) => Number.isInteger(d) && d >= 0 && d < 8) ? s.reduce((a, b) => a * b, 1) : 64;
  const nested = (a: unknown[]) => {
    const rows: unknown[] = [];
    for (let i = 0; i < a.length; i += 8) rows.push(a.slice(i, i + 8).map((v) => [v]));
    const out: unknown[] = [];
    for (let i = 0; i < rows.length; i += 8) out.push(rows.slice(i, i + 8));
    return out;
  };
  const exact = (v: fc.Arbitrary<unknown>) => fc.array(v, { minLength: n, maxLength: n });
  return fc.oneof(
    { weight: 6, arbitrary: exact(good) },
    { weight: 2, arbitrary: exact(good).map(nested) },
    exact(value),
    exact(value).map(nested),
    exact(value).map((a) => [[a]]),
    fc.array(value, { maxLength: 100 }),
    fc.constantFrom('data', 5, null, { a: 1 }),
  );
};
const input = shape.chain((s) =>
  fc.record(
    {
      name: fc.oneof({ weight: 6, arbitrary: fc.constant('input') }, fc.constantFrom('x', '', 5, null)),
      datatype: fc.oneof(
        { weight: 6, arbitrary: fc.constant('FP32') },
        fc.constantFrom('INT32', 'FP64', 'BYTES', 'fp32', 7),
      ),
      shape: fc.constant(s),
      data: dataFor(s),
      parameters: fc.oneof(
        { weight: 6, arbitrary: fc.constant(undefined) },
        fc.constant(null),
        fc.record({ binary_data_size: fc.integer() }),
      ),
    },
    { requiredKeys: ['name', 'datatype', 'shape', 'data'] },
  ),
);
const request = fc.record(
  {
    id: fc.oneof(fc.string({ maxLength: 4 }), fc.integer()),
    inputs: fc.oneof(
      { weight: 6, arbitrary: fc.array(input, { minLength: 1, maxLength: 1 }) },
      fc.array(input, { maxLength: 3 }),
      fc.constantFrom(null, {}, 'x'),
    ),
    parameters: fc.oneof(
      { weight: 3, arbitrary: fc.record({ top_k: fc.integer({ min: 1, max: 3 }) }) },
      fc.constant(null),
      fc.record({ top_k: fc.oneof(fc.integer({ min: -1, max: 5 }), fc.constantFrom('3', 1.5, null)) }),
    ),
    outputs: fc.oneof(
      fc.constant([{ name: 'logits' }]),
      fc.array(fc.record({ name: fc.constantFrom('logits', 'labels', 'x', 3) }), { maxLength: 3 }),
      fc.constantFrom(null, 'logits', [null, 5]),
    ),
  },
  { requiredKeys: ['inputs'] },
);

describe('fuzz: KServe v2 JSON requests', () => {
  it('generated requests, whole or cut short at any character', async () => {
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        request,
        fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, fc.double({ min: 0, max: 1, noNaN: true })),
        async (req, keep) => {
          const text = JSON.stringify(req);
          statuses.add(await expectCleanAnswer(text.slice(0, Math.floor(text.length * keep)), JSON_TYPE));
        },
      ),
      fuzzParams(),
    );
    expect([...statuses]).toContain(200); // the generator reaches valid requests too
    expect([...statuses]).toContain(400);
  });

  it('data nested up to 300k deep, and bodies that are not objects', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(300_000), async (d) => {
        const deep = `${'['.repeat(d)}0.5${']'.repeat(d)}`;
        await expectCleanAnswer(
          `{"inputs":[{"name":"input","shape":[1,8,8,1],"datatype":"FP32","data":${deep}}]}`,
          JSON_TYPE,
        );
      }),
      fuzzParams(Math.ceil(FUZZ_RUNS / 10)),
    );
    for (const body of ['', 'null', '[]', '"x"', '{"inputs":', '{"__proto__":{"inputs":[]}}', '\u0000'])
      await expectCleanAnswer(body, JSON_TYPE);
  });
});

describe('fuzz: KServe v2 binary requests', () => {
  const header = (size: unknown, s: unknown = goodShape(1), datatype: unknown = 'FP32') =>
    Buffer.from(
      JSON.stringify({ inputs: [{ name: 'input', shape: s, datatype, parameters: { binary_data_size: size } }] }),
    );

  it('lying header lengths, binary_data_size and byte counts; NaN/Inf bytes', async () => {
    const special = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3.4e38, -0);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 3, arbitrary: fc.constant(256) },
          fc.integer({ min: -4, max: 2 ** 32 }),
          fc.constantFrom(2 ** 53, 1e300, '256'),
        ),
        fc.oneof({ weight: 3, arbitrary: fc.constant(goodShape(1)) }, shape),
        fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.integer({ min: -600, max: 600 })),
        fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.integer({ min: -8, max: 8 })),
        fc.array(fc.tuple(fc.nat(63), special), { maxLength: 3 }),
        fc.constantFrom('application/octet-stream', 'application/json', 'image/png'),
        async (size, s, lieHeader, lieBytes, specials, type) => {
          const x = new Float32Array(64).fill(0.25);
          for (const [i, v] of specials) x[i] = v;
          let bytes = Buffer.from(x.buffer);
          bytes = lieBytes >= 0 ? Buffer.concat([bytes, Buffer.alloc(lieBytes)]) : bytes.subarray(0, 256 + lieBytes);
          const h = header(size, s);
          await expectCleanAnswer(Buffer.concat([h, bytes]), {
            'content-type': type,
            'inference-header-content-length': String(h.length + lieHeader),
          });
        },
      ),
      fuzzParams(),
    );
    for (const length of ['', '-1', '1e3', 'abc', '0x10', String(2 ** 53), ' 10'])
      await expectCleanAnswer(Buffer.concat([header(256), Buffer.alloc(256)]), {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': length,
      });
  });

  it('mutated headers and bodies', async () => {
    const h = header(256);
    const body = new Uint8Array(Buffer.concat([h, Buffer.from(new Float32Array(64).fill(1).buffer)]));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(bitFlips(body.subarray(0, h.length)), overwrites(body.subarray(0, h.length))),
        async (mutated) => {
          await expectCleanAnswer(Buffer.concat([mutated, body.subarray(h.length)]), {
            'content-type': 'application/octet-stream',
            'inference-header-content-length': String(h.length),
          });
        },
      ),
      fuzzParams(),
    );
  });
});

describe('fuzz: image uploads', () => {
  const png = new Uint8Array(realPng(12, 10));
  const jpg = new Uint8Array(realJpeg(16, 16));
  it('truncated, bit-flipped and overwritten PNG/JPEG, and bombs declaring up to 2^32-1 per side', async () => {
    for (const b of [...truncations(png, [8, 16, 24, 33]), ...truncations(jpg, [2, 4])])
      await expectCleanAnswer(b, { 'content-type': 'image/png' });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          bitFlips(png),
          overwrites(png),
          bitFlips(jpg),
          overwrites(jpg),
          fc.tuple(fc.nat(0xffffffff), fc.nat(0xffffffff)).map(([w, h]) => new Uint8Array(pngDeclaring(w, h, 0))),
          fc.tuple(fc.nat(0xffff), fc.nat(0xffff)).map(([w, h]) => new Uint8Array(jpegDeclaring(w, h))),
        ),
        fc.constantFrom('image/png', 'image/jpeg', 'application/octet-stream'),
        async (bytes, type) => {
          await expectCleanAnswer(bytes, { 'content-type': type });
        },
      ),
      fuzzParams(),
    );
  });
});
