// The inference session: loads a graph into an engine (weights pre-packed once into the kernels'
// layouts), plans memory statically for a maximum batch, and runs batches with no allocation of
// its own per call. The constructor runs validateGraph once (a graph may be built by hand, not
// only read by readArtifact), so the kernels below rely on its checks — op inputs, attributes,
// shapes, dtypes, quantization — without repeating them; the session itself checks only its own
// arguments (maxBatch, tile, run's batch and input).
// Imports only kernels/ and graph/: no training code.
import { ShapeError, ValueError } from '../errors.js';
import {
  type Constant,
  consumers,
  firstBadTokenId,
  floatData,
  type Graph,
  type Node,
  numel,
  type QuantParams,
  tokenIdLimit,
} from '../graph/ir.js';
import { type MemoryPlan, planMemory } from '../graph/plan.js';
import { MEMORY_LIMIT_BYTES, validateGraph } from '../graph/validate.js';
import { batchNormForward } from '../kernels/batchnorm.js';
import { conv2dPacked } from '../kernels/conv.js';
import { binary, unary } from '../kernels/elementwise.js';
import { Engine, type EngineOptions } from '../kernels/engine.js';
import type { Activation } from '../kernels/exports.js';
import { type Epilogue, freePacked, gemmPacked, type PackedB, packB } from '../kernels/gemm.js';
import {
  conv2dC1Int8,
  conv2dInt8,
  conv2dPoolInt8,
  conv2dWinogradInt8,
  convC1Applies,
  dequantize,
  freePackedB8,
  freePackedWino8,
  gemmInt8,
  globalAvgPoolInt8,
  type Int8Epilogue,
  maxPool2dInt8,
  type PackedB8,
  type PackedC1,
  type PackedWino8,
  packB8,
  packConvC1,
  packWinograd8,
  quantize,
  winogradApplies,
} from '../kernels/int8.js';
import { avgPool2d, globalAvgPool, maxPool2d } from '../kernels/pooling.js';
import { softmax } from '../kernels/softmax.js';
import type { Conv2dGeometry } from '../shape/window.js';

export interface SessionOptions {
  /** Largest batch run() accepts. Default 256. */
  maxBatch?: number;
  /**
   * Samples per pass through the graph; the memory plan is sized for it and run() takes larger
   * batches tile by tile. Default: the most (up to maxBatch, a multiple of 4 when over 4) whose
   * activations fit in TILE_BYTES, so they stay in cache from one layer to the next.
   */
  tile?: number;
  /** Fuse int8 conv → 2×2 max pool pairs into one kernel (default true; the result is identical). */
  fuse?: boolean;
  /**
   * int8 3x3 / stride-1 convolutions by Winograd F(2x2, 3x3) (default true; exact: the result is
   * identical, with 16 multiplies per 2x2 output tile instead of 36).
   */
  winograd?: boolean;
  /** Engine to run on (default: one shared engine per process, created on first use). */
  engine?: Engine;
  engineOptions?: EngineOptions;
}

let sharedEngine: Engine | undefined;

/**
 * Activation bytes one pass may use. Layer by layer over a whole batch of 256, the activations
 * leave the caches between layers; in tiles of a few samples they stay in L2 (measured on the
 * Fashion-MNIST CNN, int8: 145 µs/sample in tiles of 4 vs 169-215 µs at batch 64-256).
 */
const TILE_BYTES = 384 << 10;

const ACT: Record<string, Activation> = {
  none: 'none',
  relu: 'relu',
  leakyrelu: 'leakyRelu',
  sigmoid: 'sigmoid',
  tanh: 'tanh',
  gelu: 'gelu',
};

type Step = (N: number) => void;

