// Fashion-MNIST: the real files when the Debian package is installed (CI has it), generated
// files for the format checks, and errors that name the file or the folders searched.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { DataLoader, FASHION_MNIST_CLASSES, loadFashionMnist, readIdx } from '../../src/data/index.js';
import { FormatError } from '../../src/errors.js';
import { memoryStats, tidy } from '../../src/index.js';
import { fakeMnist, idxU8, tempDir } from './helpers.js';

const SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';
const haveSystem = existsSync(join(SYSTEM_DIR, 'train-images-idx3-ubyte.gz'));

describe.skipIf(!haveSystem)(
  `Fashion-MNIST from ${SYSTEM_DIR} (runs where the Debian package dataset-fashion-mnist is installed)`,
  () => {
    it('loads 60000 training images as normalized [28, 28, 1] floats with labels 0..9', () => {
      const ds = loadFashionMnist('train', { dir: SYSTEM_DIR });
      expect(ds.size).toBe(60000);
      expect(ds.sampleShape).toEqual([28, 28, 1]);
      expect(ds.x).toBeInstanceOf(Float32Array);
      expect(ds.x.length).toBe(60000 * 784);
      expect(ds.y.length).toBe(60000);
      expect(ds.classNames).toEqual(FASHION_MNIST_CLASSES);
      expect(ds.name).toBe('fashion-mnist/train');
      expect(ds.preprocessing).toEqual({
        kind: 'image',
        inputShape: [28, 28, 1],
        scale: 1 / 255,
        mean: [0.286],
        std: [0.353],
      });
      const perClass = new Array(10).fill(0);
      for (const l of ds.y) perClass[l]++;
      expect(perClass).toEqual(new Array(10).fill(6000)); // the training set is balanced
      // x = (pixel / 255 - 0.2860) / 0.3530, checked against the raw bytes
      const raw = readIdx(join(SYSTEM_DIR, 'train-images-idx3-ubyte.gz')).data;
      for (const i of [0, 1234, 47_000_000 - 1, 60000 * 784 - 1]) {
        expect(ds.x[i]).toBeCloseTo((raw[i] / 255 - 0.286) / 0.353, 5);
      }
      let sum = 0;
      for (const v of ds.x) sum += v;
      expect(Math.abs(sum / ds.x.length)).toBeLessThan(0.01); // the recorded mean is the data's
    });

    it('batches of 256 with augmentation have the right shapes and leave memory flat', () => {
      const ds = loadFashionMnist('train', { limit: 10000 });
      const loader = new DataLoader(ds, {
        batchSize: 256,
        shuffle: true,
        seed: 1,
        augment: { cropPadding: 2, horizontalFlip: true },
      });
      tidy(() => loader.batch(0, 0));
      const live = memoryStats().liveBytes;
      for (let b = 0; b < 20; b++) {
        tidy(() => {
          const { x, y } = loader.batch(0, b);
          expect(x.shape).toEqual([256, 28, 28, 1]);
          expect(y.shape).toEqual([256]);
        });
      }
      expect(memoryStats().liveBytes).toBe(live); // speed is the benchmarks' business, not a unit test's
    });

    it('loads the test split, and a prefix with limit', () => {
      const test = loadFashionMnist('test');
      expect(test.size).toBe(10000);
      expect(test.name).toBe('fashion-mnist/test');
      const few = loadFashionMnist('test', { limit: 100 });
      expect(few.size).toBe(100);
      expect(few.x.length).toBe(100 * 784);
      expect(Array.from(few.y)).toEqual(Array.from(test.y.subarray(0, 100)));
      expect(Array.from(few.x.subarray(0, 784))).toEqual(Array.from(test.x.subarray(0, 784)));
    });
  },
);

describe('Fashion-MNIST files', () => {
  it('reads plain (not gzip’d) files from a given folder', () => {
    const dir = tempDir();
    const { labels } = fakeMnist(3);
    writeFileSync(
      join(dir, 't10k-images-idx3-ubyte'),
      idxU8(
        [3, 4, 4],
        Array.from({ length: 48 }, (_, i) => i * 5),
        true,
      ),
    );
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), labels);
    const ds = loadFashionMnist('test', { dir });
    expect(ds.sampleShape).toEqual([4, 4, 1]);
    expect(Array.from(ds.y)).toEqual([0, 1, 2]);
    expect(ds.x[1]).toBeCloseTo((5 / 255 - 0.286) / 0.353, 5);
  });

  it('searches $GRADUATE_DATA_DIR/fashion-mnist first', () => {
    const root = tempDir();
    mkdirSync(join(root, 'fashion-mnist'));
    const { images, labels } = fakeMnist(7);
    writeFileSync(join(root, 'fashion-mnist', 't10k-images-idx3-ubyte.gz'), images);
    writeFileSync(join(root, 'fashion-mnist', 't10k-labels-idx1-ubyte.gz'), labels);
    vi.stubEnv('GRADUATE_DATA_DIR', root);
    try {
      expect(loadFashionMnist('test').size).toBe(7);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('a missing folder is a FormatError listing the paths tried and suggesting the fetch command', () => {
    const dir = join(tempDir(), 'nowhere');
    const err = (() => {
      try {
        loadFashionMnist('train', { dir });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(FormatError);
    expect(err?.message).toContain(join(dir, 'train-images-idx3-ubyte'));
    expect(err?.message).toContain(join(dir, 'train-labels-idx1-ubyte'));
    expect(err?.message).toContain('graduate data fetch fashion-mnist');
  });

  it('a truncated IDX file is a FormatError naming it', () => {
    const dir = tempDir();
    const { images, labels } = fakeMnist(5);
    const raw = idxU8([5, 4, 4], new Uint8Array(80), true);
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), raw.subarray(0, raw.length - 7));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), labels);
    const file = join(dir, 'train-images-idx3-ubyte');
    expect(() => loadFashionMnist('train', { dir })).toThrow(FormatError);
    expect(() => loadFashionMnist('train', { dir })).toThrow(`${file}: IDX uint8[5, 4, 4] needs 96 bytes, file has 89`);
    // a cut gzip stream
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), images.subarray(0, 20));
    expect(() => loadFashionMnist('train', { dir })).toThrow(`${file}.gz: corrupt gzip stream`);
  });

  it('mismatched counts and wrong ranks are FormatErrors naming the file', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), fakeMnist(5).images);
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), fakeMnist(4).labels);
    expect(() => loadFashionMnist('train', { dir })).toThrow(
      `${join(dir, 'train-labels-idx1-ubyte.gz')}: 4 labels for 5 images`,
    );
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), idxU8([5, 1], [0, 1, 2, 3, 4]));
    expect(() => loadFashionMnist('train', { dir })).toThrow(
      `${join(dir, 'train-labels-idx1-ubyte.gz')}: expected uint8 labels [N], got rank 2`,
    );
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), idxU8([5], [0, 1, 2, 3, 10]));
    expect(() => loadFashionMnist('train', { dir })).toThrow(/label 10 at index 4/);
  });
});
