// Reading WAV files: a strict RIFF/WAVE parser for uncompressed audio (PCM 8/16/24/32-bit integer,
// IEEE float 32/64, plain or WAVE_FORMAT_EXTENSIBLE), mixed down to mono (the mean of the channels)
// and resampled to a requested rate. Anything else (compressed formats, a truncated header, a chunk
// that runs past the end, absurd sizes) is a FormatError naming the file and the field; no size a
// file declares is trusted before it is checked against the bytes actually there. No Node imports:
// the runtime and the browser decode uploads with it; reading files is read-wav.ts.
// Not for: feature extraction (features.ts) or datasets (data/audio.ts).
import { FormatError } from '../errors.js';

/** A decoded WAV file, mixed down to mono. */
export interface WavAudio {
  /** [samples] in [-1, 1) for integer PCM (int16 / 32768, u8: (v - 128) / 128), as stored for float */
  samples: Float32Array;
  sampleRate: number;
  /** Channels in the file (the samples are their mean). */
  channels: number;
  /** Bits per sample in the file and whether they were float. */
  bitsPerSample: number;
  float: boolean;
}

const FORMAT_PCM = 0x0001;
const FORMAT_FLOAT = 0x0003;
const FORMAT_EXTENSIBLE = 0xfffe;
/** Names of common compressed format tags, for messages. */
const FORMAT_NAMES: Record<number, string> = {
  2: 'Microsoft ADPCM',
  6: 'A-law',
  7: 'µ-law',
  17: 'IMA ADPCM',
  49: 'GSM 6.10',
  80: 'MPEG',
  85: 'MPEG layer 3 (MP3)',
  255: 'AAC',
  5648: 'HE-AAC',
  61868: 'FLAC',
};
/** More channels than any real recording layout (WAVE_FORMAT_EXTENSIBLE defines 18 speaker positions). */
const MAX_CHANNELS = 64;
export const MAX_RATE = 1_000_000;

const ascii = (b: Uint8Array, at: number) => String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
const printable = (id: string) => (/^[\x20-\x7e]{4}$/.test(id) ? `'${id}'` : JSON.stringify(id));

