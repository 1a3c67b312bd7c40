// The WebGPU convolution kernels (implicit GEMMs through the tile kernel) against the reference
// backend: forward with every epilogue, prepared f32 and f16 weights, and both backward passes, on
// strides 1–3 (dx one GEMM per stride phase, phases no tap meets), asymmetric and wide padding
// (windows reading only padding), 1×1 and wide kernels, one channel, output pixels past one tile,
// and a weight gradient long enough to split K.
// Buffers are views at odd offsets with guards (gpu-compare.ts). Skipped where no WebGPU adapter
// exists (test/backend/gpu.ts).
import { describe, expect, it } from 'vitest';
import type { Backend, Epilogue, EpilogueActivation } from '../../src/backend/backend.js';
import { ReferenceBackend } from '../../src/backend/reference.js';
import { prepareWeightsF16 } from '../../src/backend/webgpu/gemm.js';
import { ShapeError } from '../../src/errors.js';
import { fromHalf, toHalf } from '../../src/shape/half.js';
import { type Conv2dGeometry, conv2dGeometry, type Padding } from '../../src/shape/window.js';
import { rand } from '../helpers.js';
import { gpuBackend } from './gpu.js';
import { agreeOn, type Io } from './gpu-compare.js';

const gpu = gpuBackend('the WebGPU conv tests');
const ref = new ReferenceBackend();

const inSize = (g: Conv2dGeometry) => g.N * g.H * g.W * g.C;
const outSize = (g: Conv2dGeometry) => g.N * g.OH * g.OW * g.OC;
const wSize = (g: Conv2dGeometry) => g.KH * g.KW * g.C * g.OC;

const CASES: { x: number[]; w: number[]; stride: number | [number, number]; padding: Padding; what: string }[] = [
  { x: [2, 7, 9, 3], w: [3, 3, 3, 5], stride: 1, padding: 'same', what: 'same padding' },
  { x: [2, 13, 11, 3], w: [3, 3, 3, 17], stride: 2, padding: [1, 0, 2, 1], what: 'stride 2, asymmetric' },
  { x: [1, 7, 7, 5], w: [1, 1, 5, 7], stride: 1, padding: 'valid', what: '1×1' },
  { x: [3, 9, 8, 2], w: [5, 3, 2, 4], stride: [2, 1], padding: [2, 1, 0, 1], what: 'wide kernel, strides 2×1' },
  { x: [1, 5, 5, 1], w: [2, 2, 1, 3], stride: 1, padding: 3, what: 'one channel, windows of padding only' },
  { x: [2, 10, 11, 6], w: [3, 4, 6, 9], stride: 3, padding: [0, 2, 1, 1], what: 'stride 3' },
  {
    x: [2, 7, 8, 2],
    w: [1, 2, 2, 3],
    stride: [2, 3],
    padding: 'valid',
    what: 'kernel narrower than the stride: dx 0 where no output reads',
  },
  { x: [2, 12, 12, 20], w: [3, 3, 20, 70], stride: 1, padding: 'same', what: 'M and N past one tile, K = 180' },
];

const EPILOGUES: {
  name: string;
  bias?: boolean;
  residual?: boolean;
  accumulate?: boolean;
  act?: EpilogueActivation;
}[] = [
  { name: 'plain' },
  { name: 'bias + relu', bias: true, act: 'relu' },
  { name: 'residual (ldr = OC + 3) + gelu', residual: true, act: 'gelu' },
  { name: 'accumulate + bias + sigmoid', accumulate: true, bias: true, act: 'sigmoid' },
  { name: 'leakyRelu', act: 'leakyRelu' },
  { name: 'bias + residual + tanh', bias: true, residual: true, act: 'tanh' },
];

function epilogueOf(io: Io, e: (typeof EPILOGUES)[number], M: number, N: number): Epilogue {
  const ep: Epilogue = { accumulate: e.accumulate, activation: e.act };
  if (e.bias) ep.bias = io.put(rand(N, 41));
  if (e.residual) {
    ep.residual = io.put(rand(M * (N + 3), 42));
    ep.ldr = N + 3;
  }
  return ep;
}

