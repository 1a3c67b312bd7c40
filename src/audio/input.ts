// One clip prepared as a model records it: WAV bytes (or mono samples at some rate) → mono at the
// spec's rate → features [frames, channels] → (x − mean[c]) / std[c]. The training data are
// prepared by this same code (data/audio.ts), so predict, serve and the browser feed a model
// exactly what it was trained on. No Node imports: the runtime and the browser page use it.
import { ValueError } from '../errors.js';
import { type AudioFeatureSpec, AudioFeaturizer, featureChannels } from './features.js';
import { resample } from './resample.js';
import { decodeWav } from './wav.js';

/** A model's audio preparation: its feature spec and per-channel statistics (absent: 0 and 1). */
export interface AudioPreparation {
  audio: AudioFeatureSpec;
  mean?: readonly number[];
  std?: readonly number[];
}

/** In place: x = (x − mean[c]) / std[c] over interleaved channels (the training data's formula). */
export function standardizeFeatures(x: Float32Array, mean: readonly number[], std: readonly number[]): void {
  const c = mean.length;
  const inv = std.map((s) => 1 / s);
  for (let i = 0; i < x.length; i++) {
    const k = i % c;
    x[i] = (x[i] - mean[k]) * inv[k];
  }
}

/**
 * Prepared features [frames, channels] of mono samples recorded at `rate` Hz (resampled to the
 * spec's rate when it differs). Pass a featurizer built from prep.audio to reuse its buffers.
 */
export function prepareSamples(
  samples: Float32Array,
  rate: number,
  prep: AudioPreparation,
  featurizer = new AudioFeaturizer(prep.audio),
): Float32Array {
  const C = featureChannels(prep.audio);
  for (const [key, a] of [
    ['mean', prep.mean],
    ['std', prep.std],
  ] as const)
    if (a && a.length !== C) throw new ValueError(`audio preparation: ${key} has ${a.length} values for ${C} channels`);
  const mono = rate === prep.audio.sampleRate ? samples : resample(samples, rate, prep.audio.sampleRate);
  const x = featurizer.compute(mono);
  if (prep.mean || prep.std)
    standardizeFeatures(x, prep.mean ?? new Array<number>(C).fill(0), prep.std ?? new Array<number>(C).fill(1));
  return x;
}

/** Prepared features [frames, channels] of a WAV file's bytes (`name` names it in errors). */
export function prepareWav(bytes: Uint8Array, prep: AudioPreparation, name: string): Float32Array {
  const wav = decodeWav(bytes, name);
  return prepareSamples(wav.samples, wav.sampleRate, prep);
}
