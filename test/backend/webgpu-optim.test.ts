// The WebGPU optimizer kernels against the reference backend: several steps of SGD (momentum,
// dampening, Nesterov, weight decay, the first step), Adam, AdamW and Adagrad, dense and over the
// rows of a row-sparse gradient (SparseAdam's scalars), on views at odd offsets inside larger
// buffers (the unbound neighbours must not change), with large and tiny values.
// Skipped where no WebGPU adapter exists (test/backend/gpu.ts).
import { describe, expect, it } from 'vitest';
import type { Backend, Buf, RowSet } from '../../src/backend/backend.js';
import { ReferenceBackend } from '../../src/backend/reference.js';
import { rand } from '../helpers.js';
import { gpuBackend } from './gpu.js';

const gpu = gpuBackend('the WebGPU optimizer tests');
const ref = new ReferenceBackend();

/** The state of one case: buffers with `pad` guard elements on both sides of each. */
interface State {
  p: Buf;
  buf: Buf;
  m: Buf;
  v: Buf;
  sum: Buf;
}
const PAD = 3;

/** Runs `steps` on a backend over fresh buffers at element offset PAD; returns every buffer whole. */
function run(
  be: Backend,
  n: number,
  count: number,
  ids: Int32Array | undefined,
  steps: (s: State, g: (step: number) => Buf, rows?: RowSet) => void,
): Record<string, number[]> {
  const owned: Buf[] = [];
  const put = (data: Float32Array): Buf => {
    const b = be.alloc((data.length + 2 * PAD) * 4);
    owned.push(b);
    const guard = Float32Array.from({ length: PAD }, (_, i) => 1000 + i);
    be.write(b, 'float32', [...guard, ...data, ...guard]);
    return b + PAD * 4;
  };
  try {
    const s: State = {
      p: put(rand(n, 1).map((x) => x * 3)),
      buf: put(rand(n, 2)),
      m: put(rand(n, 3).map((x) => x * 0.1)),
      v: put(rand(n, 4).map(Math.abs)),
      sum: put(new Float32Array(n).fill(0.1)),
    };
    const g = (step: number) => put(rand(count, 10 + step));
    let rows: RowSet | undefined;
    if (ids) {
      const b = be.alloc(ids.length * 4 + 4);
      owned.push(b);
      be.write(b, 'int32', ids, 1);
      rows = { ids: b + 4, count: ids.length, width: count / ids.length };
    }
    steps(s, g, rows);
    const out: Record<string, number[]> = {};
    for (const [k, b] of Object.entries(s)) out[k] = Array.from(be.read(b - PAD * 4, 'float32', n + 2 * PAD));
    return out;
  } finally {
    for (const b of owned) be.free(b);
  }
}

function expectAgree(actual: Record<string, number[]>, expected: Record<string, number[]>): void {
  for (const key of Object.keys(expected)) {
    const [a, e] = [actual[key], expected[key]];
    const scale = e.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    for (let i = 0; i < e.length; i++) {
      if (Math.abs(a[i] - e[i]) > 1e-5 * (scale + Math.abs(e[i])))
        expect.fail(`${key}[${i}]: webgpu ${a[i]}, reference ${e[i]}`);
    }
  }
}

function agree(
  n: number,
  count: number,
  ids: Int32Array | undefined,
  steps: (be: Backend, s: State, g: (step: number) => Buf, rows?: RowSet) => void,
): void {
  if (!gpu) return;
  const want = run(ref, n, count, ids, (s, g, r) => steps(ref, s, g, r));
  const got = run(gpu, n, count, ids, (s, g, r) => steps(gpu, s, g, r));
  expectAgree(got, want);
}

describe('webgpu optimizers', () => {
  it.skipIf(!gpu).each([1, 255, 257, 70001])('dense SGD, Adam, AdamW, Adagrad over %i elements', (n) => {
    agree(n, n, undefined, (be, s, g) => {
      for (let step = 1; step <= 3; step++) {
        const sgd = { lr: 0.1, momentum: 0.9, dampening: 0.2, nesterov: step === 2, weightDecay: 0.01 };
        be.sgdStep(s.p, g(step), s.buf, n, { ...sgd, firstStep: step === 1 });
        be.sgdStep(s.p, g(step + 3), 0, n, { ...sgd, momentum: 0, firstStep: false });
        const adam = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, step };
        be.adamStep(s.p, g(step + 6), s.m, s.v, n, { ...adam, decoupled: step !== 2 });
        be.adagradStep(s.p, g(step + 9), s.sum, n, { lr: 0.05, lrDecay: 0.1, eps: 1e-10, weightDecay: 0.02, step });
      }
    });
  });

  it.skipIf(!gpu)('Adam without weight decay on large and tiny gradients', () => {
    const n = 300;
    agree(n, n, undefined, (be, s) => {
      const g = be.alloc(n * 4);
      be.write(
        g,
        'float32',
        rand(n, 7).map((x, i) => x * (i % 3 === 0 ? 1e15 : i % 3 === 1 ? 1e-20 : 1)),
      );
      for (let step = 1; step <= 4; step++)
        be.adamStep(s.p, g, s.m, s.v, n, {
          lr: 0.01,
          beta1: 0.8,
          beta2: 0.99,
          eps: 1e-6,
          weightDecay: 0,
          decoupled: false,
          step,
        });
      be.free(g);
    });
  });

  it.skipIf(!gpu).each([
    { V: 9, width: 1, ids: [4, 0, 8] },
    { V: 40, width: 7, ids: [39, 2, 17, 5, 0, 33] },
    { V: 3000, width: 33, ids: Array.from({ length: 2000 }, (_, i) => (i * 7 + 3) % 3000) },
  ])('row-sparse updates: $ids.length rows of $width out of $V (other rows untouched)', ({ V, width, ids }) => {
    const idv = Int32Array.from(ids);
    agree(V * width, ids.length * width, idv, (be, s, g, rows) => {
      const n = V * width;
      for (let step = 1; step <= 3; step++) {
        const sgd = { lr: 0.1, momentum: 0.5, dampening: 0.1, nesterov: step === 3, weightDecay: 0.01 };
        be.sgdStep(s.p, g(step), s.buf, n, { ...sgd, firstStep: step === 1 }, rows);
        be.sgdStep(s.p, g(step), 0, n, { ...sgd, momentum: 0, firstStep: false }, rows);
        const adam = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step };
        be.adamStep(s.p, g(step + 3), s.m, s.v, n, { ...adam, decoupled: step === 2 }, rows);
        be.adagradStep(
          s.p,
          g(step + 6),
          s.sum,
          n,
          { lr: 0.05, lrDecay: 0.2, eps: 1e-10, weightDecay: 0.1, step },
          rows,
        );
      }
    });
  });
});
