// The WebGPU executor: a worker that owns the GPUDevice and carries out the command batches that
// device.ts (the calling thread) posts. WebGPU is asynchronous (buffer mapping, device creation),
// the Backend interface is synchronous: the calling thread blocks in Atomics.wait on `ctl` while
// this worker awaits, and reads each reply from the shared `area` (ctl[0] counts replies, ctl[1]
// their kind: 0 JSON text, 1 a read's bytes, ctl[2] their length). Runs as a Node worker thread
// (Dawn through the `webgpu` package; ctl/area/flags in workerData) or as a browser module Worker
// (navigator.gpu; ctl/area in a first { init } message). Keeping the device here keeps the `gpu`
// object reachable for the life of the thread (Dawn aborts the process when it is collected).
// Commands (arrays, first element the kind):
//   ['alloc', id, bytes]             a storage buffer (sizes are rounded to pool buckets)
//   ['free', id]                     back to the pool once the commands using it are submitted
//   ['write', id, byteOffset, data]  queue.writeBuffer (4-byte aligned; earlier dispatches first)
//   ['shader', name, code, writable] a compute pipeline: binding 0 the params uniform (dynamic
//                                    offset), bindings 1… storage (writable[i]: read_write)
//   ['run', name, binds, params, gx, gy, gz]  binds: [id, byteOffset, byteLength] per binding;
//                                    params: Uint32Array(64), words 0… filled here with each
//                                    binding's byte offset inside its bound range
//   ['read', id, byteOffset, bytes]  replies { data } (a sync point: replies { error } instead when
//                                    any earlier command failed validation)
//   ['sync']                         replies {} once all work is done (errors as for read)
//   ['area', sharedArrayBuffer]      (transport) later replies go there: the caller grows it
// Not for: choosing kernels or their parameters (device.ts and the family files do that).

const isNode = typeof process !== 'undefined' && Boolean(process.versions?.node);
const wt = isNode ? await import('node:worker_threads') : undefined;
/** Set from workerData (Node) or the first message (browser). */
let ctl = null;
let area = null;
const PARAM_BYTES = 256;
const MAX_DISPATCHES = 2048;

let gpu;
let device;
let alignment = 256;
const bufs = new Map();
const pool = new Map();
let pendingFree = [];
const pipelines = new Map();
let enc = null;
let pass = null;
let dispatches = 0;
const paramsCpu = new Uint32Array((MAX_DISPATCHES * PARAM_BYTES) / 4);
let paramsBuf = null;
let scratch = [];
let errors = [];
let scopes = [];
let lost = null;

/** Writes a JSON reply into the shared area and wakes the caller. */
function reply(msg) {
  let bytes = new TextEncoder().encode(JSON.stringify(msg));
  if (bytes.length > area.length) {
    // only long error texts get here (the caller sizes the area for reads): cut them to fit
    const key = msg.error !== undefined ? 'error' : 'reason';
    const text = String(msg[key] ?? 'a reply too long for the shared area');
    bytes = new TextEncoder().encode(JSON.stringify({ ...msg, [key]: `${text.slice(0, area.length / 8)}… (cut)` }));
  }
  area.set(bytes);
  wake(0, bytes.length);
}

/** Says that the area holds a reply of `kind` (0 JSON, 1 a read's bytes) and `length` bytes. */
function wake(kind, length) {
  Atomics.store(ctl, 1, kind);
  Atomics.store(ctl, 2, length);
  Atomics.add(ctl, 0, 1);
  Atomics.notify(ctl, 0);
}

function bucket(bytes) {
  const b = Math.max(256, bytes);
  if (b <= 1 << 20) return 2 ** Math.ceil(Math.log2(b));
  return Math.ceil(b / (1 << 20)) * (1 << 20);
}

