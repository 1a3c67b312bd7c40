// The WebGPU reduce family against the reference backend: axis reductions of every layout (row and
// column mode, alternating axis groups up to rank 6, reductions long enough to split into parts
// and re-reduce the partials, empty axes giving the identity), argmax ties and NaN across lanes,
// Σx² to 1e-12 over magnitudes from 1e-30 to 1e30, softmax / log-softmax / backward / cross-entropy
// on rows of 1, 10 and 30,000 with ±1e30 and -Infinity logits, in place. Views with guards
// (gpu-compare.ts) catch writes outside an output. Skipped where no WebGPU adapter exists.
import { describe, expect, it } from 'vitest';
import type { ReduceFn } from '../../src/backend/backend.js';
import { ReferenceBackend } from '../../src/backend/reference.js';
import { ValueError } from '../../src/errors.js';
import { rand } from '../helpers.js';
import { gpuBackend } from './gpu.js';
import { agreeOn } from './gpu-compare.js';

const gpu = gpuBackend('the WebGPU reduce tests');
const ref = new ReferenceBackend();

function numel(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

describe.skipIf(!gpu)('webgpu reduce family', () => {
  const g = gpu as NonNullable<typeof gpu>;

  const CASES: [string, number[], number[]][] = [
    ['row, split into parts', [1, 100_003], [1]],
    ['column, split into parts', [50_001, 3], [0]],
    ['all axes, split twice', [3, 70_001], [0, 1]],
    ['many short rows', [4099, 10], [1]],
    ['middle axis', [7, 301, 33], [1]],
    ['alternating axes, rank 6', [2, 3, 4, 5, 3, 2], [0, 2, 4]],
    ['alternating axes, innermost reduced', [3, 2, 5, 4, 3, 7], [1, 3, 5]],
    ['size-1 axes', [1, 9, 1, 13], [0, 2, 3]],
    ['no axes', [5, 7], []],
  ];
  const FNS: ReduceFn[] = ['sum', 'mean', 'max'];
  it.each(FNS.flatMap((fn) => CASES.map(([what, shape, axes]) => ({ fn, what, shape, axes }))))(
    'reduce $fn: $what $shape over $axes',
    ({ fn, shape, axes }) => {
      const x = rand(numel(shape), 31);
      const outN = numel(shape.filter((_, k) => !axes.includes(k)));
      agreeOn(g, ref, (io) => io.be.reduce(fn, io.put(x), shape, axes, io.out('out', outN)));
    },
  );

  it('reduce of ±1e30 and of 1e-30 values, and NaN propagating through sum and max', () => {
    const shape = [37, 1025];
    const n = numel(shape);
    const big = rand(n, 32).map((v) => v * 1e30);
    const tiny = rand(n, 33).map((v) => v * 1e-30);
    const nan = rand(n, 34);
    nan[5 * 1025 + 700] = Number.NaN;
    nan[20_000] = Number.NaN; // column 525 of row 19
    for (const fn of FNS)
      for (const axes of [[1], [0]])
        agreeOn(g, ref, (io) => {
          const outN = numel(shape.filter((_, k) => !axes.includes(k)));
          io.be.reduce(fn, io.put(big), shape, axes, io.out('big', outN));
          io.be.reduce(fn, io.put(tiny), shape, axes, io.out('tiny', outN));
          io.be.reduce(fn, io.put(nan), shape, axes, io.out('nan', outN));
        });
  });

  it('an empty reduced axis gives the identity (sum 0, mean NaN, max -Infinity); an empty output writes nothing', () => {
    for (const fn of FNS)
      agreeOn(g, ref, (io) => {
        io.be.reduce(fn, io.put([]), [3, 0, 4], [1], io.out('identity', 12));
        io.be.reduce(fn, io.put([]), [0, 5], [1], io.out('none', 0));
      });
  });

  it('rejects invalid axes naming them and the shape', () => {
    const x = g.alloc(60);
    expect(() => g.reduce('sum', x, [3, 5], [2], x)).toThrow(ValueError);
    expect(() => g.reduce('sum', x, [3, 5], [0, 0], x)).toThrow(/axes \[0, 0\] invalid for shape/);
    g.free(x);
  });

  it('argmax: ties across lanes take the first, NaN loses, all-NaN gives 0, -Infinity rows, rows of 1 and 30,000', () => {
    for (const [rows, cols] of [
      [700, 1],
      [300, 10],
      [3, 30_000],
    ]) {
      const x = rand(rows * cols, 35).map((v) => Math.round(v * 2));
      x.fill(Number.NaN, 0, cols); // row 0 all NaN
      x.fill(7, cols, 2 * cols); // row 1 all tied
      x.fill(Number.NEGATIVE_INFINITY, 2 * cols, 3 * cols); // row 2 -Infinity, a NaN first
      x[2 * cols] = Number.NaN;
      if (rows > 3) x[4 * cols - 1] = 9; // row 3's max in its last column
      agreeOn(g, ref, (io) => io.be.argmax(io.put(x), rows, cols, io.out('out', rows, 'int32')), 'exact');
    }
  });

  it('sumSquares to 1e-12: 1e6 values, magnitudes from 1e-30 to 1e30, all tiny, all huge', () => {
    const n = 1_000_003;
    const mixed = rand(n, 36).map((v, i) => v * 10 ** (((i * 7) % 61) - 30));
    const inputs = {
      plain: rand(n, 37),
      mixed,
      tiny: rand(5000, 38).map((v) => v * 1e-30),
      huge: rand(5000, 39).map((v) => v * 1e30),
      one: Float32Array.of(3),
    };
    for (const [what, x] of Object.entries(inputs)) {
      const [bg, br] = [g.alloc(x.length * 4), ref.alloc(x.length * 4)];
      g.write(bg, 'float32', x);
      ref.write(br, 'float32', x);
      const [a, e] = [g.sumSquares(bg, x.length), ref.sumSquares(br, x.length)];
      expect(Math.abs(a - e), `${what}: webgpu ${a}, reference ${e}`).toBeLessThanOrEqual(1e-12 * e);
      g.free(bg);
      ref.free(br);
    }
  });

  it('rows past 65,535 workgroups (the grid folds into y): softmax of 1-element rows is 1 in every row', () => {
    const rows = 65_535 * 256 + 300;
    const x = g.alloc(rows * 4);
    g.fill(x, rows, 5);
    g.softmax(x, rows, 1, x, false);
    const y = g.read(x, 'float32', rows);
    g.free(x);
    expect(y.every((v) => v === 1)).toBe(true);
  });

  const ROWS = [
    [700, 1],
    [1000, 10],
    [33, 257],
    [3, 30_000],
  ];
  it.each(ROWS.flatMap(([rows, cols]) => [false, true].map((log) => ({ rows, cols, log }))))(
    'softmax (log $log) of $rows x $cols: ±1e30 and -Infinity logits, in place, and its backward',
    ({ rows, cols, log }) => {
      const x = rand(rows * cols, 40).map((v) => v * 30);
      x.fill(Number.NEGATIVE_INFINITY, 0, Math.ceil(cols / 2)); // row 0 masked in its first half
      x[cols] = 1e30; // row 1: one huge logit
      if (cols > 1) x[cols + 1] = -1e30;
      const dy = rand(rows * cols, 41);
      agreeOn(g, ref, (io) => {
        const xb = io.put(x);
        const y = io.out('y', rows * cols);
        io.be.softmax(xb, rows, cols, y, log);
        const inPlace = io.out('inPlace', rows * cols);
        io.be.copy(xb, inPlace, rows * cols);
        io.be.softmax(inPlace, rows, cols, inPlace, log);
        const dyb = io.put(dy);
        io.be.softmaxBackward(y, dyb, io.out('dx', rows * cols), rows, cols, log);
        io.be.softmaxBackward(y, dyb, dyb, rows, cols, log); // dx over dy
        const dxInPlace = io.out('dxInPlace', rows * cols);
        io.be.copy(dyb, dxInPlace, rows * cols);
      });
    },
  );

  it.each(ROWS.flatMap(([rows, cols]) => [0, 0.1].map((smoothing) => ({ rows, cols, smoothing }))))(
    'softmaxCrossEntropy and backward of $rows x $cols, smoothing $smoothing, large logits, a label out of range',
    ({ rows, cols, smoothing }) => {
      const logits = rand(rows * cols, 42).map((v) => v * 20);
      logits[cols] = 1e30;
      const labels = Int32Array.from(rand(rows, 43), (v) => Math.floor(((v + 1) / 2) * cols));
      labels[2] = -1;
      const dLoss = rand(rows, 44);
      agreeOn(g, ref, (io) => {
        const [lab, probs] = [io.put(labels, 'int32'), io.out('probs', rows * cols)];
        io.be.softmaxCrossEntropy(io.put(logits), lab, rows, cols, io.out('loss', rows), probs, smoothing);
        io.be.softmaxCrossEntropyBackward(
          probs,
          lab,
          rows,
          cols,
          io.put(dLoss),
          io.out('dLogits', rows * cols),
          smoothing,
        );
      });
    },
  );
});
