// The runtime's audio input (runtime/audio-input.ts, exported from graduate/runtime): a WAV file's
// bytes or raw samples at any rate become exactly the tensor `graduate predict` prepares from the
// file (cli/predict.ts: read, resample, features, standardise); clips of several rows are each
// prepared alone; the clip limits name the clip, the rate and the limit.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeWav } from '../../src/audio/wav.js';
import { prepareWavFile } from '../../src/cli/predict.js';
import {
  checkClip,
  clipSamples,
  decodeWav,
  loadArtifact,
  resample,
  waveformInput,
  wavInput,
} from '../../src/runtime/index.js';
import { writeTinyArtifact, writeTinyAudioArtifact } from '../serve/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'graduate-audio-input-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CLIP = join(import.meta.dirname, '../fixtures/audio/3_theo_7.wav');

describe('runtime audio input', async () => {
  const model = await loadArtifact(writeTinyAudioArtifact(dir), { maxBatch: 4 });
  const spec = model.input;
  const clip = decodeWav(readFileSync(CLIP), CLIP);

  it("WAV bytes and raw samples (any rate) give predict's tensor for the same clip", () => {
    const want = prepareWavFile(model, CLIP);
    expect(want).toHaveLength(98 * 40);
    expect(Array.from(wavInput(spec, readFileSync(CLIP), 'clip'))).toEqual(Array.from(want));
    expect(Array.from(model.prepareAudio(clip.samples, 8000))).toEqual(Array.from(want));
    // at 22.05 kHz: resampled to the model's 8 kHz exactly as predict resamples a 22.05 kHz file
    const fast = resample(clip.samples, 8000, 22050);
    const file = join(dir, 'fast.wav');
    writeFileSync(file, encodeWav(fast, { sampleRate: 22050, bitsPerSample: 32, float: true }));
    const wantFast = prepareWavFile(model, file);
    expect(Array.from(model.prepareAudio(fast, 22050))).toEqual(Array.from(wantFast));
    expect(Array.from(wantFast)).not.toEqual(Array.from(want));
  });

  it('waveformInput prepares each of several clips alone', () => {
    const n = clip.samples.length;
    const two = new Float32Array(2 * n);
    two.set(clip.samples);
    two.set(
      clip.samples.map((v) => v * 0.5),
      n,
    );
    const got = waveformInput(spec, two, 8000, 2, 'two');
    expect(Array.from(got.subarray(0, 3920))).toEqual(Array.from(model.prepareAudio(two.subarray(0, n), 8000)));
    expect(Array.from(got.subarray(3920))).toEqual(Array.from(model.prepareAudio(two.subarray(n), 8000)));
    expect(() => waveformInput(spec, two.subarray(1), 8000, 2, 'odd')).toThrow(
      /odd: \d+ samples do not split into 2 clips of equal length/,
    );
  });

  it('clip limits and the wrong kind of model are errors naming the clip', async () => {
    expect(clipSamples(spec.audio as Parameters<typeof clipSamples>[0])).toBe(97 * 80 + 256);
    expect(() => checkClip('c', 8001, 8000, { maxSeconds: 1, raiseWith: '--max-audio-seconds' })).toThrow(
      'c: 8001 samples at 8000 Hz = 1.00 s, over the limit of 1 s (--max-audio-seconds raises it)',
    );
    expect(() => checkClip('c', 10, 48001, { maxSampleRate: 48000 })).toThrow(
      'c: sample rate 48001 Hz is over the limit of 48000 Hz',
    );
    expect(() => checkClip('c', 0, 8000)).toThrow('c: the clip holds no samples');
    expect(() => checkClip('c', 10, 0.5)).toThrow('c: sample rate must be a positive integer (Hz), got 0.5');
    expect(() => model.prepareAudio(new Float32Array(10), 0)).toThrow(/prepareAudio: sample rate must be a positive/);
    const image = await loadArtifact(writeTinyArtifact(dir), { maxBatch: 1 });
    expect(() => image.prepareAudio(clip.samples, 8000)).toThrow(
      'prepareAudio: audio, but the model takes image input [8, 8, 1]',
    );
    image.dispose();
  });
});