export class Session {
  readonly engine: Engine;
  readonly maxBatch: number;
  /** Samples per pass (the plan's batch). */
  readonly tile: number;
  readonly plan: MemoryPlan;
  /** Per-sample shapes of the input and output. */
  readonly inputShape: readonly number[];
  /** Token ids of an int32 input lie in [-1, tokenIds) (tokenIdLimit); checked per run, never read past the table. */
  private readonly tokenIds: number | undefined;
  readonly outputShape: readonly number[];
  private arena = -1;
  private readonly owned: number[] = [];
  private readonly packed: PackedB[] = [];
  private readonly packed8: PackedB8[] = [];
  private readonly packedWino: PackedWino8[] = [];
  private readonly winograd: boolean;
  private readonly constPtr = new Map<string, number>();
  private readonly steps: Step[] = [];
  private readonly stepNames: string[] = [];
  private disposed = false;

  /** The graph as run: the loaded graph with conv→2×2-maxpool pairs fused (fuseConvPool). */
  readonly graph: Graph;
  /** Fused conv nodes → the conv's own output value (its geometry). */
  private readonly pooled: Map<string, string>;

  constructor(graph: Graph, opts: SessionOptions = {}) {
    // once per session: ~40 µs of structure on the CNN preset plus one pass over the float weights
    // (the non-finite scan), against ~0.2-0.3 ms (float) and ~7 ms (int8) to construct
    validateGraph(graph, 'Session');
    if (!opts.engine && !sharedEngine) sharedEngine = Engine.create({ profile: 'infer', ...opts.engineOptions });
    this.engine = opts.engine ?? (sharedEngine as Engine);
    this.maxBatch = opts.maxBatch ?? 256;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1)
      throw new ValueError(`Session: maxBatch must be a positive integer, got ${this.maxBatch}`);
    this.inputShape = graph.values[graph.inputs[0]].shape.slice(1);
    this.tokenIds = tokenIdLimit(graph);
    this.outputShape = graph.values[graph.outputs[0]].shape.slice(1);
    ({ graph: this.graph, pooled: this.pooled } =
      opts.fuse === false ? { graph, pooled: new Map() } : fuseConvPool(graph));
    graph = this.graph;
    this.winograd = opts.winograd ?? true;
    this.tile = opts.tile ?? defaultTile(graph, this.maxBatch);
    if (!Number.isInteger(this.tile) || this.tile < 1 || this.tile > this.maxBatch)
      throw new ValueError(`Session: tile must be an integer in [1, ${this.maxBatch}] (maxBatch), got ${this.tile}`);
    this.plan = planMemory(graph, this.tile);
    const weights = Object.values(graph.constants).reduce((s, c) => s + c.data.byteLength, 0);
    const need = `${this.plan.arenaBytes} bytes of activations (input [${this.inputShape.join(', ')}] × tile ${this.tile}) and ${weights} bytes of weights`;
    if (this.plan.arenaBytes + weights > MEMORY_LIMIT_BYTES)
      throw new ValueError(`Session: out of memory: the graph needs ${need}, more than ${MEMORY_LIMIT_BYTES} bytes`);
    try {
      this.arena = this.engine.alloc(Math.max(this.plan.arenaBytes, 64));
      for (const n of graph.nodes) {
        const s = this.compileNode(n);
        if (s) {
          this.steps.push(s);
          this.stepNames.push(n.name);
        }
      }
    } catch (e) {
      this.dispose();
      // the engine's memory is shared with other sessions: what is left may not hold this one
      if (e instanceof RangeError && /out of wasm memory/.test(e.message))
        throw new ValueError(`Session: out of memory: the graph needs ${need} (${e.message})`);
      throw e;
    }
  }

  /**
   * Byte address of a value in the arena. After run() it holds the last tile's samples only: to
   * read intermediate values of a whole batch, create the session with tile = maxBatch.
   */
  ptr(value: string): number {
    return this.arena + (this.plan.offsets.get(value) as number);
  }

  private constant(name: string): number {
    let p = this.constPtr.get(name);
    if (p === undefined) {
      const c0 = this.graph.constants[name] as Constant;
      const data = c0.dtype === 'float16' ? floatData(c0) : c0.data;
      p = this.engine.alloc(data.byteLength);
      this.engine.u8.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), p);
      this.constPtr.set(name, p);
      this.owned.push(p);
    }
    return p;
  }

  /** Weights [..., Cin, Cout] packed once as the GEMM's B[K = prod(...Cin), N = Cout]. */
  private packWeights(name: string): PackedB {
    const c = this.graph.constants[name];
    const N = c.shape[c.shape.length - 1];
    const K = c.data.length / N;
    const tmp = this.engine.alloc(c.data.length * 4);
    this.engine.f32.set(floatData(c), tmp >> 2);
    const p = packB(this.engine, tmp, K, N);
    this.engine.free(tmp);
    this.packed.push(p);
    return p;
  }

  /** int8 weights [..., Cin, Cout] (per-channel scales) packed once for the int8 GEMM. */
  private packWeights8(name: string): PackedB8 {
    const c = this.graph.constants[name];
    const N = c.shape[c.shape.length - 1];
    const p = packB8(this.engine, this.constant(name), c.data.length / N, N, c.quant?.scale ?? []);
    this.packed8.push(p);
    return p;
  }

  /** int8 single-channel weights [KH, KW, 1, OC] packed once for conv2dC1Int8. */
  private packC1(name: string): PackedC1 {
    const c = this.graph.constants[name];
    const [KH, KW, , OC] = c.shape;
    const p = packConvC1(this.engine, c.data as Int8Array, KH, KW, OC, c.quant?.scale ?? []);
    this.packed8.push(p.b);
    return p;
  }

  /** int8 3x3 weights [3, 3, C, OC] transformed and packed once for the Winograd convolution. */
  private packWino8(name: string): PackedWino8 {
    const c = this.graph.constants[name];
    const [, , C, OC] = c.shape;
    const p = packWinograd8(this.engine, c.data as Int8Array, C, OC, c.quant?.scale ?? []);
    this.packedWino.push(p);
    return p;
  }

  /** Input quantization and output epilogue of an int8 conv2d/linear node. */
  private int8Parts(n: Node & { op: 'conv2d' | 'linear' }): { sx: number; zx: number; ep: Int8Epilogue } {
    // validated: an int8 input with quantization, a ReLU-or-none epilogue, no residual
    const xq = this.graph.values[n.inputs[0]].quant as QuantParams;
    const y = this.graph.values[n.output];
    const out: Int8Epilogue['out'] =
      y.dtype === 'int8' && y.quant
        ? { kind: 'int8', scale: y.quant.scale[0], zeroPoint: y.quant.zeroPoint[0] }
        : { kind: 'float32' };
    const bias = n.inputs[2] ? this.constant(n.inputs[2]) : undefined;
    return {
      sx: xq.scale[0],
      zx: xq.zeroPoint[0],
      ep: { bias, relu: n.attrs.activation === 'relu', out },
    };
  }

  private compileNode(n: Node): Step | undefined {
    const e = this.engine;
    const g = this.graph;
    const shape = (v: string) => g.values[v].shape;
    const x = () => this.ptr(n.inputs[0]);
    const out = this.ptr(n.output);
    const per = (v: string) => numel(shape(v).slice(1));
    const xp = x();
    const int8In = g.values[n.inputs[0]]?.dtype === 'int8';
    switch (n.op) {
      case 'conv2d': {
        const convOut = this.pooled.get(n.name);
        const geo = windowGeometry(g, n, g.constants[n.inputs[1]].shape, convOut);
        if (g.constants[n.inputs[1]].dtype === 'int8') {
          const { sx, zx, ep } = this.int8Parts(n);
          const pool = convOut !== undefined;
          if (convC1Applies(e, geo(1))) {
            const w = this.packC1(n.inputs[1]);
            return (N) => conv2dC1Int8(e, xp, sx, zx, w, geo(N), out, ep, pool);
          }
          if (this.winograd && winogradApplies(geo(1))) {
            const w = this.packWino8(n.inputs[1]);
            return (N) => conv2dWinogradInt8(e, xp, sx, zx, w, geo(N), out, ep, pool);
          }
          const w = this.packWeights8(n.inputs[1]);
          if (convOut) return (N) => conv2dPoolInt8(e, xp, sx, zx, w, geo(N), out, ep);
          return (N) => conv2dInt8(e, xp, sx, zx, w, geo(N), out, ep);
        }
        const w = this.packWeights(n.inputs[1]);
        const ep = this.epilogue(n.inputs[2], n.attrs);
        return (N) => conv2dPacked(e, xp, w, geo(N), out, ep);
      }
      case 'linear': {
        if (g.constants[n.inputs[1]].dtype === 'int8') {
          const { sx, zx, ep } = this.int8Parts(n);
          const w = this.packWeights8(n.inputs[1]);
          const rows8 = numel(shape(n.inputs[0]).slice(1, -1));
          return (N) => gemmInt8(e, xp, N * rows8, sx, zx, w, out, ep);
        }
        const w = this.packWeights(n.inputs[1]);
        const rows = numel(shape(n.inputs[0]).slice(1, -1));
        const ep = this.epilogue(n.inputs[2], n.attrs);
        return (N) => gemmPacked(e, xp, N * rows, w, out, ep);
      }
      case 'batchnorm': {
        const [gamma, beta, mean, variance] = n.inputs.slice(1).map((c) => this.constant(c));
        const C = shape(n.inputs[0]).at(-1) as number;
        const rows = per(n.inputs[0]) / C;
        return (N) => batchNormForward(e, xp, N * rows, C, mean, variance, n.attrs.eps, gamma, beta, out);
      }
      case 'affine': {
        const [scale, shift] = n.inputs.slice(1).map((c) => this.constant(c));
        const C = shape(n.inputs[0]).at(-1) as number;
        return (N) => {
          const s = [(N * per(n.inputs[0])) / C, C];
          binary(e, 'mul', xp, s, scale, [C], out);
          binary(e, 'add', out, s, shift, [C], out);
        };
      }
      case 'activation': {
        const n1 = per(n.inputs[0]);
        if (n.attrs.fn === 'softmax') {
          const C = shape(n.inputs[0]).at(-1) as number;
          return (N) => softmax(e, xp, (N * n1) / C, C, out);
        }
        const op = ACT[n.attrs.fn] as Exclude<Activation, 'none'>;
        return (N) => unary(e, op, xp, out, N * n1, n.attrs.alpha ?? 0.01);
      }
      case 'add': {
        const b = this.ptr(n.inputs[1]);
        const n1 = per(n.inputs[0]);
        return (N) => binary(e, 'add', xp, [N * n1], b, [N * n1], out);
      }
      case 'maxpool2d':
      case 'avgpool2d': {
        const geo = windowGeometry(g, n, n.attrs.kernel);
        if (n.op === 'avgpool2d') return (N) => avgPool2d(e, xp, geo(N), out);
        if (int8In) return (N) => maxPool2dInt8(e, xp, geo(N), out);
        return (N) => maxPool2d(e, xp, geo(N), out, 0);
      }
      case 'globalavgpool': {
        const [, H, W, C] = shape(n.inputs[0]);
        if (int8In) return (N) => globalAvgPoolInt8(e, xp, N, H * W, C, out);
        return (N) => globalAvgPool(e, xp, N, H * W, C, out);
      }
      case 'flatten':
      case 'dropout':
        return undefined; // views: planMemory gave them their input's buffer
      case 'embeddingbag': {
        const w = this.constant(n.inputs[1]);
        const [L] = shape(n.inputs[0]).slice(1);
        const D = g.constants[n.inputs[1]].shape[1];
        return (N) => embeddingBagForward(e, xp, N, L, w, D, out);
      }
      case 'quantize': {
        const q = g.values[n.output].quant as QuantParams;
        const n1 = per(n.inputs[0]);
        return (N) => quantize(e, xp, N * n1, q.scale[0], q.zeroPoint[0], out);
      }
      case 'dequantize': {
        const q = g.values[n.inputs[0]].quant as QuantParams;
        const n1 = per(n.inputs[0]);
        return (N) => dequantize(e, xp, N * n1, q.scale[0], q.zeroPoint[0], out);
      }
    }
  }

  private epilogue(
    bias: string | undefined,
    attrs: { activation: string; alpha?: number; residual?: string },
  ): Epilogue {
    return {
      bias: bias ? this.constant(bias) : undefined,
      activation: ACT[attrs.activation],
      alpha: attrs.alpha,
      residual: attrs.residual ? this.ptr(attrs.residual) : undefined,
    };
  }

  /** Runs `batch` samples (input: batch × per-sample values); returns a copy of the output. */
  run(input: Float32Array | Int32Array, batch: number): Float32Array {
    if (this.disposed) throw new ValueError('Session: used after dispose()');
    if (!Number.isInteger(batch) || batch < 1 || batch > this.maxBatch) {
      throw new ShapeError(`Session.run: batch ${batch} must be an integer in [1, ${this.maxBatch}] (maxBatch)`);
    }
    const per = numel(this.inputShape);
    if (input.length !== batch * per) {
      throw new ShapeError(
        `Session.run: input has ${input.length} values, expected ${batch} × [${this.inputShape.join(', ')}] = ${batch * per}`,
      );
    }
    if (this.tokenIds !== undefined) {
      const i = firstBadTokenId(input, this.tokenIds);
      if (i >= 0)
        throw new ValueError(
          `Session.run: input[${i}] = ${input[i]} is not a token id of this model (ids lie in [-1, ${this.tokenIds}))`,
        );
    }
    const outPer = numel(this.outputShape);
    const out = new Float32Array(batch * outPer);
    this.tiles(batch, (b0, n) => {
      this.load(input, b0 * per, n * per);
      for (const s of this.steps) s(n);
      this.store(out, b0 * outPer, n * outPer);
    });
    return out;
  }

  /** Calls fn(first sample, samples) for each tile of a batch. */
  private tiles(batch: number, fn: (b0: number, n: number) => void): void {
    for (let b0 = 0; b0 < batch; b0 += this.tile) fn(b0, Math.min(this.tile, batch - b0));
  }

  /** input[from, from + count) → the graph input's buffer. */
  private load(input: Float32Array | Int32Array, from: number, count: number): void {
    const at = this.ptr(this.graph.inputs[0]) >> 2;
    const src = input.subarray(from, from + count);
    if (src instanceof Int32Array) this.engine.i32.set(src, at);
    else this.engine.f32.set(src, at);
  }

  /** The graph output's first `count` values → out[from, ...). */
  private store(out: Float32Array, from: number, count: number): void {
    const o = this.ptr(this.graph.outputs[0]) >> 2;
    out.set(this.engine.f32.subarray(o, o + count), from);
  }

  /** Mean milliseconds per node over `reps` runs of `batch` samples (for reports). */
  profile(input: Float32Array | Int32Array, batch: number, reps = 5): Map<string, number> {
    this.run(input, batch);
    const per = numel(this.inputShape);
    const ms = new Map<string, number>();
    for (let r = 0; r < reps; r++) {
      this.tiles(batch, (b0, n) => {
        this.load(input, b0 * per, n * per);
        this.steps.forEach((s, i) => {
          const t0 = performance.now();
          s(n);
          ms.set(this.stepNames[i], (ms.get(this.stepNames[i]) ?? 0) + (performance.now() - t0) / reps);
        });
      });
    }
    return ms;
  }

  /** Frees the arena, constants and packed weights. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.packed) freePacked(this.engine, p);
    for (const p of this.packed8) freePackedB8(this.engine, p);
    for (const p of this.packedWino) freePackedWino8(this.engine, p);
    for (const p of this.owned) this.engine.free(p);
    if (this.arena >= 0) this.engine.free(this.arena);
  }
}

/**
 * The graph with each int8 conv2d whose only reader is a 2×2 / stride-2 unpadded max pool (int8
 * in and out) replaced by one conv node writing the pool's output (run by conv2dPoolInt8), and the
 * pool removed. Memory is planned on this graph, so the fused step's buffers have the right
 * lifetimes. `pooled`: fused node name → the conv's original output value (for its geometry).
 */
