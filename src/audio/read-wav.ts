// Reading a WAV file from disk (Node only): its size checked against the audioBytes limit before it
// is read, decoded by wav.ts, and resampled to the rate a feature spec asks for.
import { ValueError } from '../errors.js';
import { readFileChecked } from '../io/read.js';
import type { InputLimits } from '../limits.js';
import { resample } from './resample.js';
import { decodeWav, MAX_RATE, type WavAudio } from './wav.js';

/**
 * Reads a WAV file as mono samples at `sampleRate` (resampled with a Kaiser-windowed sinc when the
 * file's rate differs; the file's own rate when undefined). The file's size is checked against the
 * audioBytes limit before it is read.
 */
export function readWav(
  file: string,
  opts: { sampleRate?: number; limits?: InputLimits } = {},
): WavAudio & { fileRate: number } {
  const wav = decodeWav(readFileChecked(file, 'WAV file', { key: 'audioBytes', limits: opts.limits }), file);
  const rate = opts.sampleRate ?? wav.sampleRate;
  if (!(Number.isInteger(rate) && rate > 0 && rate <= MAX_RATE))
    throw new ValueError(`readWav(${file}): sampleRate must be an integer in 1..${MAX_RATE}, got ${rate}`);
  const samples = rate === wav.sampleRate ? wav.samples : resample(wav.samples, wav.sampleRate, rate);
  return { ...wav, samples, sampleRate: rate, fileRate: wav.sampleRate };
}
