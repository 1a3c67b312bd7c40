// The WAV reader: every uncompressed sample format round-trips, channels are averaged, other rates
// are resampled, and every malformed file is a FormatError naming the file and the field.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readWav } from '../../src/audio/read-wav.js';
import { besselI0, resample } from '../../src/audio/resample.js';
import { decodeWav, encodeWav } from '../../src/audio/wav.js';
import { FileError, FormatError } from '../../src/errors.js';
import { tempDir } from '../data/helpers.js';

afterEach(() => vi.unstubAllEnvs());

const ramp = Array.from({ length: 50 }, (_, i) => (i - 25) / 32);

/** Bytes with a 'fmt ' chunk of the given fields, then the given chunks (id, body). */
function riff(chunks: [string, Uint8Array][]): Uint8Array {
  const parts: Buffer[] = [];
  for (const [id, body] of chunks) {
    const head = Buffer.alloc(8);
    head.write(id, 0, 'latin1');
    head.writeUInt32LE(body.length, 4);
    parts.push(head, Buffer.from(body), Buffer.alloc(body.length & 1));
  }
  const all = Buffer.concat(parts);
  const head = Buffer.alloc(12);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(all.length + 4, 4);
  head.write('WAVE', 8, 'latin1');
  return Buffer.concat([head, all]);
}

function fmt(tag: number, channels: number, rate: number, bits: number, extra?: Buffer): Uint8Array {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(tag, 0);
  b.writeUInt16LE(channels, 2);
  b.writeUInt32LE(rate, 4);
  b.writeUInt32LE((rate * channels * bits) / 8, 8);
  b.writeUInt16LE((channels * bits) / 8, 12);
  b.writeUInt16LE(bits, 14);
  return extra ? Buffer.concat([b, extra]) : b;
}