function fuseConvPool(g: Graph): { graph: Graph; pooled: Map<string, string> } {
  const readers = consumers(g);
  const pooled = new Map<string, string>();
  const drop = new Set<Node>();
  const nodes = g.nodes.map((n) => {
    if (n.op !== 'conv2d' || g.constants[n.inputs[1]]?.dtype !== 'int8' || g.values[n.output].dtype !== 'int8')
      return n;
    const r = readers.get(n.output) ?? [];
    const p = r[0];
    if (r.length !== 1 || p.op !== 'maxpool2d' || g.outputs.includes(n.output)) return n;
    const a = p.attrs;
    const twoByTwo = a.kernel[0] === 2 && a.kernel[1] === 2 && a.stride[0] === 2 && a.stride[1] === 2;
    if (!twoByTwo || a.pads.some((x) => x !== 0) || g.values[p.output].dtype !== 'int8') return n;
    drop.add(p);
    pooled.set(n.name, n.output);
    return { ...n, output: p.output };
  });
  if (drop.size === 0) return { graph: g, pooled };
  return { graph: { ...g, nodes: nodes.filter((n) => !drop.has(n)) }, pooled };
}

/** The largest tile (≤ maxBatch; a multiple of 4 above 4) whose activation plan fits TILE_BYTES. */
function defaultTile(g: Graph, maxBatch: number): number {
  const perSample = planMemory(g, 8).arenaBytes / 8;
  let t = Math.max(1, Math.min(maxBatch, Math.floor(TILE_BYTES / Math.max(perSample, 1))));
  if (t > 4) t -= t % 4;
  return t;
}

