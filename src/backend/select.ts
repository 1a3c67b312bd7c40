// Choosing the device a command computes on: `--device auto|cpu|webgpu`. cpu is the wasm backend;
// webgpu opens the first WebGPU adapter (Dawn through the optional `webgpu` package) or refuses
// with the reason; auto takes WebGPU only where a hardware adapter exists and a start-up GEMM
// micro-benchmark (the same 512² × 256 product on both, best of three) says it is faster than the
// wasm engine, and says why it chose. One WebGPU device per process (Dawn's instance must outlive
// every use). Not for: the kernels (webgpu/, wasm.ts), the default tensor backend
// (tensor/context.ts).
import { ValueError } from '../errors.js';
import type { Engine } from '../kernels/engine.js';
import type { InferenceBackend } from './backend.js';
import { WasmInferenceBackend } from './wasm-infer.js';
import { WebGpuBackend } from './webgpu/backend.js';

export type DeviceChoice = 'auto' | 'cpu' | 'webgpu';
export const DEVICE_CHOICES: readonly DeviceChoice[] = ['auto', 'cpu', 'webgpu'];

export function parseDevice(s: string): DeviceChoice {
  if ((DEVICE_CHOICES as readonly string[]).includes(s)) return s as DeviceChoice;
  throw new ValueError(`--device: '${s}' is not a device (auto, cpu or webgpu)`);
}

export interface DeviceSelection {
  device: 'cpu' | 'webgpu';
  /** The WebGPU backend when device is webgpu. */
  gpu?: WebGpuBackend;
  /** Why this device: for logs (`device: webgpu (…)`). */
  reason: string;
}

let opened: { backend?: WebGpuBackend; reason?: string } | undefined;

/** The process's WebGPU backend (opened once), or the reason there is none. */
export function openWebGpu(): { backend?: WebGpuBackend; reason?: string } {
  if (opened?.backend?.device.closed) opened = undefined; // disposed: open a fresh one
  opened ??= WebGpuBackend.open();
  return opened;
}

/** Resolves a --device choice; `engine` is the wasm engine auto compares against. */
export function selectDevice(choice: DeviceChoice, engine?: Engine): DeviceSelection {
  if (choice === 'cpu') return { device: 'cpu', reason: 'asked for' };
  const { backend, reason } = openWebGpu();
  if (choice === 'webgpu') {
    if (!backend) throw new ValueError(`--device webgpu: ${reason}`);
    return { device: 'webgpu', gpu: backend, reason: `asked for; ${adapterName(backend)}` };
  }
  if (!backend) return { device: 'cpu', reason: `no WebGPU: ${reason}` };
  if (backend.adapter.isFallbackAdapter)
    return { device: 'cpu', reason: `the only WebGPU adapter is a software one (${adapterName(backend)})` };
  if (!engine) return { device: 'webgpu', gpu: backend, reason: adapterName(backend) };
  const gpuMs = gemmMs(backend);
  const cpuMs = gemmMs(new WasmInferenceBackend(engine));
  const ratio = `GEMM ${cpuMs.toFixed(2)} ms on the cpu vs ${gpuMs.toFixed(2)} ms on ${adapterName(backend)}`;
  return gpuMs < cpuMs ? { device: 'webgpu', gpu: backend, reason: ratio } : { device: 'cpu', reason: ratio };
}

export function adapterName(b: WebGpuBackend): string {
  const a = b.adapter;
  return [a.vendor, a.architecture, a.description || a.device].filter(Boolean).join(' ') || 'unnamed adapter';
}

/** Best of three runs of a 512×256 · 256×512 GEMM with a bias (ms), results read back. */
function gemmMs(b: InferenceBackend): number {
  const [M, K, N] = [512, 256, 512];
  const a = b.alloc(M * K * 4);
  const w = b.alloc(K * N * 4);
  const bias = b.alloc(N * 4);
  const c = b.alloc(M * N * 4);
  try {
    b.fill(a, M * K, 0.5);
    b.fill(w, K * N, 0.25);
    b.fill(bias, N, 1);
    let best = Infinity;
    for (let r = 0; r < 4; r++) {
      const t0 = performance.now();
      b.gemm(a, w, c, M, K, N, { bias });
      b.read(c, 'float32', 1);
      if (r > 0) best = Math.min(best, performance.now() - t0);
    }
    return best;
  } finally {
    for (const p of [a, w, bias, c]) b.free(p);
  }
}

/** Lines for `graduate info`: the adapter, its features and the limits kernels depend on. */
export function describeWebGpu(): string[] {
  const { backend, reason } = openWebGpu();
  if (!backend) return [`webgpu: none (${reason})`];
  const a = backend.adapter;
  const L = a.limits;
  const mib = (v: number | undefined) => (v === undefined ? '?' : `${Math.round(v / 2 ** 20)} MiB`);
  return [
    `webgpu: ${adapterName(backend)}${a.isFallbackAdapter ? ' (software fallback adapter)' : ''}`,
    `  features: ${a.features.join(', ') || 'none'}`,
    `  limits: storage buffer ${mib(L.maxStorageBufferBindingSize)}, buffer ${mib(L.maxBufferSize)}, workgroup storage ${
      L.maxComputeWorkgroupStorageSize
    } B, invocations/workgroup ${L.maxComputeInvocationsPerWorkgroup}, storage buffers/stage ${L.maxStorageBuffersPerShaderStage}`,
    ...a.others.map((o) => `webgpu (not used): ${o}`),
  ];
}