function createStorage(size) {
  const list = pool.get(size);
  if (list?.length) return list.pop();
  return device.createBuffer({
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
}

function encoder() {
  if (!enc) enc = device.createCommandEncoder();
  return enc;
}

function endPass() {
  if (pass) {
    pass.end();
    pass = null;
  }
}

/** Submits what is encoded (params first: queue order makes each submission see its own). */
function submit() {
  endPass();
  if (enc) {
    if (dispatches > 0) device.queue.writeBuffer(paramsBuf, 0, paramsCpu, 0, (dispatches * PARAM_BYTES) / 4);
    device.queue.submit([enc.finish()]);
    enc = null;
    dispatches = 0;
  }
  for (const b of scratch) b.destroy();
  scratch = [];
  for (const [size, b] of pendingFree) {
    const list = pool.get(size);
    if (list) list.push(b);
    else pool.set(size, [b]);
  }
  pendingFree = [];
}

function pipelineOf(name) {
  const p = pipelines.get(name);
  if (!p) throw new Error(`webgpu: kernel ${name} was never registered`);
  return p;
}

/** Whether two bound ranges share bytes of one buffer. */
function overlap(a, b) {
  return a.buffer === b.buffer && a.start < b.end && b.start < a.end;
}

/** A scratch copy of a bound range, taken in this encoder (destroyed at submit); its range. */
function copyOf(r, usage = 0) {
  endPass();
  const size = r.end - r.start;
  const copy = device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | usage });
  encoder().copyBufferToBuffer(r.buffer, r.start, copy, 0, size);
  scratch.push(copy);
  return { buffer: copy, start: 0, end: size, delta: r.delta };
}

function run(name, binds, params, gx, gy, gz) {
  const p = pipelineOf(name);
  if (dispatches === MAX_DISPATCHES) submit();
  const nb = binds.length / 3;
  const ranges = [];
  for (let i = 0; i < nb; i++) {
    const rec = bufs.get(binds[3 * i]);
    if (!rec) throw new Error(`webgpu: kernel ${name}: binding ${i} uses a freed or unknown buffer`);
    const off = binds[3 * i + 1];
    const len = Math.max(4, binds[3 * i + 2]);
    const start = Math.floor(off / alignment) * alignment;
    const end = Math.min(rec.size, Math.ceil((off + len) / 4) * 4);
    ranges.push({ buffer: rec.buffer, start, end, delta: off - start });
  }
  // A writable binding must not overlap another binding of the same buffer: the read-only side
  // reads a copy (the in-place calls the interface allows: unary, softmax, dx aliasing dy, …).
  for (let i = 0; i < nb; i++) {
    for (let j = 0; j < nb; j++) {
      if (i !== j && !p.writable[i] && p.writable[j] && overlap(ranges[i], ranges[j])) ranges[i] = copyOf(ranges[i]);
    }
  }
  // Two outputs of one allocation whose bound ranges overlap only because each starts at an
  // aligned offset below its view (the bytes they write are apart): one of them writes into a
  // copy of its range, copied back after the dispatch. Outputs whose bytes overlap are a bug.
  const copyBack = [];
  for (let i = 0; i < nb; i++)
    for (let j = i + 1; j < nb; j++) {
      if (!p.writable[i] || !p.writable[j] || !overlap(ranges[i], ranges[j])) continue;
      const [ao, al, bo, bl] = [binds[3 * i + 1], binds[3 * i + 2], binds[3 * j + 1], binds[3 * j + 2]];
      if (ao < bo + bl && bo < ao + al)
        throw new Error(`webgpu: kernel ${name}: outputs ${i} and ${j} overlap (bytes ${ao}+${al} and ${bo}+${bl})`);
      if (bo % 4 || bl % 4)
        throw new Error(`webgpu: kernel ${name}: output ${j} (bytes ${bo}+${bl}) shares a word with output ${i}`);
      const original = ranges[j].buffer;
      ranges[j] = copyOf(ranges[j], GPUBufferUsage.COPY_SRC);
      copyBack.push([ranges[j].buffer, ranges[j].delta, original, bo, bl]);
    }
  // a buffer bound twice (apart), one of them writable: the all-read-write variant
  let shared = false;
  for (let i = 0; i < nb && !shared; i++)
    for (let j = i + 1; j < nb && !shared; j++)
      shared = ranges[i].buffer === ranges[j].buffer && (p.writable[i] || p.writable[j]);
  // where every binding is writable, read-only bindings must not overlap each other either
  for (let i = 0; shared && i < nb; i++)
    for (let j = i + 1; j < nb; j++) if (!p.writable[j] && overlap(ranges[i], ranges[j])) ranges[j] = copyOf(ranges[j]);
  const v = variant(p, shared);
  const slot = dispatches++;
  const words = slot * (PARAM_BYTES / 4);
  paramsCpu.set(params, words);
  for (let i = 0; i < nb; i++) paramsCpu[words + i] = ranges[i].delta;
  const entries = [{ binding: 0, resource: { buffer: paramsBuf, offset: 0, size: PARAM_BYTES } }];
  for (let i = 0; i < nb; i++) {
    const r = ranges[i];
    entries.push({ binding: i + 1, resource: { buffer: r.buffer, offset: r.start, size: r.end - r.start } });
  }
  const group = device.createBindGroup({ layout: v.layout, entries });
  if (!pass) pass = encoder().beginComputePass();
  pass.setPipeline(v.pipeline);
  pass.setBindGroup(0, group, [slot * PARAM_BYTES]);
  pass.dispatchWorkgroups(gx, gy, gz);
  if (copyBack.length) {
    endPass();
    for (const [copy, delta, buffer, at, bytes] of copyBack)
      encoder().copyBufferToBuffer(copy, delta, buffer, at, bytes);
  }
}