describe('decodeWav', () => {
  it.each([
    [8, false, 1 / 128],
    [16, false, 1 / 32768],
    [24, false, 1 / 8388608],
    [32, false, 1 / 2 ** 31],
    [32, true, 1e-7],
    [64, true, 0],
  ] as const)('%i-bit (float %s) round-trips within one quantisation step', (bits, float, step) => {
    const wav = decodeWav(encodeWav(ramp, { sampleRate: 8000, bitsPerSample: bits, float }), 'x.wav');
    expect(wav).toMatchObject({ sampleRate: 8000, channels: 1, bitsPerSample: bits, float });
    expect(wav.samples).toHaveLength(ramp.length);
    for (let i = 0; i < ramp.length; i++)
      expect(Math.abs(wav.samples[i] - ramp[i])).toBeLessThanOrEqual(step / 2 + 1e-7);
  });

  it('integer PCM scales as soundfile does: int16 / 32768, u8 (v − 128) / 128, extremes included', () => {
    const pcm16 = riff([
      ['fmt ', fmt(1, 1, 8000, 16)],
      ['data', Buffer.from(Int16Array.from([-32768, 0, 16384, 32767]).buffer)],
    ]);
    expect([...decodeWav(pcm16, 'a.wav').samples]).toEqual([-1, 0, 0.5, 32767 / 32768]);
    const pcm8 = riff([
      ['fmt ', fmt(1, 1, 8000, 8)],
      ['data', Uint8Array.from([0, 128, 192, 255])],
    ]);
    expect([...decodeWav(pcm8, 'a.wav').samples]).toEqual([-1, 0, 0.5, 127 / 128]);
    const pcm24 = riff([
      ['fmt ', fmt(1, 1, 8000, 24)],
      ['data', Uint8Array.from([0, 0, 0x80, 0xff, 0xff, 0xff, 0, 0, 0x40])],
    ]);
    expect([...decodeWav(pcm24, 'a.wav').samples]).toEqual([-1, -1 / 8388608, 0.5]);
  });

  it('stereo (and more channels) become the mean of the channels', () => {
    const inter = [0.5, -0.5, 0.25, 0.75, -1, 0];
    const wav = decodeWav(encodeWav(inter, { sampleRate: 16000, channels: 2, bitsPerSample: 32, float: true }), 's');
    expect(wav.channels).toBe(2);
    expect([...wav.samples]).toEqual([0, 0.5, -0.5]);
    const three = decodeWav(encodeWav([0.25, 0.5, 0.75], { sampleRate: 8000, channels: 3, bitsPerSample: 16 }), 't');
    expect([...three.samples]).toEqual([0.5]);
  });

  it('skips other chunks (LIST, odd-sized ones padded to even) and reads WAVE_FORMAT_EXTENSIBLE', () => {
    const ext = Buffer.alloc(24);
    ext.writeUInt16LE(22, 0); // cbSize
    ext.writeUInt16LE(16, 2); // valid bits
    ext.writeUInt16LE(1, 8); // sub-format GUID: PCM
    const bytes = riff([
      ['LIST', Buffer.from('INFOodd')],
      ['fmt ', fmt(0xfffe, 1, 8000, 16, ext)],
      ['fact', Buffer.alloc(4)],
      ['data', Buffer.from(Int16Array.from([16384, -16384]).buffer)],
    ]);
    expect([...decodeWav(bytes, 'e.wav').samples]).toEqual([0.5, -0.5]);
  });

  it.each([
    ['too short', Buffer.from('RIFF'), 'x.wav: not a WAV file (4 bytes, shorter than a RIFF header)'],
    ['not RIFF', Buffer.from('ID3\x03 mp3 stuff'), "x.wav: not a WAV file (expected 'RIFF'…'WAVE' at the start, got"],
    ['RF64', Buffer.from('RF64\xff\xff\xff\xffWAVE'), 'x.wav: RF64 WAV files are not supported'],
    [
      'compressed (IMA ADPCM)',
      riff([
        ['fmt ', fmt(0x11, 1, 8000, 4)],
        ['data', Buffer.alloc(4)],
      ]),
      'x.wav: fmt format tag 0x0011 (IMA ADPCM) is compressed or unknown',
    ],
    [
      'µ-law',
      riff([
        ['fmt ', fmt(7, 1, 8000, 8)],
        ['data', Buffer.alloc(4)],
      ]),
      'fmt format tag 0x0007 (µ-law)',
    ],
    [
      '12-bit PCM',
      riff([
        ['fmt ', fmt(1, 1, 8000, 12)],
        ['data', Buffer.alloc(4)],
      ]),
      'x.wav: fmt bits per sample 12 is not supported for PCM (8, 16, 24, 32)',
    ],
    [
      '16-bit float',
      riff([
        ['fmt ', fmt(3, 1, 8000, 16)],
        ['data', Buffer.alloc(4)],
      ]),
      'fmt bits per sample 16 is not supported for float (32, 64)',
    ],
    [
      'zero channels',
      riff([
        ['fmt ', fmt(1, 0, 8000, 16)],
        ['data', Buffer.alloc(4)],
      ]),
      'x.wav: fmt channels 0 is not in 1..64',
    ],
    [
      'zero rate',
      riff([
        ['fmt ', fmt(1, 1, 0, 16)],
        ['data', Buffer.alloc(4)],
      ]),
      'x.wav: fmt sample rate 0 Hz is not in 1..1000000',
    ],
    ['no fmt', riff([['data', Buffer.alloc(4)]]), "x.wav: 'data' chunk before the 'fmt ' chunk"],
    ['no data', riff([['fmt ', fmt(1, 1, 8000, 16)]]), "x.wav: no 'data' chunk"],
    ['short fmt', riff([['fmt ', Buffer.alloc(10)]]), "x.wav: 'fmt ' chunk is 10 bytes, expected at least 16"],
    [
      'data not whole frames',
      riff([
        ['fmt ', fmt(1, 2, 8000, 16)],
        ['data', Buffer.alloc(6)],
      ]),
      "x.wav: 'data' chunk size 6 is not a multiple of the block size 4",
    ],
  ])('%s: a FormatError naming the file and the field', (_, bytes, message) => {
    expect(() => decodeWav(bytes, 'x.wav')).toThrow(FormatError);
    expect(() => decodeWav(bytes, 'x.wav')).toThrow(message);
  });

  it('a truncated file or a chunk claiming more than is there is refused without allocating it', () => {
    const good = encodeWav(ramp, { sampleRate: 8000 });
    expect(() => decodeWav(good.subarray(0, 30), 'cut.wav')).toThrow(
      'cut.wav: truncated: the RIFF header declares 144 bytes, the file has 30',
    );
    const huge = Buffer.from(good);
    huge.writeUInt32LE(0xfffffff0, 40); // data size: 4 GB
    expect(() => decodeWav(huge, 'big.wav')).toThrow(
      "big.wav: chunk 'data' at byte 36 declares 4294967280 bytes, only 100 remain",
    );
    const riffHuge = Buffer.from(good);
    riffHuge.writeUInt32LE(0xffffffff, 4);
    expect(() => decodeWav(riffHuge, 'r.wav')).toThrow('r.wav: truncated: the RIFF header declares 4294967303 bytes');
    const badAlign = Buffer.from(good);
    badAlign.writeUInt16LE(3, 32);
    expect(() => decodeWav(badAlign, 'a.wav')).toThrow(
      'a.wav: fmt block align 3 differs from channels × bytes per sample = 2',
    );
  });
});

