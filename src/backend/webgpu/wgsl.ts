// Building and dispatching WGSL kernels: a kernel is a spec (name, storage bindings, parameter
// words, body), turned into one shader with a common prelude. Every shader's binding 0 is a uniform
// of 64 words: first each storage binding's byte offset inside the range bound (views `buf + k` are
// bound from an aligned offset below them), then the kernel's own parameters. `$P` in the body
// expands to `let` lines: `o_<binding>` (its element offset, bytes / 4), `ob_<binding>` (bytes),
// and each parameter by name. 1-D kernels index with `lin(...)` over a grid that folds into y when
// there are more than 65,535 workgroups (grid1).
// Not for: what a kernel computes (the family files), transport (device.ts).
import type { Prepared } from '../backend.js';
import type { GpuDevice } from './device.js';

export interface KernelSpec {
  name: string;
  /** Storage bindings in order, 'name:type' (type f32, i32, u32, f16, atomic<i32>, …); a trailing '!' makes it writable. */
  bindings: readonly string[];
  /** Parameter words after the offsets: 'name:u32' | 'name:i32' | 'name:f32'. */
  params?: readonly string[];
  /** Helper functions and `fn main` (with its @compute attributes); `$P` inside main defines the offsets and parameters. */
  body: string;
  /** WGSL extensions the shader needs. */
  enable?: readonly ('f16' | 'subgroups')[];
}

const PRELUDE = `
@group(0) @binding(0) var<uniform> P_: array<vec4<u32>, 16>;
fn pu_(i: u32) -> u32 { return P_[i >> 2u][i & 3u]; }
fn lin(wid: vec3u, nwg: vec3u, lid: u32, wg: u32) -> u32 { return (wid.y * nwg.x + wid.x) * wg + lid; }
fn isnan_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn gelu_(x: f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  return 0.5 * x * (1.0 + tanh_(u));
}
fn tanh_(x: f32) -> f32 {
  // tanh without overflow: exp of a non-positive argument only.
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
fn sigmoid_(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
`;

export function buildKernel(spec: KernelSpec): { code: string; writable: boolean[] } {
  const writable: boolean[] = [];
  const decls: string[] = [];
  const lets: string[] = [];
  spec.bindings.forEach((b, i) => {
    const w = b.endsWith('!');
    const [name, type] = (w ? b.slice(0, -1) : b).split(':');
    writable.push(w);
    decls.push(`@group(0) @binding(${i + 1}) var<storage, ${w ? 'read_write' : 'read'}> ${name}: array<${type}>;`);
    lets.push(`let ob_${name} = pu_(${i}u); let o_${name} = ob_${name} >> 2u;`);
  });
  (spec.params ?? []).forEach((p, j) => {
    const [name, type] = p.split(':');
    const w = `pu_(${spec.bindings.length + j}u)`;
    lets.push(`let ${name} = ${type === 'u32' ? w : `bitcast<${type}>(${w})`};`);
  });
  const enable = (spec.enable ?? []).map((e) => `enable ${e};`).join('\n');
  const body = spec.body.replace('$P', lets.join('\n  '));
  return { code: `${enable}\n${PRELUDE}\n${decls.join('\n')}\n${body}`, writable };
}

/** A kernel spec per key, made once (specs that differ by a function or a flag). */
export function specFor<K>(cache: Map<K, KernelSpec>, key: K, make: (key: K) => KernelSpec): KernelSpec {
  let s = cache.get(key);
  if (!s) {
    s = make(key);
    cache.set(key, s);
  }
  return s;
}

/** The bits of a float as a parameter word. */
const f32Word = new Float32Array(1);
const u32Word = new Uint32Array(f32Word.buffer);
export function fw(x: number): number {
  f32Word[0] = x;
  return u32Word[0];
}
/** A signed integer as a parameter word. */
export function iw(x: number): number {
  return x >>> 0;
}

/** Workgroups for n invocations of `wg` threads, folded into y past 65,535. */
export function grid1(n: number, wg = 256): [number, number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= 65535) return [groups, 1, 1];
  return [65535, Math.ceil(groups / 65535), 1];
}

/** The standard 1-D entry point: `i` is the invocation's index; returns past `n` (a u32 parameter). */
export function main1(stmts: string, wg = 256): string {
  return `@compute @workgroup_size(${wg}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = lin(wid, nwg, lid, ${wg}u);
  $P
  if (i >= n) { return; }
  ${stmts}
}`;
}

/** A buffer range of a dispatch: `count` elements of `bytesPer` bytes at buf. */
export interface Bind {
  buf: number;
  bytes: number;
}
export function bind(buf: number, count: number, bytesPer = 4): Bind {
  return { buf, bytes: count * bytesPer };
}

/** Weights a family prepared on the device: release() frees `bufs`. */
export interface GpuPrepared extends Prepared {
  readonly bufs: readonly number[];
}

/** What the family files dispatch through. */
export class Kernels {
  constructor(readonly dev: GpuDevice) {}

  get f16(): boolean {
    return this.dev.features.includes('shader-f16');
  }

  get subgroups(): boolean {
    return this.dev.features.includes('subgroups');
  }

  /** Runs `spec` (registered on first use) over `grid` workgroups. */
  run(
    spec: KernelSpec,
    binds: readonly Bind[],
    params: readonly number[],
    grid: readonly [number, number, number],
  ): void {
    if (!this.dev.hasKernel(spec.name)) {
      const { code, writable } = buildKernel(spec);
      this.dev.register(spec.name, code, writable);
    }
    if (binds.length !== spec.bindings.length)
      throw new Error(`webgpu kernel ${spec.name}: ${binds.length} bindings given, ${spec.bindings.length} declared`);
    this.dev.run(spec.name, binds, params, grid);
  }

  /** A 1-D kernel over n invocations of 256 (params[0] must be n). */
  run1(spec: KernelSpec, binds: readonly Bind[], params: readonly number[], n: number, wg = 256): void {
    if (n <= 0) return;
    this.run(spec, binds, params, grid1(n, wg));
  }
}
