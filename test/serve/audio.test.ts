// `graduate serve` with an audio model (a tiny random-weight keyword model over FSDD's log-mel front
// end): a WAV upload and raw float PCM ('waveform', JSON or binary, at any sample rate) give the
// logits and top-k that `graduate predict`'s preparation of the same clip and a local Session give;
// the prepared-feature tensor still works; metadata states the accepted inputs; compressed or
// truncated WAVs, bad sample rates and over-long clips are 400s naming the problem; clips are
// featurised before batching, so concurrent clips share batches. On FSDD recordings too, when
// $GRADUATE_DATA_DIR/fsdd (or /work/shared/datasets/fsdd) is present.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAudioSpec } from '../../src/audio/features.js';
import { resample } from '../../src/audio/resample.js';
import { decodeWav, encodeWav } from '../../src/audio/wav.js';
import { prepareWavFile } from '../../src/cli/predict.js';
import { Engine } from '../../src/kernels/engine.js';
import { type InferenceModel, loadArtifact, topClasses } from '../../src/runtime/index.js';
import { InferenceServer } from '../../src/serve/server.js';
import { DIGITS, maxDiff, metric, writeTinyArtifact, writeTinyAudioArtifact } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'graduate-serve-audio-'));
const artifact = writeTinyAudioArtifact(dir);
writeTinyArtifact(dir); // 'tiny', an image model beside it
const CLIP = join(import.meta.dirname, '../fixtures/audio/3_theo_7.wav'); // FSDD, 8 kHz 16-bit mono
const clip = decodeWav(readFileSync(CLIP), CLIP);
const FSDD = join(process.env.GRADUATE_DATA_DIR ?? '/work/shared/datasets', 'fsdd/recordings');
const haveFsdd = existsSync(FSDD);
if (!haveFsdd) console.warn(`test/serve/audio: the FSDD part is skipped: ${FSDD} not found (graduate data fetch fsdd)`);

/** Writes a WAV file into the temporary folder; returns its path and bytes. */
function wavFile(name: string, samples: ArrayLike<number>, opts: Parameters<typeof encodeWav>[1]) {
  const bytes = encodeWav(samples, opts);
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return { file, bytes };
}

/** The same clip at 16 kHz in stereo 16-bit (the right channel at half gain), and at 44.1 kHz as float32. */
const at16k = resample(clip.samples, 8000, 16000);
const stereo = wavFile(
  'stereo-16k.wav',
  Array.from({ length: at16k.length * 2 }, (_, i) => at16k[i >> 1] * (i & 1 ? 0.5 : 1)),
  { sampleRate: 16000, channels: 2 },
);
const float44k = wavFile('float-44k.wav', resample(clip.samples, 8000, 44100), {
  sampleRate: 44100,
  bitsPerSample: 32,
  float: true,
});

type Json = {
  // biome-ignore lint/suspicious/noExplicitAny: response JSON is inspected field by field
  [k: string]: any;
};
async function post(url: string, body: unknown, type = 'application/json', headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': type, ...headers },
    body: body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Json };
}