/** Decodes the bytes of a WAV file (`file` names it in messages). */
export function decodeWav(bytes: Uint8Array, file: string): WavAudio {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (msg: string) => new FormatError(`${file}: ${msg}`);
  if (bytes.length < 12) throw bad(`not a WAV file (${bytes.length} bytes, shorter than a RIFF header)`);
  const riff = ascii(bytes, 0);
  if (riff === 'RIFX' || riff === 'RF64')
    throw bad(`${riff} WAV files are not supported (expected little-endian 'RIFF')`);
  if (riff !== 'RIFF' || ascii(bytes, 8) !== 'WAVE')
    throw bad(
      `not a WAV file (expected 'RIFF'…'WAVE' at the start, got ${printable(riff)}…${printable(ascii(bytes, 8))})`,
    );
  const riffSize = view.getUint32(4, true);
  if (riffSize < 4) throw bad(`RIFF chunk size ${riffSize} is too small to hold 'WAVE'`);
  // a RIFF size past the end is a truncated file; trailing bytes after it are ignored (some writers pad)
  if (8 + riffSize > bytes.length)
    throw bad(`truncated: the RIFF header declares ${8 + riffSize} bytes, the file has ${bytes.length}`);
  const end = 8 + riffSize;

  let fmt: { tag: number; channels: number; rate: number; blockAlign: number; bits: number; float: boolean } | null =
    null;
  let data: { at: number; size: number } | null = null;
  for (let at = 12; at < end && data === null; ) {
    if (at + 8 > end) throw bad(`truncated chunk header at byte ${at} (${end - at} bytes left in the RIFF chunk)`);
    const id = ascii(bytes, at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (body + size > end)
      throw bad(`chunk ${printable(id)} at byte ${at} declares ${size} bytes, only ${end - body} remain`);
    if (id === 'fmt ') fmt = parseFmt(view, body, size, bad);
    else if (id === 'data') {
      if (!fmt) throw bad("'data' chunk before the 'fmt ' chunk");
      data = { at: body, size };
    }
    at = body + size + (size & 1); // chunks are padded to an even size
  }
  if (!fmt) throw bad("no 'fmt ' chunk");
  if (!data) throw bad("no 'data' chunk");
  if (data.size % fmt.blockAlign !== 0)
    throw bad(`'data' chunk size ${data.size} is not a multiple of the block size ${fmt.blockAlign}`);
  const frames = data.size / fmt.blockAlign;
  return {
    samples: mixDown(view, data.at, frames, fmt.channels, fmt.bits, fmt.float),
    sampleRate: fmt.rate,
    channels: fmt.channels,
    bitsPerSample: fmt.bits,
    float: fmt.float,
  };
}

function parseFmt(view: DataView, at: number, size: number, bad: (msg: string) => FormatError) {
  if (size < 16) throw bad(`'fmt ' chunk is ${size} bytes, expected at least 16`);
  let tag = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const rate = view.getUint32(at + 4, true);
  const blockAlign = view.getUint16(at + 12, true);
  const bits = view.getUint16(at + 14, true);
  if (tag === FORMAT_EXTENSIBLE) {
    if (size < 40) throw bad(`'fmt ' chunk of WAVE_FORMAT_EXTENSIBLE is ${size} bytes, expected 40`);
    const validBits = view.getUint16(at + 18, true);
    if (validBits > bits) throw bad(`fmt valid bits per sample ${validBits} exceeds the container's ${bits}`);
    tag = view.getUint16(at + 24, true); // the sub-format GUID starts with the format tag
  }
  if (tag !== FORMAT_PCM && tag !== FORMAT_FLOAT) {
    const name = FORMAT_NAMES[tag] ? ` (${FORMAT_NAMES[tag]})` : '';
    throw bad(
      `fmt format tag 0x${tag.toString(16).padStart(4, '0')}${name} is compressed or unknown; only PCM (1) and IEEE float (3) are supported`,
    );
  }
  const float = tag === FORMAT_FLOAT;
  if (channels < 1 || channels > MAX_CHANNELS) throw bad(`fmt channels ${channels} is not in 1..${MAX_CHANNELS}`);
  if (rate < 1 || rate > MAX_RATE) throw bad(`fmt sample rate ${rate} Hz is not in 1..${MAX_RATE}`);
  const allowed = float ? [32, 64] : [8, 16, 24, 32];
  if (!allowed.includes(bits))
    throw bad(`fmt bits per sample ${bits} is not supported for ${float ? 'float' : 'PCM'} (${allowed.join(', ')})`);
  if (blockAlign !== (channels * bits) / 8)
    throw bad(`fmt block align ${blockAlign} differs from channels × bytes per sample = ${(channels * bits) / 8}`);
  return { tag, channels, rate, blockAlign, bits, float };
}

/** The mean over channels of `frames` interleaved samples at `at`, scaled to [-1, 1). */
function mixDown(view: DataView, at: number, frames: number, channels: number, bits: number, float: boolean) {
  const out = new Float32Array(frames);
  const bytes = bits / 8;
  const scale = 1 / channels;
  let p = at;
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++, p += bytes) {
      if (float) sum += bits === 32 ? view.getFloat32(p, true) : view.getFloat64(p, true);
      else if (bits === 16) sum += view.getInt16(p, true) / 32768;
      else if (bits === 8) sum += (view.getUint8(p) - 128) / 128;
      else if (bits === 24) sum += ((view.getUint8(p + 2) << 24) | (view.getUint16(p, true) << 8)) / 2147483648;
      else sum += view.getInt32(p, true) / 2147483648;
    }
    out[i] = sum * scale;
  }
  return out;
}

/** Encodes mono or interleaved samples as a WAV file (PCM 8/16/24/32 or float 32/64): for tests and fixtures. */
export function encodeWav(
  samples: ArrayLike<number>,
  opts: { sampleRate: number; channels?: number; bitsPerSample?: 8 | 16 | 24 | 32 | 64; float?: boolean },
): Uint8Array {
  const channels = opts.channels ?? 1;
  const bits = opts.bitsPerSample ?? 16;
  const float = opts.float ?? false;
  const bytes = bits / 8;
  const n = samples.length;
  const out = new Uint8Array(44 + n * bytes + ((n * bytes) & 1));
  const v = new DataView(out.buffer);
  const str = (at: number, s: string) => {
    for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i);
  };
  str(0, 'RIFF');
  v.setUint32(4, out.length - 8, true);
  str(8, 'WAVE');
  str(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, float ? FORMAT_FLOAT : FORMAT_PCM, true);
  v.setUint16(22, channels, true);
  v.setUint32(24, opts.sampleRate, true);
  v.setUint32(28, opts.sampleRate * channels * bytes, true);
  v.setUint16(32, channels * bytes, true);
  v.setUint16(34, bits, true);
  str(36, 'data');
  v.setUint32(40, n * bytes, true);
  const clamp = (x: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, Math.round(x)));
  for (let i = 0, p = 44; i < n; i++, p += bytes) {
    const x = samples[i];
    if (float) bits === 32 ? v.setFloat32(p, x, true) : v.setFloat64(p, x, true);
    else if (bits === 8) v.setUint8(p, clamp(x * 128 + 128, 0, 255));
    else if (bits === 16) v.setInt16(p, clamp(x * 32768, -32768, 32767), true);
    else if (bits === 24) {
      const s = clamp(x * 8388608, -8388608, 8388607);
      v.setUint16(p, s & 0xffff, true);
      v.setInt8(p + 2, s >> 16);
    } else v.setInt32(p, clamp(x * 2147483648, -2147483648, 2147483647), true);
  }
  return out;
}