/**
 * The pipeline of a kernel: its inputs bound read-only, or (`shared`) every binding as read-write
 * storage. WebGPU validates usage per buffer, not per range: one buffer bound read-only and
 * writable in one dispatch is refused even where the ranges are apart (a session's arena holds
 * every intermediate), while writable bindings of one buffer may coexist when they do not overlap.
 */
function variant(p, shared) {
  const key = shared ? 'shared' : 'plain';
  if (p[key]) return p[key];
  const entries = [
    { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } },
  ];
  for (let i = 0; i < p.writable.length; i++)
    entries.push({
      binding: i + 1,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: shared || p.writable[i] ? 'storage' : 'read-only-storage' },
    });
  const layout = device.createBindGroupLayout({ entries });
  const pipeline = device.createComputePipeline({
    label: `${p.name}${shared ? ' (shared buffers)' : ''}`,
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module: shared ? sharedModule(p) : p.module, entryPoint: 'main' },
  });
  p[key] = { pipeline, layout };
  return p[key];
}

/** The shader with every storage binding declared read_write (the layout must say what it says). */
function sharedModule(p) {
  const code = p.code.replaceAll('var<storage, read>', 'var<storage, read_write>');
  return device.createShaderModule({ code, label: `${p.name} (shared buffers)` });
}

function shader(name, code, writable) {
  if (pipelines.has(name)) return;
  const module = device.createShaderModule({ code, label: name });
  const p = { name, code, module, writable, plain: null, shared: null };
  variant(p, false);
  pipelines.set(name, p);
}

async function settle() {
  const pending = scopes;
  scopes = [];
  for (const s of pending) {
    const e = await s;
    if (e) errors.push(e.message);
  }
  if (lost) errors.push(`the device was lost: ${lost}`);
  const out = errors;
  errors = [];
  return out;
}

/** Copies `bytes` bytes at (id, off) into the reply area (the caller made it large enough). */
async function read(id, off, bytes) {
  const rec = bufs.get(id);
  if (!rec) throw new Error('webgpu: read of a freed or unknown buffer');
  if (bytes > area.length)
    throw new Error(`webgpu: a read of ${bytes} bytes does not fit the ${area.length}-byte area`);
  const start = off & ~3;
  const size = Math.max(4, Math.ceil((off + bytes) / 4) * 4 - start);
  const staging = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  endPass();
  encoder().copyBufferToBuffer(rec.buffer, start, staging, 0, size);
  submit();
  await staging.mapAsync(GPUMapMode.READ);
  area.set(new Uint8Array(staging.getMappedRange(), off - start, bytes));
  staging.unmap();
  staging.destroy();
  return true;
}

async function handle(batch) {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result;
  // A command that fails is reported at the batch's read or sync, and the rest still run: the
  // buffer table stays in step with the caller's, and the reply the caller waits for still comes.
  for (const c of batch) {
    if (c[0] === 'read') result = { read: c };
    else if (c[0] === 'sync') result = { sync: true };
    try {
      switch (c[0]) {
        case 'alloc': {
          const size = bucket(c[2]);
          bufs.set(c[1], { buffer: createStorage(size), size });
          break;
        }
        case 'free': {
          const rec = bufs.get(c[1]);
          bufs.delete(c[1]);
          if (rec) pendingFree.push([rec.size, rec.buffer]);
          break;
        }
        case 'write': {
          const rec = bufs.get(c[1]);
          if (!rec) throw new Error('webgpu: write to a freed or unknown buffer');
          submit();
          device.queue.writeBuffer(rec.buffer, c[2], c[3]);
          break;
        }
        case 'shader':
          shader(c[1], c[2], c[3]);
          break;
        case 'run':
          run(c[1], c[2], c[3], c[4], c[5], c[6]);
          break;
        case 'area':
          area = new Uint8Array(c[1]);
          break;
        case 'exit':
          submit();
          device.destroy();
          if (isNode) process.exit(0);
          else self.close();
          return;
      }
    } catch (e) {
      errors.push(e instanceof Error ? e.message : String(e));
    }
  }
  try {
    submit();
  } catch (e) {
    errors.push(e instanceof Error ? e.message : String(e));
    enc = null;
    pass = null;
    dispatches = 0;
  }
  scopes.push(device.popErrorScope());
  scopes.push(device.popErrorScope());
  if (!result) return;
  if (result.sync) await device.queue.onSubmittedWorkDone();
  let copied = false;
  if (result.read) {
    try {
      copied = await read(result.read[1], result.read[2], result.read[3]);
    } catch (e) {
      errors.push(e instanceof Error ? e.message : String(e));
    }
  }
  const errs = await settle();
  if (errs.length) reply({ error: errs.join('\n') });
  else if (copied) wake(1, result.read[3]);
  else reply({});
}

