// The inference session: loads a graph into an engine (weights pre-packed once into the kernels'
// layouts), plans memory statically for a maximum batch, and runs batches with no allocation of
// its own per call. The constructor runs validateGraph once (a graph may be built by hand, not
// only read by readArtifact), so the kernels below rely on its checks — op inputs, attributes,
// shapes, dtypes, quantization — without repeating them; the session itself checks only its own
// arguments (maxBatch, tile, run's batch and input).
// Each node's step comes from its op's definition in the registry (run, or forward over the
// arena): the session has no per-op code. Imports backend/, ops/ and graph/: no training code.
import { type Buf, DTYPE_BYTES, type InferenceBackend, type Prepared } from '../backend/backend.js';
import { WasmInferenceBackend } from '../backend/wasm-infer.js';
import { ShapeError, ValueError } from '../errors.js';
import {
  type Constant,
  firstBadTokenId,
  floatData,
  type Graph,
  isBatchIo,
  type Node,
  numel,
  tokenIdLimit,
} from '../graph/ir.js';
import { type MemoryPlan, planMemory } from '../graph/plan.js';
import { MEMORY_LIMIT_BYTES, validateGraph } from '../graph/validate.js';
import { Engine, type EngineOptions } from '../kernels/engine.js';
import type { Arg, Exec, OpDef, PlanCtx, Step } from '../ops/op.js';
import { OPS } from '../ops/registry.js';

export interface SessionOptions {
  /** Largest batch run() accepts. Default 256. */
  maxBatch?: number;
  /**
   * Samples per pass through the graph; the memory plan is sized for it and run() takes larger
   * batches tile by tile. Default: the most (up to maxBatch, a multiple of 4 when over 4) whose
   * activations fit in TILE_BYTES, so they stay in cache from one layer to the next.
   */
  tile?: number;
  /**
   * int8 3x3 / stride-1 convolutions by Winograd F(2x2, 3x3) (default true; exact: the result is
   * identical, with 16 multiplies per 2x2 output tile instead of 36).
   */
  winograd?: boolean;
  /** Backend to run on (default: the wasm backend over `engine`). */
  backend?: InferenceBackend;
  /** Wasm engine to run on (default: one shared inference engine per process, created on first use). */
  engine?: Engine;
  engineOptions?: EngineOptions;
}

let sharedEngine: Engine | undefined;
/** One wasm backend per engine, so sessions on one engine share it. */
const backends = new WeakMap<Engine, WasmInferenceBackend>();
function wasmBackend(e: Engine): WasmInferenceBackend {
  let b = backends.get(e);
  if (!b) {
    b = new WasmInferenceBackend(e);
    backends.set(e, b);
  }
  return b;
}

/**
 * Activation bytes one pass may use. Layer by layer over a whole batch of 256, the activations
 * leave the caches between layers; in tiles of a few samples they stay in L2 (measured on the
 * Fashion-MNIST CNN, int8: 145 µs/sample in tiles of 4 vs 169-215 µs at batch 64-256).
 */
const TILE_BYTES = 384 << 10;

export class Session {
  readonly backend: InferenceBackend;
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
  private readonly owned: Buf[] = [];
  private readonly prepared: Prepared[] = [];
  private readonly winograd: boolean;
  private readonly constPtr = new Map<string, Buf>();
  private readonly weightsOf = new Map<string, Prepared>();
  /**
   * Scratch of the steps run by an op's forward, shared by all of them (steps run one after
   * another; temporaries never outlive their step): the k-th temp() of a step takes slot k, sized
   * by the largest request of any step at planning (each step runs once at construction), and
   * kept, so running allocates nothing. Counted in the session's memory check.
   */
  private readonly slots: { buf: Buf; bytes: number }[] = [];
  private scratchUsed = 0;
  /** Where those steps' forward runs: this session's backend and its scratch slots. */
  private readonly scratch: Exec;
  private readonly steps: Step[] = [];
  private readonly stepNames: string[] = [];
  private disposed = false;

