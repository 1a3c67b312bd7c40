// Batches of an ArrayDataset as tensors. Every random choice (epoch order, augmentation) is a pure
// function of (seed, epoch, batch), so a run resumed from a checkpoint sees the same batches as
// the run that wrote it. Rows are copied into one reused host buffer and written to wasm memory
// with a single write().
import { ValueError } from '../errors.js';
import { Rng } from '../tensor/random.js';
import { Tensor, write } from '../tensor/tensor.js';
import { type Augment, augmentImage } from './augment.js';
import { type ArrayDataset, sampleSize } from './dataset.js';

export interface LoaderOptions {
  batchSize: number;
  /** Reorder samples every epoch (default false: file order). */
  shuffle?: boolean;
  /** Seed of the epoch orders and augmentations (default 0). */
  seed?: number;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  augment?: Augment;
}

/** Hashes integers into one 32-bit seed (murmur3 finalizer over a running mix). */
export function mixSeed(...parts: number[]): number {
  let h = 0x2545f491;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0xcc9e2d51);
    h = (h << 15) | (h >>> 17);
    h = Math.imul(h, 0x1b873593) ^ 0xe6546b64;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const ORDER = 0x0de4;
const AUGMENT = 0xa06;

export class DataLoader {
  readonly numBatches: number;
  readonly batchSize: number;
  private readonly shuffle: boolean;
  private readonly seed: number;
  private readonly augment?: Augment;
  private readonly pad: number[] = [];
  private readonly rowSize: number;
  private readonly buf: Float32Array | Int32Array; // [batchSize, ...sampleShape]
  private readonly labels: Int32Array; // [batchSize]
  private cached: { epoch: number; order: Int32Array } | null = null;

  constructor(
    readonly ds: ArrayDataset,
    opts: LoaderOptions,
  ) {
    const { batchSize, shuffle = false, seed = 0, dropLast = false, augment } = opts;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new ValueError(`DataLoader(${ds.name}): batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(seed)) throw new ValueError(`DataLoader(${ds.name}): seed must be an integer, got ${seed}`);
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.seed = seed;
    this.numBatches = dropLast ? Math.floor(ds.size / batchSize) : Math.ceil(ds.size / batchSize);
    this.rowSize = sampleSize(ds);
    this.buf =
      ds.x instanceof Int32Array
        ? new Int32Array(batchSize * this.rowSize)
        : new Float32Array(batchSize * this.rowSize);
    this.labels = new Int32Array(batchSize);
    if (augment && (augment.cropPadding || augment.horizontalFlip)) {
      if (ds.preprocessing.kind !== 'image' || ds.sampleShape.length !== 3 || !(ds.x instanceof Float32Array))
        throw new ValueError(`DataLoader(${ds.name}): augment applies to [H, W, C] image datasets only`);
      const p = augment.cropPadding ?? 0;
      if (!Number.isInteger(p) || p < 0)
        throw new ValueError(`DataLoader(${ds.name}): cropPadding must be a non-negative integer, got ${p}`);
      this.augment = augment;
      // a black pixel after normalization: (0 * scale - mean) / std
      const { mean, std } = ds.preprocessing;
      for (let c = 0; c < ds.sampleShape[2]; c++) this.pad.push(mean && std ? -mean[c] / std[c] : 0);
    }
  }

  /** Sample order of epoch `epoch` (0-based): a pure function of (seed, epoch), so a resumed run sees the same batches. */
  order(epoch: number): Int32Array {
    if (!Number.isInteger(epoch) || epoch < 0)
      throw new ValueError(`DataLoader(${this.ds.name}): epoch must be a non-negative integer, got ${epoch}`);
    if (this.cached?.epoch !== epoch) {
      const order = Int32Array.from({ length: this.ds.size }, (_, i) => i);
      if (this.shuffle) new Rng(mixSeed(this.seed, ORDER, epoch)).shuffle(order);
      this.cached = { epoch, order };
    }
    return this.cached.order.slice();
  }

  /**
   * Batch `b` of epoch `epoch` as tensors created in the current tidy scope: x [B, ...sampleShape]
   * (float32, or int32 for text), y int32 [B]. Augmentation randomness is a pure function of (seed, epoch, b).
   */
  batch(epoch: number, b: number): { x: Tensor; y: Tensor; size: number } {
    if (!Number.isInteger(b) || b < 0 || b >= this.numBatches)
      throw new ValueError(`DataLoader(${this.ds.name}): batch ${b} is outside [0, ${this.numBatches})`);
    if (this.cached?.epoch !== epoch) this.order(epoch);
    const order = this.cached!.order;
    const { ds, rowSize, buf, labels } = this;
    const start = b * this.batchSize;
    const size = Math.min(this.batchSize, ds.size - start);
    const rng = this.augment ? new Rng(mixSeed(this.seed, AUGMENT, epoch, b)) : null;
    for (let i = 0; i < size; i++) {
      const j = order[start + i];
      labels[i] = ds.y[j];
      if (rng) {
        augmentImage(
          ds.x as Float32Array,
          j * rowSize,
          buf as Float32Array,
          i * rowSize,
          ds.sampleShape,
          this.augment!,
          this.pad,
          rng,
        );
      } else {
        buf.set(ds.x.subarray(j * rowSize, (j + 1) * rowSize), i * rowSize);
      }
    }
    const x = new Tensor([size, ...ds.sampleShape], buf instanceof Int32Array ? 'int32' : 'float32');
    write(x, buf.subarray(0, size * rowSize));
    const y = new Tensor([size], 'int32');
    write(y, labels.subarray(0, size));
    return { x, y, size };
  }
}
