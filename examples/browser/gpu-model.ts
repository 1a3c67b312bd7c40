// The browser example's WebGPU model Worker (bundled as gpu-model.js): runs the artifact on the
// WebGPU backend for the page. The backend is synchronous and blocks on reads, which a page's main
// thread may not do, so the model lives here, in a module Worker of a cross-origin-isolated page;
// the GPUDevice lives one Worker further (webgpu-worker.js, src/backend/webgpu/worker.js), which
// answers through shared memory. The page posts requests and gets one answer per request, in order:
//   { id, load: ArrayBuffer (the .grad bytes), maxBatch } → { id, adapter } or { id, error }
//   { id, classify: Float32Array | Int32Array, k }        → { id, prediction } or { id, error }
// The artifact is the one the wasm path loads: the page falls back to it on an error at load.
// Not for: preprocessing (the page does that, with the runtime's own functions).

import { adapterName } from '../../src/backend/select.js';
import { WebGpuBackend } from '../../src/backend/webgpu/backend.js';
import { type InferenceModel, loadArtifact } from '../../src/runtime/index.js';

export type GpuRequest =
  | { id: number; load: ArrayBuffer; maxBatch: number }
  | { id: number; classify: Float32Array | Int32Array; k: number };

export type GpuAnswer =
  | { id: number; adapter: string; features: string[] }
  | { id: number; prediction: import('../../src/runtime/index.js').Prediction }
  | { id: number; error: string };

let backend: WebGpuBackend | undefined;
let model: InferenceModel | undefined;

async function answer(req: GpuRequest): Promise<GpuAnswer> {
  if ('load' in req) {
    if (!backend) {
      const r = await WebGpuBackend.openAsync({ workerUrl: new URL('./webgpu-worker.js', import.meta.url) });
      if (!r.backend) return { id: req.id, error: r.reason ?? 'no WebGPU device' };
      backend = r.backend;
    }
    model?.dispose();
    model = undefined;
    model = await loadArtifact(new Uint8Array(req.load), { maxBatch: req.maxBatch, backend });
    return { id: req.id, adapter: adapterName(backend), features: backend.adapter.features.slice() };
  }
  if (!model) return { id: req.id, error: 'no model loaded' };
  return { id: req.id, prediction: model.classify(req.classify, 1, req.k)[0] };
}

let chain = Promise.resolve();
self.onmessage = (e: MessageEvent<GpuRequest>) => {
  chain = chain.then(async () => {
    let out: GpuAnswer;
    try {
      out = await answer(e.data);
    } catch (err) {
      out = { id: e.data.id, error: err instanceof Error ? err.message : String(err) };
    }
    self.postMessage(out);
  });
};
