// Audio models' input in the runtime: a WAV file's bytes, or mono float samples at some rate, → the
// model's input tensor [frames, channels] as the artifact's meta.input records it (features of
// meta.input.audio, standardised by its mean/std). The work is audio/input.ts's, the code that
// prepares the training data and `graduate predict`'s clips, so serve and the browser page feed a
// model exactly what it was trained on. Also the bounds a server puts on one clip (its length and
// sample rate), checked before any resampling. No Node imports: the browser page bundles it.
import type { AudioFeatureSpec } from '../audio/features.js';
import { AudioFeaturizer } from '../audio/features.js';
import { type AudioPreparation, prepareSamples } from '../audio/input.js';
import { decodeWav } from '../audio/wav.js';
import { FormatError } from '../errors.js';
import type { InputSpec } from '../graph/ir.js';
import { firstNonFinite } from '../io/fields.js';

/** Bounds on one clip; absent fields are not checked. */
export interface ClipLimits {
  /** Longest clip in seconds (samples / rate). */
  maxSeconds?: number;
  /** Highest sample rate in Hz (the resampler's filter grows with the ratio of the rates). */
  maxSampleRate?: number;
  /** How to raise maxSeconds, as messages name it (e.g. '--max-audio-seconds'). */
  raiseWith?: string;
}

/** The audio preparation an audio model's input spec records; a FormatError for any other kind. */
export function audioPreparation(spec: InputSpec, name: string): AudioPreparation {
  if (spec.kind !== 'audio' || typeof spec.audio !== 'object' || spec.audio === null)
    throw new FormatError(`${name}: audio, but the model takes ${spec.kind} input [${spec.shape.join(', ')}]`);
  // graph/validate.ts checked the spec against the input shape when the artifact was read
  return { audio: spec.audio as AudioFeatureSpec, mean: spec.mean, std: spec.std };
}

/** Samples one clip covers at the model's rate: (frames − 1)·hopLength + nFft (longer clips are cropped). */
export function clipSamples(spec: AudioFeatureSpec): number {
  return (spec.frames - 1) * spec.hopLength + spec.nFft;
}

/** Throws a FormatError naming `name` when `samples` at `rate` Hz break a limit. */
export function checkClip(name: string, samples: number, rate: number, limits: ClipLimits = {}): void {
  if (!(Number.isSafeInteger(rate) && rate > 0))
    throw new FormatError(`${name}: sample rate must be a positive integer (Hz), got ${rate}`);
  if (limits.maxSampleRate !== undefined && rate > limits.maxSampleRate)
    throw new FormatError(`${name}: sample rate ${rate} Hz is over the limit of ${limits.maxSampleRate} Hz`);
  if (samples === 0) throw new FormatError(`${name}: the clip holds no samples`);
  const seconds = samples / rate;
  if (limits.maxSeconds !== undefined && seconds > limits.maxSeconds)
    throw new FormatError(
      `${name}: ${samples} samples at ${rate} Hz = ${seconds.toFixed(2)} s, over the limit of ${limits.maxSeconds} s` +
        (limits.raiseWith ? ` (${limits.raiseWith} raises it)` : ''),
    );
}

/** Throws a FormatError naming the first sample that is NaN or ±Infinity (a float WAV can hold them). */
function checkFinite(name: string, samples: Float32Array): void {
  const i = firstNonFinite(samples);
  if (i >= 0) throw new FormatError(`${name}: sample ${i} is ${samples[i]}, not a finite number`);
}

/** A WAV file's bytes → the model's input [frames, channels] (`name` names the file in errors). */
export function wavInput(spec: InputSpec, bytes: Uint8Array, name: string, limits?: ClipLimits): Float32Array {
  const prep = audioPreparation(spec, name);
  const wav = decodeWav(bytes, name);
  checkClip(name, wav.samples.length, wav.sampleRate, limits);
  checkFinite(name, wav.samples);
  return prepareSamples(wav.samples, wav.sampleRate, prep);
}

/**
 * `batch` clips of mono samples at `rate` Hz, each samples.length / batch long, side by side →
 * the model's input [batch, frames, channels] (each clip resampled to the model's rate when the
 * rates differ, then featurised and standardised).
 */
export function waveformInput(
  spec: InputSpec,
  samples: Float32Array,
  rate: number,
  batch: number,
  name: string,
  limits?: ClipLimits,
): Float32Array {
  const prep = audioPreparation(spec, name);
  if (!(Number.isInteger(batch) && batch > 0 && samples.length % batch === 0))
    throw new FormatError(`${name}: ${samples.length} samples do not split into ${batch} clips of equal length`);
  const n = samples.length / batch;
  checkClip(name, n, rate, limits);
  checkFinite(name, samples);
  const featurizer = new AudioFeaturizer(prep.audio);
  const per = featurizer.shape[0] * featurizer.shape[1];
  const out = new Float32Array(batch * per);
  for (let b = 0; b < batch; b++)
    out.set(prepareSamples(samples.subarray(b * n, (b + 1) * n), rate, prep, featurizer), b * per);
  return out;
}
