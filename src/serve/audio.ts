// The audio side of serve's protocol: which upload bodies are WAV files, the 'waveform' input (raw
// mono float PCM in a KServe v2 request, at parameters.sample_rate Hz, which the server featurises
// as `graduate predict` featurises a WAV file) and what an audio model's metadata says it accepts.
// The featurising runs in the workers (runtime/audio-input.ts), before the batcher, so clips and
// feature tensors batch together. Not for: the prepared-feature tensor (protocol.ts) or routing.
import type { AudioFeatureSpec } from '../audio/features.js';
import { fmtShape } from '../errors.js';
import { type ClipLimits, checkClip, clipSamples } from '../runtime/audio-input.js';
import {
  bad,
  type InferInput,
  parseInferRequest,
  protocolShape,
  requestOptions,
  requestTensor,
  tensorData,
  WAVEFORM_INPUT,
} from './protocol.js';
import type { ModelEntry } from './repository.js';

/** Content types of a WAV upload (application/octet-stream too, for an audio model). */
export const WAV_TYPES: readonly string[] = ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave'];

/**
 * Highest sample rate serve resamples from. The resampler's filter table grows with the ratio of
 * the rates: from an odd rate near 192 kHz to 8 kHz it takes about 0.8 s of one core to build,
 * from a standard rate (48 or 44.1 kHz) a few milliseconds.
 */
export const SERVE_MAX_SAMPLE_RATE = 192_000;

/** Longest clip serve featurises by default (keyword models take about a second; FSDD clips are ≤ 2.3 s). */
export const SERVE_MAX_AUDIO_SECONDS = 30;

/** What an upload body holds, by its Content-Type and the model: a WAV file or an image; 400 when the model takes neither. */
export function uploadKind(contentType: string | undefined, m: ModelEntry): 'audio' | 'image' {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  const kind = WAV_TYPES.includes(type)
    ? 'audio'
    : type.startsWith('image/') || m.spec.kind !== 'audio'
      ? 'image'
      : 'audio';
  if (kind !== m.spec.kind)
    throw bad(`model '${m.name}' takes ${m.spec.kind} input, not ${kind === 'audio' ? 'WAV audio' : 'images'}`);
  return kind;
}

/**
 * An audio model's infer request: prepared features under the model's input name (protocol.ts),
 * or mono samples under WAVEFORM_INPUT, FP32 [samples] or [N, samples] (N clips of one length),
 * at parameters.sample_rate Hz (of the request or the tensor; default the model's rate). The
 * returned input's data are then the samples and its sampleRate is set: a worker featurises them.
 */
export function parseAudioRequest(
  m: ModelEntry,
  body: unknown,
  maxSamples: number,
  limits: ClipLimits,
  binary?: Uint8Array,
): InferInput {
  const { req, tensor } = requestTensor(m, body, [m.input.name, WAVEFORM_INPUT]);
  if (tensor.name === m.input.name) return parseInferRequest(m, body, maxSamples, binary);
  const what = `input '${WAVEFORM_INPUT}'`;
  if (tensor.datatype !== 'FP32')
    throw bad(`${what}: datatype ${JSON.stringify(tensor.datatype)} is not accepted; mono samples are FP32`);
  const shape = tensor.shape;
  if (
    !Array.isArray(shape) ||
    (shape.length !== 1 && shape.length !== 2) ||
    !shape.every((d) => Number.isInteger(d) && d >= 1)
  )
    throw bad(
      `${what}: shape ${Array.isArray(shape) ? fmtShape(shape) : JSON.stringify(shape)} is not [samples] or [clips, samples] (positive integers); the model's features are ${fmtShape(protocolShape(m.input))}`,
    );
  const batch = shape.length === 2 ? (shape[0] as number) : 1;
  if (batch > maxSamples)
    throw bad(`${what}: ${batch} clips are over this server's limit of ${maxSamples} per request`);
  const rate = sampleRate(m, req.parameters, tensor.parameters, limits);
  try {
    checkClip(what, shape.at(-1) as number, rate, limits);
  } catch (e) {
    throw bad((e as Error).message);
  }
  const data = tensorData(tensor, binary, shape, 'FP32', what);
  return requestOptions(m, req, { data, batch, sampleRate: rate });
}

/** parameters.sample_rate of the request or of the tensor (both: equal), else the model's rate. */
function sampleRate(m: ModelEntry, request: unknown, tensor: unknown, limits: ClipLimits): number {
  const max = limits.maxSampleRate ?? Number.MAX_SAFE_INTEGER;
  const given: number[] = [];
  for (const [where, p] of [
    ['parameters.sample_rate', request],
    [`input '${WAVEFORM_INPUT}': parameters.sample_rate`, tensor],
  ] as const) {
    const v = (p as { sample_rate?: unknown } | undefined)?.sample_rate;
    if (v === undefined) continue;
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max))
      throw bad(`${where}: expected an integer in [1, ${max}] (Hz), got ${JSON.stringify(v)}`);
    given.push(v);
  }
  if (given.length === 2 && given[0] !== given[1])
    throw bad(`parameters.sample_rate: ${given[0]} Hz for the request, ${given[1]} Hz for input '${WAVEFORM_INPUT}'`);
  return given[0] ?? (m.spec.audio as AudioFeatureSpec).sampleRate;
}

/** What an audio model accepts, for its metadata's parameters (GET /v2/models/{name}). */
export function audioParameters(m: ModelEntry, limits: ClipLimits) {
  const spec = m.spec.audio as AudioFeatureSpec;
  const upto = `up to ${limits.maxSampleRate} Hz and ${limits.maxSeconds} s`;
  return {
    audio_sample_rate: spec.sampleRate,
    audio_clip_seconds: clipSamples(spec) / spec.sampleRate,
    audio_features: spec,
    audio_inputs: [
      `a WAV file as the request body (Content-Type ${WAV_TYPES.join(', ')} or application/octet-stream; ?top_k=K): PCM 8/16/24/32-bit or float, channels mixed to mono, ${upto}`,
      `input '${WAVEFORM_INPUT}' FP32 [samples] or [clips, samples]: mono samples at parameters.sample_rate Hz (default ${spec.sampleRate}), ${upto}, resampled and featurised by the server`,
      `input '${m.input.name}' FP32 ${fmtShape(protocolShape(m.input))}: prepared features (input_preprocessing)`,
    ],
    audio_upload_types: [...WAV_TYPES, 'application/octet-stream'],
    audio_max_seconds: limits.maxSeconds,
    audio_max_sample_rate: limits.maxSampleRate,
  };
}
