// The wasm backend for training: WasmInferenceBackend (wasm-infer.ts) plus the backward kernels,
// batch statistics, losses and optimizer updates of src/kernels/ — what tensors and autograd run
// on. Needs an engine with the training kernel module (EngineOptions.profile 'train', the default).
import { batchNormBackward, batchNormStats } from '../kernels/batchnorm.js';
import { conv2dBackwardData, conv2dBackwardWeight } from '../kernels/conv.js';
import { axpy, unaryBackward } from '../kernels/elementwise.js';
import { Engine, type EngineOptions } from '../kernels/engine.js';
import { embeddingBagBackward, scatterAdd } from '../kernels/gather.js';
import { gemm } from '../kernels/gemm.js';
import { sliceBackward } from '../kernels/layout.js';
import { adagradStep, adamStep, sgdStep, sumSquares } from '../kernels/optim.js';
import { avgPool2dBackward, globalAvgPoolBackward, maxPool2dBackward } from '../kernels/pooling.js';
import { argmax } from '../kernels/reduce.js';
import { softmaxBackward, softmaxCrossEntropy, softmaxCrossEntropyBackward } from '../kernels/softmax.js';
import type { Backend, Buf, GemmOptions } from './backend.js';
import { WasmInferenceBackend } from './wasm-infer.js';

export class WasmBackend extends WasmInferenceBackend implements Backend {
  static create(opts: EngineOptions = {}): WasmBackend {
    return new WasmBackend(Engine.create(opts));
  }

  unaryBackward: Backend['unaryBackward'] = (fn, x, y, dy, dx, n, alpha) =>
    unaryBackward(this.engine, fn, x, y, dy, dx, n, alpha);
  axpy: Backend['axpy'] = (alpha, x, y, n) => axpy(this.engine, alpha, x, y, n);
  argmax: Backend['argmax'] = (x, rows, cols, out) => argmax(this.engine, x, rows, cols, out);
  softmaxBackward: Backend['softmaxBackward'] = (y, dy, dx, rows, cols, log) =>
    softmaxBackward(this.engine, y, dy, dx, rows, cols, log);
  softmaxCrossEntropy: Backend['softmaxCrossEntropy'] = (logits, labels, rows, cols, loss, probs, smoothing) =>
    softmaxCrossEntropy(this.engine, logits, labels, rows, cols, loss, probs, smoothing);
  softmaxCrossEntropyBackward: Backend['softmaxCrossEntropyBackward'] = (p, l, rows, cols, dLoss, dLogits, s) =>
    softmaxCrossEntropyBackward(this.engine, p, l, rows, cols, dLoss, dLogits, s);
  override gemm(a: Buf, b: Buf, c: Buf, M: number, K: number, N: number, opts: GemmOptions = {}): void {
    gemm(this.engine, a, b, c, M, K, N, opts);
  }
  conv2dBackwardData: Backend['conv2dBackwardData'] = (dy, w, g, dx) => conv2dBackwardData(this.engine, dy, w, g, dx);
  conv2dBackwardWeight: Backend['conv2dBackwardWeight'] = (x, dy, g, dw) =>
    conv2dBackwardWeight(this.engine, x, dy, g, dw);
  maxPool2dBackward: Backend['maxPool2dBackward'] = (dy, am, g, dx) => maxPool2dBackward(this.engine, dy, am, g, dx);
  avgPool2dBackward: Backend['avgPool2dBackward'] = (dy, g, dx) => avgPool2dBackward(this.engine, dy, g, dx);
  globalAvgPoolBackward: Backend['globalAvgPoolBackward'] = (dy, N, HW, C, dx) =>
    globalAvgPoolBackward(this.engine, dy, N, HW, C, dx);
  batchNormStats: Backend['batchNormStats'] = (x, rows, C, mean, v) => batchNormStats(this.engine, x, rows, C, mean, v);
  batchNormBackward: Backend['batchNormBackward'] = (x, dy, rows, C, mean, v, eps, gamma, dx, dg, db) =>
    batchNormBackward(this.engine, x, dy, rows, C, mean, v, eps, gamma, dx, dg, db);
  sliceBackward: Backend['sliceBackward'] = (dy, size, begin, dx, shape) =>
    sliceBackward(this.engine, dy, size, begin, dx, shape);
  scatterAdd: Backend['scatterAdd'] = (dy, D, ids, n, dTable) => scatterAdd(this.engine, dy, D, ids, n, dTable);
  embeddingBagBackward: Backend['embeddingBagBackward'] = (dy, D, ids, B, L, dTable) =>
    embeddingBagBackward(this.engine, dy, D, ids, B, L, dTable);
  sgdStep: Backend['sgdStep'] = (p, g, buf, n, a, rows) => sgdStep(this.engine, p, g, buf, n, a, rows);
  adamStep: Backend['adamStep'] = (p, g, m, v, n, a, rows) => adamStep(this.engine, p, g, m, v, n, a, rows);
  adagradStep: Backend['adagradStep'] = (p, g, sum, n, a, rows) => adagradStep(this.engine, p, g, sum, n, a, rows);
  sumSquares: Backend['sumSquares'] = (x, n) => sumSquares(this.engine, x, n);
}
