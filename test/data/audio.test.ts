// Audio folders as datasets: file naming, the two layouts, the fsdd and speaker-holdout splits,
// standardisation with the training split's statistics, the spec recorded in the preprocessing,
// and the real FSDD folder's counts per split.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AudioFeaturizer, defaultAudioSpec } from '../../src/audio/features.js';
import { prepareSamples, prepareWav } from '../../src/audio/input.js';
import { encodeWav } from '../../src/audio/wav.js';
import {
  audioSpeakers,
  listAudioFolder,
  loadAudioFolder,
  loadAudioSplits,
  splitAudioFiles,
  stratifiedLimit,
} from '../../src/data/audio.js';
import { loadData } from '../../src/data/index.js';
import { FormatError, ValueError } from '../../src/errors.js';
import { checkInputSpec } from '../../src/graph/validate.js';
import { tempDir } from './helpers.js';

const spec = defaultAudioSpec({ frames: 30, nMels: 16 });

afterEach(() => vi.unstubAllEnvs());

/** A tone whose pitch depends on the digit and speaker, 0.2–0.3 s at 8 kHz (or `rate`). */
function clip(digit: number, speaker: number, index: number, rate = 8000): Uint8Array {
  const n = Math.round(rate * (0.2 + 0.01 * (index % 10)));
  const f = 200 + 300 * digit + 20 * speaker;
  return encodeWav(
    Array.from({ length: n }, (_, i) => 0.3 * Math.sin((2 * Math.PI * f * i) / rate)),
    { sampleRate: rate },
  );
}

/** digits × speakers × indices files `{d}_{speaker}_{i}.wav` in a flat folder. */
function fsddLike(digits: number, speakers: string[], indices: number): string {
  const dir = tempDir();
  for (let d = 0; d < digits; d++)
    for (const [s, name] of speakers.entries())
      for (let i = 0; i < indices; i++) writeFileSync(join(dir, `${d}_${name}_${i}.wav`), clip(d, s, i));
  return dir;
}

describe('listAudioFolder', () => {
  it('reads label, speaker and index from flat {label}_{speaker}_{index}.wav names', () => {
    const dir = fsddLike(2, ['ann', 'bob_jr'], 2);
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const files = listAudioFolder(dir);
    expect(files).toHaveLength(8);
    expect(files[0]).toEqual({ path: join(dir, '0_ann_0.wav'), label: '0', speaker: 'ann', index: 0 });
    expect(files.find((f) => f.path.endsWith('1_bob_jr_1.wav'))).toMatchObject({
      label: '1',
      speaker: 'bob_jr',
      index: 1,
    });
    expect(audioSpeakers(files)).toEqual(['ann', 'bob_jr']);
  });

  it('takes the label from the sub-folder in the one-folder-per-class layout', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'yes'));
    mkdirSync(join(dir, 'no'));
    writeFileSync(join(dir, 'yes', 'ann_3.wav'), clip(1, 0, 3));
    writeFileSync(join(dir, 'no', 'take.wav'), clip(2, 0, 0));
    expect(listAudioFolder(dir)).toEqual([
      { path: join(dir, 'no', 'take.wav'), label: 'no' },
      { path: join(dir, 'yes', 'ann_3.wav'), label: 'yes', speaker: 'ann', index: 3 },
    ]);
  });

  it('names the file or folder that does not fit', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'nolabel.wav'), clip(0, 0, 0));
    expect(() => listAudioFolder(dir)).toThrow(`${join(dir, 'nolabel.wav')}: expected a file name {label}_….wav`);
    const empty = tempDir();
    expect(() => listAudioFolder(empty)).toThrow(FormatError);
    expect(() => listAudioFolder(join(empty, 'missing'))).toThrow(
      `${join(empty, 'missing')}: cannot read audio folder (ENOENT)`,
    );
  });
});