describe('graduate serve: an audio model', () => {
  let server: InferenceServer;
  let local: InferenceModel;
  let engine: Engine;
  let infer: string;
  /** predict's answer: its WAV preparation (cli/predict.ts) and a local Session. */
  const predict = (file: string) => local.run(prepareWavFile(local, file), 1);
  /** labels as the server writes them, from local logits */
  const labelsOf = (logits: Float32Array, k: number) =>
    topClasses(logits, DIGITS, k).map((t) => `${t.score.toFixed(6)}:${t.index}:${t.label}`);

  beforeAll(async () => {
    server = await InferenceServer.start(dir, {
      port: 0,
      workers: 1,
      maxBatch: 16,
      maxDelayMs: 40,
      maxAudioSeconds: 5,
    });
    infer = `${server.url}/v2/models/kws/infer`;
    engine = Engine.create({ threads: 1 });
    local = await loadArtifact(artifact, { engine, maxBatch: 16 });
  });
  afterAll(async () => {
    await server?.close();
    local?.dispose();
    engine?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('metadata states the accepted audio inputs: WAV uploads, waveform at a sample rate, prepared features', async () => {
    const meta = (await (await fetch(`${server.url}/v2/models/kws`)).json()) as Json;
    expect(meta.inputs).toEqual([{ name: 'input', datatype: 'FP32', shape: [-1, 98, 40] }]);
    expect(meta.parameters).toMatchObject({
      input_kind: 'audio',
      audio_sample_rate: 8000,
      audio_features: defaultAudioSpec(),
      audio_max_seconds: 5,
      audio_max_sample_rate: 192000,
      audio_upload_types: ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave', 'application/octet-stream'],
    });
    expect(meta.parameters.audio_clip_seconds).toBeCloseTo((97 * 80 + 256) / 8000, 9);
    expect(meta.parameters.audio_inputs.join('\n')).toMatch(
      /a WAV file as the request body[\s\S]*input 'waveform' FP32 \[samples\] or \[clips, samples\]: mono samples at parameters.sample_rate Hz \(default 8000\)[\s\S]*input 'input' FP32 \[-1, 98, 40\]: prepared features/,
    );
  });

  it("a WAV upload (8 kHz mono; 16 kHz stereo; 44.1 kHz float) answers predict's logits and top-k", async () => {
    for (const [file, bytes, type] of [
      [CLIP, readFileSync(CLIP), 'audio/wav'],
      [stereo.file, stereo.bytes, 'audio/x-wav'],
      [float44k.file, float44k.bytes, 'application/octet-stream'],
    ] as const) {
      const want = predict(file);
      const r = await post(`${infer}?top_k=4`, new Uint8Array(bytes), type);
      expect(r.status, `${file}: ${JSON.stringify(r.json).slice(0, 200)}`).toBe(200);
      expect(r.json).toMatchObject({ model_name: 'kws', model_version: '1' });
      const [logits, labels] = r.json.outputs;
      expect(logits).toMatchObject({ name: 'logits', datatype: 'FP32', shape: [1, 10] });
      expect(maxDiff(logits.data, want)).toBeLessThan(1e-5);
      expect(labels).toMatchObject({ name: 'labels', datatype: 'BYTES', shape: [1, 4], data: labelsOf(want, 4) });
    }
    // the resampled copies are the same speech: close to the 8 kHz answer, not equal to it
    const [a, b] = [predict(CLIP), predict(stereo.file)];
    expect(maxDiff(Array.from(a), b)).toBeGreaterThan(0);
  });

  it('raw float PCM as the waveform input (JSON and binary, any rate) answers as predict on the same samples', async () => {
    // [samples] at the model's rate (no parameters): the clip itself
    const one = await post(infer, {
      id: 'w1',
      inputs: [{ name: 'waveform', datatype: 'FP32', shape: [clip.samples.length], data: Array.from(clip.samples) }],
      parameters: { top_k: 2 },
    });
    expect(one.status, JSON.stringify(one.json)).toBe(200);
    expect(one.json.id).toBe('w1');
    const want8k = predict(CLIP);
    expect(maxDiff(one.json.outputs[0].data, want8k)).toBeLessThan(1e-5);
    expect(one.json.outputs[1].data).toEqual(labelsOf(want8k, 2));

    // [2, samples] at 16 kHz (request parameter): two clips, each as predict reads a 16 kHz float WAV of it
    const rows = [at16k, at16k.map((v, i) => v * 0.3 + 0.01 * Math.sin(i / 7))];
    const wants = rows.map((row, i) =>
      predict(wavFile(`row${i}.wav`, row, { sampleRate: 16000, bitsPerSample: 32, float: true }).file),
    );
    const both = await post(infer, {
      inputs: [
        { name: 'waveform', datatype: 'FP32', shape: [2, at16k.length], data: rows.flatMap((r) => Array.from(r)) },
      ],
      parameters: { sample_rate: 16000 },
    });
    expect(both.status, JSON.stringify(both.json)).toBe(200);
    expect(both.json.outputs[0].shape).toEqual([2, 10]);
    expect(maxDiff(both.json.outputs[0].data.slice(0, 10), wants[0])).toBeLessThan(1e-5);
    expect(maxDiff(both.json.outputs[0].data.slice(10), wants[1])).toBeLessThan(1e-5);
    expect(maxDiff(both.json.outputs[0].data.slice(0, 10), wants[1])).toBeGreaterThan(1e-3);

    // binary tensor data, the rate on the tensor's parameters
    const x = Float32Array.from(at16k);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          {
            name: 'waveform',
            datatype: 'FP32',
            shape: [1, x.length],
            parameters: { binary_data_size: x.byteLength, sample_rate: 16000 },
          },
        ],
      }),
    );
    const bin = await post(
      infer,
      new Uint8Array(Buffer.concat([header, new Uint8Array(x.buffer)])),
      'application/octet-stream',
      {
        'inference-header-content-length': String(header.length),
      },
    );
    expect(bin.status, JSON.stringify(bin.json)).toBe(200);
    expect(maxDiff(bin.json.outputs[0].data, wants[0])).toBeLessThan(1e-5);
  });

  it('the prepared-feature tensor still works: predict’s features give predict’s logits', async () => {
    const features = prepareWavFile(local, CLIP);
    const r = await post(infer, {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 98, 40], data: Array.from(features) }],
    });
    expect(r.status).toBe(200);
    expect(maxDiff(r.json.outputs[0].data, predict(CLIP))).toBeLessThan(1e-5);
  });

  it('bad audio is a 400 naming the problem, and the server keeps serving', async () => {
    const good = new Uint8Array(readFileSync(CLIP));
    const adpcm = good.slice();
    adpcm[20] = 2; // format tag 2: Microsoft ADPCM
    const long = encodeWav(new Float32Array(8000 * 6), { sampleRate: 8000 }); // 6 s > 5 s
    const fast = encodeWav(new Float32Array(4000), { sampleRate: 384000 });
    const nan = encodeWav(Float32Array.of(0, 0.5, Number.NaN, 0), { sampleRate: 8000, bitsPerSample: 32, float: true });
    const waveform = (extra: Json) => ({
      inputs: [{ name: 'waveform', datatype: 'FP32', shape: [4], data: [0, 0.1, -0.1, 0], ...extra }],
    });
    const uploads: [Uint8Array, string, RegExp][] = [
      [adpcm, 'audio/wav', /uploaded WAV: fmt format tag 0x0002 \(Microsoft ADPCM\) is compressed or unknown/],
      [
        good.subarray(0, 30),
        'audio/wav',
        /uploaded WAV: truncated: the RIFF header declares 3934 bytes, the file has 30/,
      ],
      [new TextEncoder().encode('hello, not a wave file'), 'audio/wav', /uploaded WAV: not a WAV file/],
      [new Uint8Array(0), 'audio/wav', /uploaded WAV: not a WAV file \(0 bytes/],
      [
        long,
        'audio/wav',
        /uploaded WAV: 48000 samples at 8000 Hz = 6\.00 s, over the limit of 5 s \(--max-audio-seconds raises it\)/,
      ],
      [fast, 'audio/wav', /uploaded WAV: sample rate 384000 Hz is over the limit of 192000 Hz/],
      [nan, 'audio/wav', /uploaded WAV: sample 2 is NaN, not a finite number/],
      [good, 'image/png', /model 'kws' takes audio input, not images/],
    ];
    for (const [body, type, message] of uploads) {
      const r = await post(infer, body, type);
      expect(r.status, `${message}: ${JSON.stringify(r.json)}`).toBe(400);
      expect(r.json.error).toMatch(message);
    }
    expect((await post(`${infer}?top_k=0`, good, 'audio/wav')).json.error).toMatch(
      /top_k: expected a positive integer/,
    );
    const requests: [Json, RegExp][] = [
      [
        { inputs: [{ name: 'wave', datatype: 'FP32', shape: [1], data: [0] }] },
        /unknown input 'wave': model 'kws' takes one input 'input' FP32 \[-1, 98, 40\], or 'waveform' FP32 \[samples\]/,
      ],
      [
        { ...waveform({}), parameters: { sample_rate: 0 } },
        /parameters.sample_rate: expected an integer in \[1, 192000\] \(Hz\), got 0/,
      ],
      [
        { ...waveform({}), parameters: { sample_rate: '8000' } },
        /parameters.sample_rate: expected an integer .* got "8000"/,
      ],
      [
        { ...waveform({}), parameters: { sample_rate: 500000 } },
        /parameters.sample_rate: expected an integer in \[1, 192000\]/,
      ],
      [
        {
          inputs: [{ ...waveform({}).inputs[0], parameters: { sample_rate: 16000 } }],
          parameters: { sample_rate: 8000 },
        },
        /parameters.sample_rate: 8000 Hz for the request, 16000 Hz for input 'waveform'/,
      ],
      [waveform({ shape: [1, 2, 2] }), /input 'waveform': shape \[1, 2, 2\] is not \[samples\] or \[clips, samples\]/],
      [waveform({ shape: [0], data: [] }), /input 'waveform': shape \[0\] is not \[samples\]/],
      [waveform({ datatype: 'INT32' }), /input 'waveform': datatype "INT32" is not accepted; mono samples are FP32/],
      [waveform({ data: [0, 1, 2] }), /input 'waveform': "data" has 3 values; shape \[4\] needs 4/],
      [waveform({ data: [0, 1, 2, 'x'] }), /data\[3\] = "x" is not a number/],
      [
        { inputs: [{ name: 'waveform', datatype: 'FP32', shape: [48001], data: [] }] },
        /input 'waveform': 48001 samples at 8000 Hz = 6\.00 s, over the limit of 5 s/,
      ],
      [
        { inputs: [waveform({}).inputs[0], { name: 'input', datatype: 'FP32', shape: [1, 98, 40], data: [] }] },
        /model 'kws' takes one input, got 'waveform' and 'input'/,
      ],
    ];
    for (const [body, message] of requests) {
      const r = await post(infer, body);
      expect(r.status, `${message}: ${JSON.stringify(r.json)}`).toBe(400);
      expect(r.json.error).toMatch(message);
    }
    // header bytes overwritten and files cut short at random: a 200 or a 400 naming the upload, never a 500
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let trial = 0; trial < 40; trial++) {
      const bytes = good.slice(0, trial % 4 === 0 ? 12 + rand(good.length - 12) : good.length);
      for (let j = 0; j < 3; j++) bytes[rand(Math.min(48, bytes.length))] = rand(256);
      const r = await post(infer, bytes, 'audio/wav');
      expect([200, 400], JSON.stringify(r.json)).toContain(r.status);
      if (r.status === 400) expect(r.json.error).toMatch(/^uploaded WAV: /);
    }
    // a WAV sent to an image model
    const img = await post(`${server.url}/v2/models/tiny/infer`, good, 'audio/wav');
    expect(img).toEqual({ status: 400, json: { error: "model 'tiny' takes image input, not WAV audio" } });
    // still serving
    const r = await post(infer, good, 'audio/wav');
    expect(r.status).toBe(200);
    expect(maxDiff(r.json.outputs[0].data, predict(CLIP))).toBeLessThan(1e-5);
  });

  it('featurises before batching: concurrent WAV uploads and waveforms share batches, each gets its own answer', async () => {
    const before = await metric(server, 'graduate_batches_total{model="kws",version="1"}');
    const gains = [1, 0.5, 0.25, 0.8, 0.6, 0.9, 0.3, 0.7];
    const files = gains.map((g, i) =>
      wavFile(
        `gain${i}.wav`,
        clip.samples.map((v) => v * g),
        { sampleRate: 8000, bitsPerSample: 32, float: true },
      ),
    );
    const answers = await Promise.all(
      files.map((f, i) =>
        i % 2
          ? post(infer, new Uint8Array(f.bytes), 'audio/wav')
          : post(infer, {
              inputs: [
                {
                  name: 'waveform',
                  datatype: 'FP32',
                  shape: [clip.samples.length],
                  data: Array.from(clip.samples, (v) => Math.fround(v * gains[i])),
                },
              ],
            }),
      ),
    );
    const batches = (await metric(server, 'graduate_batches_total{model="kws",version="1"}')) - before;
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(batches).toBeLessThan(files.length);
    answers.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(maxDiff(r.json.outputs[0].data, predict(files[i].file))).toBeLessThan(1e-5);
    });
  });

  it.skipIf(!haveFsdd)('FSDD recordings (one per speaker and digit 0–9): uploads answer as predict', async () => {
    const all = readdirSync(FSDD).filter((f) => f.endsWith('.wav'));
    const pick = ['george', 'jackson', 'lucas', 'nicolas', 'theo', 'yweweler']
      .flatMap((s, i) => [`${i}_${s}_1.wav`, `${i + 5}_${s}_2.wav`])
      .filter((f) => all.includes(f));
    expect(pick.length).toBeGreaterThanOrEqual(10);
    for (const f of pick) {
      const file = join(FSDD, f);
      const r = await post(infer, new Uint8Array(readFileSync(file)), 'audio/wav');
      expect(r.status, f).toBe(200);
      expect(maxDiff(r.json.outputs[0].data, predict(file)), f).toBeLessThan(1e-5);
    }
  });
});