/** The kernels' window geometry of a conv2d/pool node (NHWC values) as a function of the batch. */
function windowGeometry(
  g: Graph,
  n: Node & { attrs: { stride: [number, number]; pads: [number, number, number, number] } },
  kernel: readonly number[],
  output = n.output,
): (N: number) => Conv2dGeometry {
  const [, H, W, C] = g.values[n.inputs[0]].shape;
  const [, OH, OW, OC] = g.values[output].shape;
  const [KH, KW] = kernel;
  const [strideH, strideW] = n.attrs.stride;
  const [padTop, padLeft, padBottom, padRight] = n.attrs.pads;
  return (N) => ({ N, H, W, C, KH, KW, OC, strideH, strideW, padTop, padLeft, padBottom, padRight, OH, OW });
}

/** Mean of the weight rows of each bag of token ids (-1 = padding). */
function embeddingBagForward(e: Engine, ids: number, N: number, L: number, w: number, D: number, out: number): void {
  const f = e.f32;
  const id = e.i32;
  for (let b = 0; b < N; b++) {
    const dst = (out >> 2) + b * D;
    f.fill(0, dst, dst + D);
    let count = 0;
    for (let t = 0; t < L; t++) {
      const k = id[(ids >> 2) + b * L + t];
      if (k < 0) continue;
      count++;
      for (let j = 0; j < D; j++) f[dst + j] += f[(w >> 2) + k * D + j];
    }
    if (count > 1) for (let j = 0; j < D; j++) f[dst + j] /= count;
  }
}