describe("FSDD's own folder, one class, --limit", () => {
  it('a folder holding recordings/{digit}_{speaker}_{index}.wav is read as FSDD (labels from the names)', () => {
    const root = tempDir();
    const rec = join(root, 'recordings');
    mkdirSync(rec);
    for (const d of [0, 1, 2]) for (const i of [0, 5]) writeFileSync(join(rec, `${d}_ann_${i}.wav`), clip(d, 0, i));
    writeFileSync(join(root, 'README.md'), 'FSDD');
    expect(listAudioFolder(root)).toEqual(listAudioFolder(rec));
    expect(listAudioFolder(root)[0]).toEqual({ path: join(rec, '0_ann_0.wav'), label: '0', speaker: 'ann', index: 0 });
    const ds = loadData(root, 'train');
    expect([ds.size, ds.classNames]).toEqual([6, ['0', '1', '2']]);
    const { train, test } = loadAudioSplits(root, 'fsdd', { spec });
    expect([train.size, test.size]).toEqual([3, 3]);
  });

  it("a folder of one class loads (a model's own classes may evaluate it; training refuses it: test/cli)", () => {
    const flat = fsddLike(1, ['ann', 'bob'], 6);
    const model = loadAudioSplits(fsddLike(2, ['ann'], 6), 'fsdd', { spec }).train;
    const one = loadAudioFolder(flat, { like: model.preprocessing, classNames: model.classNames });
    expect([one.size, one.classNames, [...new Set(one.y)]]).toEqual([12, ['0', '1'], [0]]);
  });

  it('stratifiedLimit spreads N samples over the classes and speakers (the first N would be one digit)', () => {
    const { train } = loadAudioSplits(fsddLike(4, ['ann', 'bob', 'cy'], 10), 'fsdd', { spec });
    expect(train.size).toBe(4 * 3 * 5);
    const part = stratifiedLimit(train, 10);
    const per = (y: Int32Array) => [0, 1, 2, 3].map((c) => y.filter((v) => v === c).length);
    expect(per(part.y)).toEqual([3, 3, 2, 2]);
    // rows are the dataset's own, in its order, and from more than one speaker per class
    const n = 30 * 16;
    const rows = [...Array(train.size).keys()].filter((i) =>
      [...Array(part.size).keys()].some((j) =>
        train.x.subarray(i * n, (i + 1) * n).every((v, k) => v === part.x[j * n + k]),
      ),
    );
    expect(rows).toHaveLength(10);
    expect(new Set(rows.filter((i) => train.y[i] === 0).map((i) => Math.floor((i % 15) / 5))).size).toBeGreaterThan(1);
    expect(stratifiedLimit(train, 10)).toEqual(part); // seeded: the same subset each time
    expect(stratifiedLimit(train, 100)).toBe(train);
    expect(() => stratifiedLimit(train, -1)).toThrow('limit must be a non-negative integer, got -1');
  });
});

describe('splitAudioFiles', () => {
  const files = listAudioFolder(fsddLike(2, ['ann', 'bob'], 7));

  it("'fsdd': recordings 0–4 are the test set", () => {
    const [train, test] = splitAudioFiles(files, 'fsdd');
    expect(test).toHaveLength(2 * 2 * 5);
    expect(train).toHaveLength(2 * 2 * 2);
    expect(test.every((f) => f.index! <= 4) && train.every((f) => f.index! >= 5)).toBe(true);
  });

  it('a holdout speaker: all of their recordings are the test set, none in training', () => {
    const [train, test] = splitAudioFiles(files, { holdoutSpeaker: 'bob' });
    expect(test).toHaveLength(14);
    expect(test.every((f) => f.speaker === 'bob') && train.every((f) => f.speaker === 'ann')).toBe(true);
    expect(() => splitAudioFiles(files, { holdoutSpeaker: 'cy' })).toThrow(
      "holdout speaker 'cy' has no recordings (speakers: ann, bob)",
    );
    expect(() => splitAudioFiles(files, { holdoutSpeaker: 'cy' })).toThrow(ValueError);
  });

  it('a split needs the numbers and speakers in the names', () => {
    const bare = [{ path: 'x/yes/take.wav', label: 'yes' }];
    expect(() => splitAudioFiles(bare, 'fsdd')).toThrow('x/yes/take.wav: the fsdd split needs a recording number');
    expect(() => splitAudioFiles(bare, { holdoutSpeaker: 'a' })).toThrow(
      'x/yes/take.wav: a speaker holdout needs the speaker',
    );
  });
});