let chain = Promise.resolve();
function onBatch(batch) {
  chain = chain.then(() => handle(batch));
}

/** The GPU: Dawn's (Node, the `webgpu` package) or the browser's. */
async function gpuApi(flags) {
  if (!isNode) return navigator.gpu;
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const g = create(flags ?? []);
  globalThis.__graduateGpu = g;
  return g;
}

async function start(flags) {
  try {
    if (!isNode && !navigator.gpu) {
      reply({ ok: false, reason: 'this browser has no WebGPU in workers (navigator.gpu)' });
      return;
    }
    gpu = await gpuApi(flags);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) {
      reply({
        ok: false,
        reason: isNode
          ? 'no WebGPU adapter (no Vulkan driver or ICD found; see docs/webgpu.md)'
          : 'navigator.gpu gave no adapter (WebGPU disabled or no usable GPU in this browser)',
      });
      return;
    }
    const want = ['shader-f16', 'subgroups', 'timestamp-query'].filter((f) => adapter.features.has(f));
    const L = adapter.limits;
    const requiredLimits = {};
    for (const k of [
      'maxBufferSize',
      'maxStorageBufferBindingSize',
      'maxComputeWorkgroupStorageSize',
      'maxComputeInvocationsPerWorkgroup',
      'maxComputeWorkgroupSizeX',
      'maxComputeWorkgroupSizeY',
      'maxStorageBuffersPerShaderStage',
    ])
      if (L[k] !== undefined) requiredLimits[k] = L[k];
    device = await adapter.requestDevice({ requiredFeatures: want, requiredLimits });
    device.lost.then((info) => {
      lost = info.message || info.reason || 'unknown reason';
    });
    device.addEventListener('uncapturederror', (ev) => errors.push(ev.error.message));
    alignment = device.limits.minStorageBufferOffsetAlignment;
    paramsBuf = device.createBuffer({
      size: MAX_DISPATCHES * PARAM_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    const info = adapter.info ?? {};
    // the other adapters the system offers (graduate info lists them; the device is the first)
    const describe = (a) => {
      const i = a.info ?? {};
      const name = [i.vendor, i.architecture, i.description || i.device].filter(Boolean).join(' ') || 'unnamed adapter';
      return (i.isFallbackAdapter ?? a.isFallbackAdapter) ? `${name} (software fallback adapter)` : name;
    };
    const others = [];
    for (const options of [{ powerPreference: 'low-power' }, { forceFallbackAdapter: true }]) {
      const other = await gpu.requestAdapter(options).catch(() => null);
      const name = other ? describe(other) : '';
      if (name && name !== describe(adapter) && !others.includes(name)) others.push(name);
    }
    const limits = {};
    for (const k in device.limits) if (typeof device.limits[k] === 'number') limits[k] = device.limits[k];
    reply({
      ok: true,
      adapter: {
        vendor: info.vendor ?? '',
        architecture: info.architecture ?? '',
        device: info.device ?? '',
        description: info.description ?? '',
        isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
      },
      features: [...device.features].sort(),
      limits,
      others,
    });
  } catch (e) {
    reply({ ok: false, reason: e instanceof Error ? e.message : String(e) });
  }
}

if (isNode) {
  ctl = new Int32Array(wt.workerData.ctl);
  area = new Uint8Array(wt.workerData.area);
  wt.parentPort.on('message', onBatch);
  start(wt.workerData.flags);
} else {
  self.onmessage = (e) => {
    if (!e.data.init) return onBatch(e.data);
    ctl = new Int32Array(e.data.init.ctl);
    area = new Uint8Array(e.data.init.area);
    start([]);
  };
}