describe.skipIf(!gpu)('webgpu conv', () => {
  const g_ = gpu as Backend;
  const cases = CASES.map((c) => ({ ...c, g: conv2dGeometry(c.x, c.w, c.stride, c.padding) }));

  it.each(cases)('conv2d, every epilogue: x $x w $w stride $stride padding $padding ($what)', ({ g }) => {
    const [x, w] = [rand(inSize(g), 31), rand(wSize(g), 32)];
    for (const e of EPILOGUES)
      agreeOn(g_, ref, (io) => {
        const out = io.out(`out (${e.name})`, outSize(g));
        io.be.conv2d(io.put(x), io.put(w), g, out, epilogueOf(io, e, g.N * g.OH * g.OW, g.OC));
      });
  });

  it.each(cases)('conv2dPrepared, f32 and f16 weights: x $x w $w ($what)', ({ g }) => {
    const K = g.KH * g.KW * g.C;
    const [x, w] = [rand(inSize(g), 33), rand(wSize(g), 34)];
    const rounded = w.map((v) => fromHalf(toHalf(v)));
    const M = g.N * g.OH * g.OW;
    agreeOn(g_, ref, (io) => {
      const p = io.be.prepareWeights(w, K, g.OC);
      const out = io.out('out', outSize(g));
      io.be.conv2dPrepared(io.put(x), p, g, out, epilogueOf(io, EPILOGUES[5], M, g.OC));
      io.be.release(p);
    });
    agreeOn(g_, ref, (io) => {
      const p =
        io.be === g_ && gpu ? prepareWeightsF16(gpu.kernels, w, K, g.OC) : io.be.prepareWeights(rounded, K, g.OC);
      const out = io.out('out f16', outSize(g));
      io.be.conv2dPrepared(io.put(x), p, g, out, epilogueOf(io, EPILOGUES[1], M, g.OC));
      io.be.release(p);
    });
  });

  it.each(cases)('conv2dBackwardData and conv2dBackwardWeight: x $x w $w ($what)', ({ g }) => {
    const [x, w, dy] = [rand(inSize(g), 35), rand(wSize(g), 36), rand(outSize(g), 37)];
    agreeOn(g_, ref, (io) => {
      const [dx, dw] = [io.out('dx', inSize(g)), io.out('dw', wSize(g))];
      io.be.conv2dBackwardData(io.put(dy), io.put(w), g, dx);
      io.be.conv2dBackwardWeight(io.put(x), io.put(dy), g, dw);
    });
  });

  it('conv2dBackwardWeight over many output pixels (split K: 4·24·24 = 2304) and huge / tiny inputs', () => {
    const g = conv2dGeometry([4, 24, 24, 3], [3, 3, 3, 8], 1, 'same');
    const [x, dy] = [rand(inSize(g), 38), rand(outSize(g), 39)];
    agreeOn(
      g_,
      ref,
      (io) => {
        const dw = io.out('dw', wSize(g));
        io.be.conv2dBackwardWeight(io.put(x), io.put(dy), g, dw);
        const dwHuge = io.out('dw huge', wSize(g));
        io.be.conv2dBackwardWeight(io.put(x.map((v) => v * 1e18)), io.put(dy), g, dwHuge);
        const yTiny = io.out('y tiny', outSize(g));
        io.be.conv2d(io.put(x.map((v) => v * 1e-30)), io.put(rand(wSize(g), 40)), g, yTiny);
      },
      2e-5,
    );
  });

  it('prepared weights of the wrong size are a ShapeError naming both shapes', () => {
    const g = conv2dGeometry([1, 5, 5, 2], [3, 3, 2, 4], 1, 'valid');
    const p = g_.prepareWeights(new Float32Array(18 * 5), 18, 5);
    const [x, y] = [g_.alloc(inSize(g) * 4), g_.alloc(outSize(g) * 4)];
    expect(() => g_.conv2dPrepared(x, p, g, y)).toThrow(ShapeError);
    expect(() => g_.conv2dPrepared(x, p, g, y)).toThrow(/\[18, 5\].*\[18, 4\]/);
    g_.release(p);
    g_.free(x);
    g_.free(y);
  });
});