  /** The graph as run. */
  readonly graph: Graph;

  constructor(graph: Graph, opts: SessionOptions = {}) {
    // once per session: ~40 µs of structure on the CNN preset plus one pass over the float weights
    // (the non-finite scan), against ~0.2-0.3 ms (float) and ~7 ms (int8) to construct
    validateGraph(graph, 'Session');
    if (opts.backend) this.backend = opts.backend;
    else {
      if (!opts.engine && !sharedEngine) sharedEngine = Engine.create({ profile: 'infer', ...opts.engineOptions });
      this.backend = wasmBackend(opts.engine ?? (sharedEngine as Engine));
    }
    this.scratch = { backend: this.backend, temp: (shape, dtype) => this.temp(shape, dtype) };
    // a graph with no batched input runs once per call: batch 1
    this.maxBatch = graph.inputs.some((v) => isBatchIo(graph, v)) ? (opts.maxBatch ?? 256) : 1;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1)
      throw new ValueError(`Session: maxBatch must be a positive integer, got ${this.maxBatch}`);
    this.inputShape = graph.inputs.length ? graph.values[graph.inputs[0]].shape.slice(1) : [];
    this.tokenIds = tokenIdLimit(graph);
    this.outputShape = graph.values[graph.outputs[0]].shape.slice(1);
    this.graph = graph;
    this.winograd = opts.winograd ?? true;
    // a graph specialized to one sample runs a batch sample by sample
    this.tile = graph.meta.perSample === true ? 1 : (opts.tile ?? defaultTile(graph, this.maxBatch));
    if (graph.meta.perSample === true && opts.tile !== undefined && opts.tile !== 1)
      throw new ValueError(`Session: this graph runs one sample at a time (tile 1), got tile ${opts.tile}`);
    if (!Number.isInteger(this.tile) || this.tile < 1 || this.tile > this.maxBatch)
      throw new ValueError(`Session: tile must be an integer in [1, ${this.maxBatch}] (maxBatch), got ${this.tile}`);
    this.plan = planMemory(graph, this.tile);
    const weights = Object.values(graph.constants).reduce((s, c) => s + c.data.byteLength, 0);
    const need = `${this.plan.arenaBytes} bytes of activations (input [${this.inputShape.join(', ')}] × tile ${this.tile}) and ${weights} bytes of weights`;
    if (this.plan.arenaBytes + weights > MEMORY_LIMIT_BYTES)
      throw new ValueError(`Session: out of memory: the graph needs ${need}, more than ${MEMORY_LIMIT_BYTES} bytes`);
    try {
      this.arena = this.backend.alloc(Math.max(this.plan.arenaBytes, 64));
      // zeroed, so that steps planned by running once (scratch sizing) read defined values
      this.backend.fill(this.arena, Math.max(this.plan.arenaBytes, 64) >> 2, 0);
      const p = this.planCtx();
      for (const n of graph.nodes) {
        const s = this.compileNode(n, p);
        if (s) {
          this.steps.push(s);
          this.stepNames.push(n.name);
        }
      }
      const scratch = this.slots.reduce((t, x) => t + x.bytes, 0);
      if (this.plan.arenaBytes + weights + scratch > MEMORY_LIMIT_BYTES)
        throw new ValueError(
          `Session: out of memory: the graph needs ${need} and ${scratch} bytes of scratch, more than ${MEMORY_LIMIT_BYTES} bytes`,
        );
    } catch (e) {
      this.dispose();
      // the engine's memory is shared with other sessions: what is left may not hold this one
      if (e instanceof RangeError && /out of wasm memory/.test(e.message))
        throw new ValueError(`Session: out of memory: the graph needs ${need} (${e.message})`);
      throw e;
    }
  }

  /** The wasm engine the session runs on (sessions on another backend have none). */
  get engine(): Engine {
    if (!(this.backend instanceof WasmInferenceBackend))
      throw new ValueError(`Session: backend '${this.backend.name}' has no wasm engine`);
    return this.backend.engine;
  }

  /**
   * Byte address of a value in the arena. After run() it holds the last tile's samples only: to
   * read intermediate values of a whole batch, create the session with tile = maxBatch.
   */
  ptr(value: string): number {
    return this.arena + (this.plan.offsets.get(value) as number);
  }

  private constant(name: string): Buf {
    let p = this.constPtr.get(name);
    if (p === undefined) {
      const c0 = this.graph.constants[name] as Constant;
      const data = c0.dtype === 'float16' ? floatData(c0) : c0.data;
      p = this.backend.alloc(data.byteLength);
      this.owned.push(p);
      this.backend.write(p, c0.dtype === 'float16' ? 'float32' : c0.dtype, data as ArrayLike<number>);
      this.constPtr.set(name, p);
    }
    return p;
  }

  /** The next scratch slot of the running step, grown (never at run time: see slots) to `shape`. */
  private temp(shape: readonly number[], dtype: Arg['dtype'] = 'float32'): Arg {
    const bytes = Math.max(64, numel(shape) * DTYPE_BYTES[dtype]);
    let slot = this.slots[this.scratchUsed];
    if (!slot || slot.bytes < bytes) {
      if (slot) this.backend.free(slot.buf);
      slot = { buf: this.backend.alloc(bytes), bytes };
      this.slots[this.scratchUsed] = slot;
    }
    this.scratchUsed++;
    return { buf: slot.buf, shape, dtype };
  }

  /** What an op's run() may ask of the session. */
  private planCtx(): PlanCtx {
    const g = this.graph;
    return {
      backend: this.backend,
      value: (v) => g.values[v],
      constantInfo: (v) => (Object.hasOwn(g.constants, v) ? g.constants[v] : undefined),
      buf: (v) => this.ptr(v),
      constant: (v) => this.constant(v),
      weights: (v) => {
        let p = this.weightsOf.get(v);
        if (!p) {
          const c = g.constants[v];
          const N = c.shape[c.shape.length - 1];
          const K = c.data.length / N;
          const b = this.backend;
          p = this.own(
            c.dtype === 'float16' && b.prepareWeightsHalf
              ? b.prepareWeightsHalf(floatData(c), K, N)
              : b.prepareWeights(floatData(c), K, N),
          );
          this.weightsOf.set(v, p);
        }
        return p;
      },
      own: (p) => this.own(p),
      options: { winograd: this.winograd },
    };
  }

  private own(p: Prepared): Prepared {
    this.prepared.push(p);
    return p;
  }

  /** A node's step: its op's run(), or its forward over the arena with the tile's batch. */
  private compileNode(n: Node, p: PlanCtx): Step | undefined {
    const def = OPS[n.op] as OpDef<unknown>;
    const planned = def.run?.(p, n);
    if (planned) {
      // a fixed-shape (unbatched) node: its kernels take axis 0 as their batch, so it needs one
      const x = g0(this.graph, n);
      if (!x || x.shape[0] === -1) return planned;
      if (x.shape.length < 2)
        throw new ShapeError(
          `Session: node '${n.name}' (${n.op}) takes a fixed-shape input of rank ${x.shape.length}; its runtime step needs [rows, …]`,
        );
      return () => planned(x.shape[0]);
    }
    if (def.traits.view) return undefined; // planMemory gave it its input's buffer
    const g = this.graph;
    // inputs: arena values (batch axis set per call) or constants (as they are)
    const ins = n.inputs.map((v) => {
      const k = p.constantInfo(v);
      if (k)
        return {
          buf: this.constant(v),
          shape: k.shape,
          dtype: k.dtype === 'float16' ? 'float32' : k.dtype,
          batched: false,
        } as const;
      const val = g.values[v];
      return { buf: this.ptr(v), shape: val.shape, dtype: val.dtype, batched: val.shape[0] === -1 } as const;
    });
    const outVal = g.values[n.output];
    const out = { buf: this.ptr(n.output), shape: outVal.shape, dtype: outVal.dtype };
    const outBatched = outVal.shape[0] === -1;
    const x = this.scratch;
    const at = (N: number, a: { shape: readonly number[] }) => [N, ...a.shape.slice(1)];
    const step: Step = (N) => {
      this.scratchUsed = 0;
      const args = ins.map((a) => (a.batched ? { ...a, shape: at(N, a) } : a));
      def.forward(x, args, outBatched ? { ...out, shape: at(N, out) } : out, n.attrs);
    };
    step(this.tile); // plans the scratch on the zeroed arena (ids 0 are valid; the results are unread)
    return step;
  }

  /**
   * Runs `batch` samples (input: batch × per-sample values) of a graph with one input; returns a
   * copy of its first output as float32 (int32 outputs converted).
   */
  run(input: Float32Array | Int32Array, batch: number): Float32Array {
    if (this.graph.inputs.length !== 1)
      throw new ShapeError(
        `Session.run: the graph has ${this.graph.inputs.length} inputs (${this.graph.inputs.join(', ')}); use runAll`,
      );
    const [out] = this.runAll([input], batch);
    return out instanceof Float32Array ? out : Float32Array.from(out);
  }

  /**
   * Runs a batch through a graph with any number of inputs and outputs, in the graph's order:
   * batched values ([-1, …]) hold `batch` samples, fixed-shape ones their whole shape (a graph
   * with no batched input runs with batch 1). Outputs come back as float32 or int32 copies.
   */
  runAll(inputs: readonly (Float32Array | Int32Array)[], batch = 1): (Float32Array | Int32Array)[] {
    const g = this.graph;
    if (inputs.length !== g.inputs.length)
      throw new ShapeError(`Session.runAll: ${inputs.length} inputs given, the graph takes ${g.inputs.length}`);
    const xs = inputs.map((x, i) => this.prepareInput(x, batch, i));
    const io = (v: string) => ({ v, batched: isBatchIo(g, v), per: numel(g.values[v].shape) });
    const ins = g.inputs.map(io);
    const outs = g.outputs.map(io);
    const results = outs.map((o) =>
      g.values[o.v].dtype === 'int32'
        ? new Int32Array((o.batched ? batch : 1) * o.per)
        : new Float32Array((o.batched ? batch : 1) * o.per),
    );
    this.tiles(batch, (b0, n) => {
      ins.forEach((x, i) => {
        if (x.batched) this.load(x.v, xs[i], b0 * x.per, n * x.per);
        else if (b0 === 0) this.load(x.v, xs[i], 0, x.per); // fixed inputs: written once per run
      });
      for (const s of this.steps) s(n);
      outs.forEach((o, i) => {
        if (o.batched) this.store(o.v, results[i], b0 * o.per, n * o.per);
        else if (b0 === 0) this.store(o.v, results[i], 0, o.per);
      });
    });
    return results;
  }

  /**
   * Checks run()'s arguments and returns the input in the graph input's element type. Token ids
   * given as floats are converted by value (never their bits), each checked against the tables
   * before conversion, so no id wraps around int32 into range.
   */
  private prepareInput(input: Float32Array | Int32Array, batch: number, k = 0): Float32Array | Int32Array {
    if (this.disposed) throw new ValueError('Session: used after dispose()');
    if (!Number.isInteger(batch) || batch < 1 || batch > this.maxBatch) {
      throw new ShapeError(`Session.run: batch ${batch} must be an integer in [1, ${this.maxBatch}] (maxBatch)`);
    }
    const name = this.graph.inputs[k];
    const { shape, dtype } = this.graph.values[name];
    const batched = isBatchIo(this.graph, name);
    const per = numel(shape);
    const want = (batched ? batch : 1) * per;
    if (!(input instanceof Float32Array || input instanceof Int32Array))
      throw new ValueError(`Session.run: input '${name}' must be a Float32Array or an Int32Array`);
    if (input.length !== want) {
      throw new ShapeError(
        batched
          ? `Session.run: input '${name}' has ${input.length} values, expected ${batch} × [${shape.slice(1).join(', ')}] = ${want}`
          : `Session.run: input '${name}' has ${input.length} values, expected [${shape.join(', ')}] = ${want}`,
      );
    }
    if (dtype !== 'int32') return input instanceof Float32Array ? input : Float32Array.from(input);
    if (k !== 0 || this.tokenIds === undefined) {
      if (input instanceof Int32Array) return input;
      for (let i = 0; i < input.length; i++)
        if (!Number.isInteger(input[i]) || Math.abs(input[i]) >= 2 ** 31)
          throw new ValueError(`Session.run: input '${name}'[${i}] = ${input[i]} is not an int32 integer`);
      return Int32Array.from(input);
    }
    if (!(input instanceof Int32Array))
      for (let i = 0; i < input.length; i++)
        if (!Number.isInteger(input[i]) || input[i] < -1 || input[i] >= 2 ** 31)
          throw new ValueError(
            `Session.run: input[${i}] = ${input[i]} is not a token id (the model takes integer ids)`,
          );
    if (this.tokenIds !== undefined) {
      const i = firstBadTokenId(input, this.tokenIds);
      if (i >= 0)
        throw new ValueError(
          `Session.run: input[${i}] = ${input[i]} is not a token id of this model (ids lie in [-1, ${this.tokenIds}))`,
        );
    }
    return input instanceof Int32Array ? input : Int32Array.from(input);
  }

  /** Calls fn(first sample, samples) for each tile of a batch. */
  private tiles(batch: number, fn: (b0: number, n: number) => void): void {
    for (let b0 = 0; b0 < batch; b0 += this.tile) fn(b0, Math.min(this.tile, batch - b0));
  }

  /** input[from, from + count) → the buffer of graph input `v`. */
  private load(v: string, input: Float32Array | Int32Array, from: number, count: number): void {
    const src = input.subarray(from, from + count);
    this.backend.write(this.ptr(v), src instanceof Int32Array ? 'int32' : 'float32', src);
  }

  /** The first `count` values of graph output `v` → out[from, ...). */
  private store(v: string, out: Float32Array | Int32Array, from: number, count: number): void {
    const src = out instanceof Int32Array ? this.backend.i32(this.ptr(v), count) : this.backend.f32(this.ptr(v), count);
    out.set(src, from);
  }

  /** Mean milliseconds per node over `reps` runs of `batch` samples (for reports). */
  profile(input: Float32Array | Int32Array, batch: number, reps = 5): Map<string, number> {
    input = this.prepareInput(input, batch);
    this.run(input, batch); // warm-up (the input is already in the graph's type: no second conversion)
    const per = numel(this.inputShape);
    const ms = new Map<string, number>();
    const v = this.graph.inputs[0];
    for (let r = 0; r < reps; r++) {
      this.tiles(batch, (b0, n) => {
        this.load(v, input, b0 * per, n * per);
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
    for (const p of this.prepared) this.backend.release(p);
    for (const p of this.owned) this.backend.free(p);
    for (const slot of this.slots) this.backend.free(slot.buf);
    if (this.arena >= 0) this.backend.free(this.arena);
  }
}

/** The first input of node n that is a value (not a constant), if any. */
function g0(g: Graph, n: Node): { shape: readonly number[] } | undefined {
  const v = n.inputs.find((i) => !Object.hasOwn(g.constants, i));
  return v === undefined ? undefined : g.values[v];
}

/** The largest tile (≤ maxBatch; a multiple of 4 above 4) whose activation plan fits TILE_BYTES. */
function defaultTile(g: Graph, maxBatch: number): number {
  const perSample = planMemory(g, 8).arenaBytes / 8;
  let t = Math.max(1, Math.min(maxBatch, Math.floor(TILE_BYTES / Math.max(perSample, 1))));
  if (t > 4) t -= t % 4;
  return t;
}