describe('readWav', () => {
  it('reads a file, at its own rate or resampled to another', () => {
    const dir = tempDir();
    const f = join(dir, 'tone.wav');
    const tone = Array.from({ length: 16000 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / 16000));
    writeFileSync(f, encodeWav(tone, { sampleRate: 16000, bitsPerSample: 32, float: true }));
    expect(readWav(f)).toMatchObject({ sampleRate: 16000, fileRate: 16000 });
    const r = readWav(f, { sampleRate: 8000 });
    expect(r).toMatchObject({ sampleRate: 8000, fileRate: 16000 });
    expect(r.samples).toHaveLength(8000);
    let err = 0;
    for (let i = 200; i < 7800; i++)
      err = Math.max(err, Math.abs(r.samples[i] - 0.5 * Math.sin((2 * Math.PI * 440 * i) / 8000)));
    expect(err).toBeLessThan(1e-3);
  });

  it('a missing file is a FileError; a file over GRADUATE_MAX_AUDIO_BYTES is refused before reading', () => {
    const dir = tempDir();
    expect(() => readWav(join(dir, 'none.wav'))).toThrow(FileError);
    const f = join(dir, 'a.wav');
    writeFileSync(f, encodeWav(ramp, { sampleRate: 8000 }));
    vi.stubEnv('GRADUATE_MAX_AUDIO_BYTES', '100');
    expect(() => readWav(f)).toThrow(
      `${f}: WAV file of 144 bytes, over the limit of 100 bytes (raise it with GRADUATE_MAX_AUDIO_BYTES=<bytes>)`,
    );
  });
});

describe('resample (Kaiser-windowed sinc)', () => {
  const sine = (f: number, rate: number, n: number) =>
    Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * f * i) / rate));

  it('I0 matches tabulated values', () => {
    expect(besselI0(0)).toBe(1);
    expect(besselI0(1)).toBeCloseTo(1.2660658777520082, 14);
    expect(besselI0(5)).toBeCloseTo(27.239871823604442, 10); // numpy.i0
  });

  it.each([
    [44100, 8000],
    [8000, 16000],
    [22050, 16000],
    [48000, 8000],
    [44101, 16000], // a ratio with more phases than tabulated
  ])('a 300 Hz sine at %i Hz becomes the same sine at %i Hz (away from the edges)', (from, to) => {
    const y = resample(sine(300, from, from), from, to);
    expect(y).toHaveLength(to);
    const want = sine(300, to, to);
    let err = 0;
    for (let i = 100; i < to - 100; i++) err = Math.max(err, Math.abs(y[i] - want[i]));
    expect(err).toBeLessThan(2e-3);
  });

  it('downsampling removes what is above the new Nyquist (no aliasing)', () => {
    const y = resample(sine(5000, 44100, 44100), 44100, 8000); // 5 kHz would alias to 3 kHz
    let peak = 0;
    for (let i = 200; i < y.length - 200; i++) peak = Math.max(peak, Math.abs(y[i]));
    expect(peak).toBeLessThan(1e-3);
  });

  it('the same rate is a copy', () => {
    const x = sine(100, 8000, 100);
    expect(resample(x, 8000, 8000)).toEqual(x);
    expect(() => resample(x, 0, 8000)).toThrow('resample: fromRate must be a positive integer, got 0');
  });
});