describe('loadAudioSplits / loadAudioFolder', () => {
  it('features [N, frames, mels], standardised with the training split, spec recorded', () => {
    const dir = fsddLike(3, ['ann', 'bob'], 8);
    const { train, test } = loadAudioSplits(dir, 'fsdd', { spec });
    expect([train.size, test.size]).toEqual([3 * 2 * 3, 3 * 2 * 5]);
    expect(train.sampleShape).toEqual([30, 16]);
    expect(train.classNames).toEqual(['0', '1', '2']);
    expect(test.classNames).toEqual(train.classNames);
    expect(train.preprocessing).toMatchObject({ kind: 'audio', inputShape: [30, 16], audio: spec });
    expect(test.preprocessing).toEqual(train.preprocessing);
    // training features have mean 0, std 1 per mel channel
    const C = 16;
    for (const c of [0, 7, 15]) {
      let s = 0;
      let q = 0;
      const n = train.x.length / C;
      for (let i = c; i < train.x.length; i += C) {
        s += train.x[i];
        q += train.x[i] ** 2;
      }
      expect(s / n).toBeCloseTo(0, 4);
      expect(q / n).toBeCloseTo(1, 3);
    }
    // a test sample is its raw features standardised with the train statistics
    const { mean, std } = train.preprocessing;
    const raw = new AudioFeaturizer(spec).compute(
      Float32Array.from({ length: 1600 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 520 * i) / 8000)),
    );
    // test order: 0_ann_0..4, 0_bob_0..4, 1_ann_0..4, then 1_bob_0 (a 520 Hz tone of 0.2 s), the 16th
    expect(test.y[15]).toBe(1);
    for (const j of [0, 100, 479]) expect(test.x[15 * 480 + j]).toBeCloseTo((raw[j] - mean![j % C]) / std![j % C], 3);
  });

  it('a model records its preparation: loading with `like` gives the same numbers from other rates', () => {
    const dir = fsddLike(2, ['ann'], 6);
    const { train } = loadAudioSplits(dir, 'fsdd', { spec });
    const same = tempDir();
    writeFileSync(join(same, '0_ann_5.wav'), clip(0, 0, 5));
    writeFileSync(join(same, '1_ann_5.wav'), clip(1, 0, 5));
    const again = loadAudioFolder(same, { like: train.preprocessing, classNames: train.classNames });
    expect(again.preprocessing).toEqual(train.preprocessing);
    expect(again.x).toEqual(train.x); // 0_ann_5 and 1_ann_5 are the training samples, bit for bit
    // the same tones recorded at 16 kHz are resampled to the spec's 8 kHz first: close, not equal
    // (quiet bands far from the tone hold only quantisation noise, which differs)
    const at16k = tempDir();
    writeFileSync(join(at16k, '0_ann_5.wav'), clip(0, 0, 5, 16000));
    writeFileSync(join(at16k, '1_ann_5.wav'), clip(1, 0, 5, 16000));
    const resampled = loadAudioFolder(at16k, { like: train.preprocessing, classNames: train.classNames });
    let err = 0;
    for (let j = 0; j < resampled.x.length; j++) err += Math.abs(resampled.x[j] - train.x[j]);
    expect(err / resampled.x.length).toBeLessThan(0.05);
    expect(() => loadAudioFolder(at16k, { like: { kind: 'image', inputShape: [2, 2, 1] } })).toThrow(
      `${at16k}: audio data, but the model was trained on image data`,
    );
  });

  it.each(['none', 'mean', 'meanvar'] as const)(
    'prepareWav (predict, serve, browser) gives one clip exactly the row the dataset holds (normalize %s)',
    (normalize) => {
      const dir = fsddLike(2, ['ann', 'bob'], 6);
      const { train, test } = loadAudioSplits(dir, 'fsdd', { spec: { ...spec, normalize } });
      expect(train.preprocessing.audio?.normalize).toBe(normalize); // recorded with the model
      const prep = { audio: train.preprocessing.audio!, mean: train.preprocessing.mean, std: train.preprocessing.std };
      const n = 30 * 16;
      // test order: 0_ann_0..4, 0_bob_0..4, 1_ann_0..4, 1_bob_0..4
      expect(prepareWav(clip(1, 1, 3), prep, '1_bob_3.wav')).toEqual(test.x.subarray(18 * n, 19 * n));
      expect(prepareWav(clip(0, 0, 5), prep, '0_ann_5.wav')).toEqual(train.x.subarray(0, n));
      // a 16 kHz recording is resampled first
      expect(prepareWav(clip(0, 0, 5, 16000), prep, 'hi.wav')).toHaveLength(n);
      expect(() => prepareSamples(new Float32Array(100), 8000, { ...prep, mean: [0] })).toThrow(
        'audio preparation: mean has 1 values for 16 channels',
      );
    },
  );

  it("loadData('fsdd') finds $GRADUATE_DATA_DIR/fsdd/recordings (or the cache) and gives its conventional split", () => {
    const root = tempDir();
    const rec = join(root, 'fsdd', 'recordings');
    mkdirSync(rec, { recursive: true });
    for (const d of [0, 1]) for (const i of [0, 4, 5]) writeFileSync(join(rec, `${d}_ann_${i}.wav`), clip(d, 0, i));
    vi.stubEnv('HOME', tempDir()); // no cache
    vi.stubEnv('GRADUATE_DATA_DIR', root);
    const test = loadData('fsdd', 'test');
    expect(test.size).toBe(4);
    expect(test.preprocessing.kind).toBe('audio');
    expect(loadData('fsdd', 'train').size).toBe(2);
    vi.stubEnv('GRADUATE_DATA_DIR', join(root, 'none'));
    expect(() => loadData('fsdd', 'train')).toThrow('Run `graduate data fetch fsdd` to download it');
  });

  it('loadData dispatches a WAV folder to the audio loader', () => {
    const dir = fsddLike(2, ['ann'], 2);
    const ds = loadData(dir, 'train');
    expect(ds.preprocessing.kind).toBe('audio');
    expect(ds.size).toBe(4);
    expect(ds.sampleShape).toEqual([defaultAudioSpec().frames, 40]);
  });

  it('a checkpoint or artifact input spec of kind audio is checked against its feature spec', () => {
    const fail = (field: string, want: string) => {
      throw new FormatError(`${field} must be ${want}`);
    };
    const ok = {
      kind: 'audio',
      inputShape: [30, 16],
      mean: new Array(16).fill(0),
      std: new Array(16).fill(1),
      audio: spec,
    };
    expect(() => checkInputSpec(ok, 'preprocessing', 'inputShape', fail)).not.toThrow();
    expect(() => checkInputSpec({ ...ok, inputShape: [30, 40] }, 'preprocessing', 'inputShape', fail)).toThrow(
      'preprocessing.inputShape must be [30, 16] ([frames, channels] of the audio spec)',
    );
    expect(() => checkInputSpec({ ...ok, audio: undefined }, 'preprocessing', 'inputShape', fail)).toThrow(
      'preprocessing.audio must be a feature spec object',
    );
    expect(() => checkInputSpec({ ...ok, audio: { ...spec, nFft: 100 } }, 'preprocessing', 'inputShape', fail)).toThrow(
      'nFft must be a power of 2',
    );
  });
});

const FSDD = join(import.meta.dirname, '../../../shared/datasets/fsdd/recordings');

describe.skipIf(!existsSync(FSDD))('the real FSDD folder', () => {
  it('2,500 clips: the fsdd split is 2,250 / 250 (225 / 25 per digit); a holdout speaker is 2,000 / 500', () => {
    const t0 = performance.now();
    const { train, test } = loadAudioSplits(FSDD, 'fsdd');
    const ms = performance.now() - t0;
    console.log(`featurised 2,500 FSDD clips (read + log-mel [98, 40] + standardise) in ${(ms / 1000).toFixed(2)} s`);
    expect([train.size, test.size]).toEqual([2250, 250]);
    expect(train.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const per = (ds: typeof train) => Array.from({ length: 10 }, (_, c) => ds.y.filter((y) => y === c).length);
    expect(per(train)).toEqual(new Array(10).fill(225));
    expect(per(test)).toEqual(new Array(10).fill(25));
    expect((train.x as Float32Array).every(Number.isFinite)).toBe(true);
    const files = listAudioFolder(FSDD);
    expect(audioSpeakers(files)).toEqual(['george', 'jackson', 'lucas', 'nicolas', 'theo']);
    const [tr, te] = splitAudioFiles(files, { holdoutSpeaker: 'theo' });
    expect([tr.length, te.length]).toEqual([2000, 500]);
  });
});
