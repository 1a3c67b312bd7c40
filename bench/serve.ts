// npm run bench:serve [-- --artifact FILE] [--quick] [--duration S] [--workers N] [--threads N] [--format json|binary]
//                       [--client wrk|autocannon] — the inference server under load on loopback: `graduate serve` in a
// child process, 64 connections for 30 s (--quick 5 s) posting one Fashion-MNIST image to /infer as a JSON tensor
// (or, --format binary, with the binary tensor data extension). The throughput phases use wrk where it is on the
// PATH (`apt-get install wrk`: a C client, so the load generator takes little of the cores it shares with the
// server), else autocannon; the overload and SIGTERM phases use autocannon, which counts each status code.
// Before the phases it times the runtime alone in this process (batch 1 on one thread, batch 64 on one
// and on all threads): the compute ceiling of the batching gain. Each phase prints where the machine's
// CPU went (server main thread, server workers, everything else) and the server's own compute per
// sample, so that a ratio short of its target can be told apart from a CPU budget that cannot hold it.
// Phases: dynamic batching (max-batch 64, max-delay 2 ms) vs batching disabled (max-batch 1) at the
// same concurrency (target ≥ 3× throughput, 0 errors); overload with a tiny --max-queue (429/503,
// no crash); SIGTERM during load (every accepted request answered, non-2xx besides 429/503 = 0,
// exit 0). Without --artifact: runs/cnn/model.grad (`npm run main`), else a briefly trained and
// compiled cnn preset cached in runs/bench-serve/.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, delimiter, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { main } from '../src/cli/main.js';
import { readIdx } from '../src/data/idx.js';
import { readArtifact } from '../src/graph/artifact.js';
import type { Graph } from '../src/graph/ir.js';
import { Engine } from '../src/kernels/engine.js';
import { Session } from '../src/runtime/session.js';

const SELF = fileURLToPath(import.meta.url);
const NODE_ARGS = process.execArgv; // children run like this process (relaxed-SIMD flag, tsx)
const HOST = '127.0.0.1';
const CONNECTIONS = 64;
/** The wrk binary, if on the PATH. */
const WRK = (process.env.PATH ?? '')
  .split(delimiter)
  .map((dir) => dir && join(dir, 'wrk'))
  .find((f) => f && existsSync(f));

// `--child ARGS…`: run the CLI in this process (the server and the model build run as children).
if (process.argv[2] === '--child') {
  process.exitCode = await main(process.argv.slice(3));
} else {
  await bench();
}

async function bench(): Promise<void> {
  const { values } = parseArgs({
    options: {
      artifact: { type: 'string' },
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      workers: { type: 'string' },
      threads: { type: 'string', default: '1' },
      format: { type: 'string', default: 'json' },
      client: { type: 'string' },
    },
  });
  if (values.client !== undefined && values.client !== 'wrk' && values.client !== 'autocannon')
    throw new Error(`--client: expected 'wrk' or 'autocannon', got '${values.client}'`);
  const client: Client = (values.client as Client | undefined) ?? (WRK ? 'wrk' : 'autocannon');
  if (client === 'wrk' && !WRK) throw new Error('--client wrk: no wrk on the PATH (apt-get install wrk)');
  if (values.format !== 'json' && values.format !== 'binary')
    throw new Error(`--format: expected 'json' or 'binary', got '${values.format}'`);
  const duration = Number(values.duration ?? (values.quick ? 5 : 30));
  const workers = values.workers ?? String(Math.max(1, Math.floor(availableParallelism() / 2)));
  const artifact =
    values.artifact ?? (existsSync('runs/cnn/model.grad') ? 'runs/cnn/model.grad' : await buildArtifact());
  const pixels = oneImage(artifact);
  const input = { name: 'input', shape: [1, 28, 28, 1], datatype: 'FP32' };
  const body: Body =
    values.format === 'json'
      ? {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: [{ ...input, data: pixels }] }),
        }
      : binaryBody({ inputs: [{ ...input, parameters: { binary_data_size: pixels.length * 4 } }] }, pixels);
  const model = readArtifact(new Uint8Array(readFileSync(artifact)), artifact);
  const name = basename(artifact, extname(artifact)); // a single artifact serves under its file name
  console.log(
    `artifact ${artifact} (${model.nodes.length} nodes), ${workers} worker(s) × ${values.threads} engine thread(s), ${CONNECTIONS} connections, ${duration} s per phase, loopback, ${values.format} requests, throughput phases loaded by ${client}\n`,
  );
  const common = ['--workers', workers, '--threads', values.threads];
  const ceiling = computeCeiling(model, pixels, Number(values.threads));
  console.log(
    `compute alone, in this process (no HTTP): batch 1 ${ceiling.cfg1.toFixed(0)} samples/s, batch 64 ` +
      `${ceiling.cfg64.toFixed(0)}/s on ${ceiling.threads} engine thread(s): ${ceiling.here.toFixed(2)}× ` +
      `(the ceiling of the batching gain for this configuration); batch 64 on all ${ceiling.cores} cores ` +
      `${ceiling.all64.toFixed(0)}/s over batch 1 on one thread ${ceiling.one1.toFixed(0)}/s: ` +
      `${ceiling.any.toFixed(2)}× (for any configuration)\n`,
  );

  const batched = await loadPhase(
    'dynamic batching (max-batch 64, max-delay 2 ms)',
    artifact,
    name,
    body,
    duration,
    [...common, '--max-batch', '64', '--max-delay-ms', '2'],
    client,
  );
  const single = await loadPhase(
    'batching disabled (max-batch 1)',
    artifact,
    name,
    body,
    duration,
    [...common, '--max-batch', '1', '--max-delay-ms', '0'],
    client,
  );
  const ratio = batched.rps / single.rps;
  console.log(
    `\nthroughput ratio batched / unbatched: ${ratio.toFixed(2)}× (target ≥ 3×) ${ratio >= 3 ? 'PASS' : 'MISS'}; ` +
      `compute ceiling ${ceiling.here.toFixed(2)}× for this configuration, ${ceiling.any.toFixed(2)}× for any`,
  );
  if (batched.cpu && single.compute && batched.compute) {
    // The CPU budget of the target, from the batched phase's own costs per request.
    const need = 3 * single.rps;
    const perReq = batched.cpu.perRequestMs;
    const cores = (need * perReq.total) / 1000;
    console.log(
      `batching's compute gain: ${(single.compute.msPerSample / batched.compute.msPerSample).toFixed(2)}× ` +
        `(${(single.compute.msPerSample * 1000).toFixed(0)} → ${(batched.compute.msPerSample * 1000).toFixed(0)} µs per sample in the workers, ` +
        `mean batch ${batched.compute.meanBatch.toFixed(1)})`,
    );
    console.log(
      `CPU budget of 3×: ${need.toFixed(0)} req/s at the batched phase's ${(perReq.total * 1000).toFixed(0)} µs of CPU per request ` +
        `(server main ${(perReq.main * 1000).toFixed(0)}, workers ${(perReq.workers * 1000).toFixed(0)}, ` +
        `client and the rest ${(perReq.rest * 1000).toFixed(0)}) = ${cores.toFixed(2)} cores; this machine has ${batched.cpu.cores}`,
    );
  }

  const over = await loadPhase(
    'overload (max-batch 8, max-queue 8)',
    artifact,
    name,
    body,
    Math.max(3, duration / 3),
    [...common, '--max-batch', '8', '--max-delay-ms', '2', '--max-queue', '8'],
    'autocannon',
  );
  console.log(
    `overload: ${over.codes[429] ?? 0} × 429, ${over.codes[503] ?? 0} × 503, ${over.codes[200] ?? 0} × 200, server alive after load: ${over.aliveAfter ? 'yes' : 'NO'}, exit code ${over.exitCode}`,
  );

  const term = await loadPhase(
    'SIGTERM during load',
    artifact,
    name,
    body,
    duration,
    [...common, '--max-batch', '64', '--max-delay-ms', '2'],
    'autocannon',
    duration / 2,
  );
  const unexpected = Object.entries(term.codes).filter(([c]) => !/^2/.test(c) && c !== '429' && c !== '503');
  const lost = term.serverStats ? term.serverStats.accepted - term.serverStats.answered : Number.NaN;
  const okMatch = term.serverStats?.ok === (term.codes[200] ?? 0);
  console.log(
    `SIGTERM: exit code ${term.exitCode}, server accepted ${term.serverStats?.accepted} answered ${term.serverStats?.answered} ok ${term.serverStats?.ok}; client 200s ${term.codes[200] ?? 0}, 503s ${term.codes[503] ?? 0}, other non-2xx ${unexpected.reduce((a, [, n]) => a + n, 0)}, connection errors ${term.errors}`,
  );
  const termOk = term.exitCode === 0 && lost === 0 && okMatch && unexpected.length === 0;
  console.log(
    `SIGTERM check (exit 0, every accepted request answered, server ok = client 200s, no other non-2xx): ${termOk ? 'PASS' : 'FAIL'}`,
  );
  const zeroErrors = batched.errors + batched.non2xx + single.errors + single.non2xx === 0;
  console.log(`errors in the throughput phases: ${zeroErrors ? '0 PASS' : 'FAIL'}`);
  if (!zeroErrors || !termOk || !over.aliveAfter || over.exitCode !== 0) process.exitCode = 1;
}

/** Samples per second of the runtime alone: batch 1 and 64 on the served engine threads, batch 1 on one and 64 on all. */
interface Ceiling {
  threads: number;
  cores: number;
  cfg1: number;
  cfg64: number;
  one1: number;
  all64: number;
  /** cfg64 / cfg1: the most batching can gain in the served configuration. */
  here: number;
  /** all64 / one1: the most it can gain in any configuration of this machine. */
  any: number;
}

/**
 * Throughput of the runtime alone (no HTTP, no client, no worker messages), rounds interleaved so that a
 * busy neighbour slows all of them alike: the compute ceiling of dynamic batching, for the served
 * configuration (batch 64 over batch 1 on its engine threads) and for any (batch 64 on every core over
 * batch 1 on one).
 */
function computeCeiling(graph: Graph, pixels: number[], threads: number): Ceiling {
  const cores = availableParallelism();
  const wanted: [number, number][] = [
    [threads, 1],
    [threads, 64],
    [1, 1],
    [cores, 64],
  ];
  const engines = new Map<number, Engine>();
  try {
    const sessions = new Map<number, Session>();
    for (const t of new Set(wanted.map(([t]) => t))) {
      const engine = Engine.create({ threads: t });
      engines.set(t, engine);
      sessions.set(t, new Session(graph, { engine, maxBatch: 64 }));
    }
    const x1 = Float32Array.from(pixels);
    const x64 = new Float32Array(64 * pixels.length);
    for (let i = 0; i < 64; i++) x64.set(x1, i * pixels.length);
    // each (threads, batch) once, however the four coincide
    const runs = new Map(wanted.map(([t, batch]) => [`${t}×${batch}`, { t, batch, ms: [] as number[] }]));
    for (let round = 0; round < 12; round++)
      for (const r of runs.values()) {
        const s = sessions.get(r.t) as Session;
        const t0 = performance.now();
        for (let i = 0; i < 64 / r.batch; i++) s.run(r.batch === 1 ? x1 : x64, r.batch);
        r.ms.push((performance.now() - t0) / (64 / r.batch));
      }
    // samples/s from the median round; the first 2 rounds warm up
    const rate = ([t, batch]: [number, number]) => {
      const ms = (runs.get(`${t}×${batch}`) as { ms: number[] }).ms.slice(2).sort((a, b) => a - b);
      return (batch * 1000) / ms[ms.length >> 1];
    };
    const [cfg1, cfg64, one1, all64] = wanted.map(rate);
    return { threads, cores, cfg1, cfg64, one1, all64, here: cfg64 / cfg1, any: all64 / one1 };
  } finally {
    for (const e of engines.values()) e.dispose();
  }
}

/** One request as autocannon sends it. */
interface Body {
  headers: Record<string, string>;
  body: string | Buffer;
}

/** A KServe v2 binary-tensor-data request: the JSON header, then the float32 bytes. */
function binaryBody(header: unknown, values: number[]): Body {
  const h = Buffer.from(JSON.stringify(header));
  const data = Buffer.from(Float32Array.from(values).buffer);
  return {
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(h.length) },
    body: Buffer.concat([h, data]),
  };
}

type Client = 'wrk' | 'autocannon';

/** What one client run reports. */
interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** Responses by status code (autocannon only; wrk counts non-2xx as a whole). */
  codes: Record<string, number>;
}

interface PhaseResult extends LoadResult {
  exitCode: number | null;
  aliveAfter: boolean;
  serverStats?: { accepted: number; answered: number; ok: number };
  /** Where the CPU went during the load (Linux only). */
  cpu?: CpuSplit;
  /** The server's compute during the load, from its /metrics. */
  compute?: { msPerSample: number; meanBatch: number };
}

/** Starts a server child, loads it, optionally SIGTERMs it mid-load, then stops it. */
async function loadPhase(
  title: string,
  artifact: string,
  name: string,
  body: Body,
  seconds: number,
  flags: string[],
  client: Client,
  sigtermAt?: number,
): Promise<PhaseResult> {
  const { child, url, output } = await startServer(artifact, flags);
  const target = `${url}/v2/models/${name}/infer`;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const opts = { url: target, method: 'POST' as const, ...body };
  await autocannon({ ...opts, connections: 8, duration: 1 }); // warm-up: V8 tiers the kernels up
  await new Promise((r) => setTimeout(r, 200)); // the warm-up's last requests get answered
  const before = await serverCounters(url); // the server counts the warm-up, autocannon does not count all of it
  let stop = () => {};
  if (sigtermAt !== undefined) {
    setTimeout(() => child.kill('SIGTERM'), sigtermAt * 1000);
    void exited.then(() => stop()); // the listener is gone: stop reconnecting
  }
  const cpu0 = cpuSnapshot(child.pid);
  const r =
    client === 'wrk'
      ? await wrkLoad(target, body, seconds)
      : await autocannonLoad(opts, seconds, (f) => {
          stop = f;
        });
  const cpu1 = cpuSnapshot(child.pid);
  let aliveAfter = false;
  let after: Counters | undefined;
  if (sigtermAt === undefined) {
    after = await serverCounters(url).catch(() => undefined);
    aliveAfter = await fetch(`${url}/v2/health/live`).then(
      (x) => x.ok,
      () => false,
    );
    child.kill('SIGTERM');
  }
  const exitCode = await exited;
  const m = /(\d+) requests accepted, (\d+) answered, (\d+) ok/.exec(output.join(''));
  const serverStats = m
    ? { accepted: Number(m[1]) - before.ok, answered: Number(m[2]) - before.ok, ok: Number(m[3]) - before.ok }
    : undefined;
  const res: PhaseResult = { ...r, exitCode, aliveAfter, serverStats };
  if (cpu0 && cpu1) res.cpu = cpuSplit(cpu0, cpu1, after ? after.ok - before.ok : 0);
  if (after && after.samples > before.samples)
    res.compute = {
      msPerSample: ((after.computeSeconds - before.computeSeconds) * 1000) / (after.samples - before.samples),
      meanBatch: (after.samples - before.samples) / (after.batches - before.batches),
    };
  const codes = Object.keys(r.codes).length > 0 ? `  codes ${JSON.stringify(r.codes)}` : '';
  console.log(
    `${title.padEnd(48)} ${res.rps.toFixed(0).padStart(6)} req/s  p50 ${res.p50.toFixed(1)} ms  p99 ${res.p99.toFixed(1)} ms  ` +
      `errors ${res.errors}  non-2xx ${res.non2xx}${codes}`,
  );
  const c = res.cpu;
  if (c)
    console.log(
      `${''.padEnd(48)} CPU of ${c.cores} cores: server main ${pct(c.main)}, server's other threads (workers) ${pct(c.workers)}, ` +
        `client and the rest ${pct(c.rest)}, idle ${pct(c.idle)}` +
        (res.compute
          ? `; compute ${(res.compute.msPerSample * 1000).toFixed(0)} µs/sample, mean batch ${res.compute.meanBatch.toFixed(1)}`
          : ''),
    );
  return res;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(0)}%`;
}

/** autocannon, 64 connections; `onStart` gets a function that stops it. */
async function autocannonLoad(
  opts: { url: string; method: 'POST' } & Body,
  seconds: number,
  onStart: (stop: () => void) => void,
): Promise<LoadResult> {
  const r = await new Promise<autocannon.Result>((resolve, reject) => {
    const load = autocannon({ ...opts, connections: CONNECTIONS, duration: seconds, timeout: 10 }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
    onStart(() => load.stop());
  });
  const codes = Object.fromEntries(
    Object.entries(r.statusCodeStats ?? {}).map(([c, s]) => [c, (s as { count: number }).count]),
  );
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx, codes };
}

/** wrk: one client thread, 64 connections, the body from a Lua script; its done() prints one summary line. */
async function wrkLoad(target: string, body: Body, seconds: number): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'graduate-wrk-'));
  try {
    writeFileSync(join(dir, 'body'), body.body);
    const headers = Object.entries(body.headers)
      .map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)
      .join('\n');
    writeFileSync(
      join(dir, 'load.lua'),
      `local f = assert(io.open(${JSON.stringify(join(dir, 'body'))}, "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
${headers}
function done(s, latency, requests)
  local e = s.errors
  io.write(string.format("GRADUATE %d %d %d %d %d %d\\n", s.requests, s.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))
end
`,
    );
    const out = await new Promise<string>((resolve, reject) => {
      const c = spawn(
        WRK as string,
        [
          '-t1',
          `-c${CONNECTIONS}`,
          `-d${Math.max(1, Math.round(seconds))}s`,
          '--timeout',
          '10s',
          '-s',
          join(dir, 'load.lua'),
          target,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const chunks: Buffer[] = [];
      c.stdout.on('data', (d: Buffer) => chunks.push(d));
      c.once('error', reject);
      c.once('exit', (code) =>
        code === 0 ? resolve(Buffer.concat(chunks).toString()) : reject(new Error(`wrk exited with ${code}`)),
      );
    });
    const m = /GRADUATE (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(out);
    if (!m) throw new Error(`wrk printed no summary:\n${out}`);
    const [requests, micros, p50, p99, errors, non2xx] = m.slice(1).map(Number);
    return { rps: requests / (micros / 1e6), p50: p50 / 1000, p99: p99 / 1000, errors, non2xx, codes: {} };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU seconds so far: the machine's busy and idle (all cores), and the server process's main thread and the rest of it. */
interface CpuSnapshot {
  cpus: number;
  busy: number;
  idle: number;
  main: number;
  server: number;
}

interface CpuSplit {
  cores: number;
  /** Shares of the machine's CPU time over the load (they add up to 1). */
  main: number;
  /** The server's other threads: its runtime workers, and V8's and libuv's helpers. */
  workers: number;
  rest: number;
  idle: number;
  /** CPU milliseconds per answered request. */
  perRequestMs: { main: number; workers: number; rest: number; total: number };
}

/** Reads /proc (Linux); undefined elsewhere. */
function cpuSnapshot(pid: number | undefined): CpuSnapshot | undefined {
  if (pid === undefined || !existsSync(`/proc/${pid}/task`)) return undefined;
  const tick = 100; // USER_HZ: /proc counts in 1/100 s on Linux
  const lines = readFileSync('/proc/stat', 'utf8').split('\n');
  const cpus = lines.filter((l) => /^cpu\d/.test(l)).length; // /proc/stat sums these, whatever this process may use
  const fields = lines[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] + fields[4]) / tick; // idle + iowait
  const busy = fields.slice(0, 8).reduce((a, b) => a + b, 0) / tick - idle; // user..steal
  let main = 0;
  let server = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd on
    const t = (Number(f[11]) + Number(f[12])) / tick; // utime + stime
    server += t;
    if (tid === String(pid)) main = t;
  }
  return { cpus, busy, idle, main, server };
}

function cpuSplit(a: CpuSnapshot, b: CpuSnapshot, answered: number): CpuSplit {
  const total = b.busy - a.busy + (b.idle - a.idle);
  const main = b.main - a.main;
  const workers = b.server - a.server - main;
  const rest = Math.max(0, b.busy - a.busy - main - workers); // the two clocks tick apart: a few ticks below 0 mean 0
  const per = (x: number) => (answered > 0 ? (x * 1000) / answered : Number.NaN);
  return {
    cores: b.cpus,
    main: main / total,
    workers: workers / total,
    rest: rest / total,
    idle: (b.idle - a.idle) / total,
    perRequestMs: { main: per(main), workers: per(workers), rest: per(rest), total: per(main + workers + rest) },
  };
}

async function startServer(
  artifact: string,
  flags: string[],
): Promise<{ child: ChildProcess; url: string; output: string[] }> {
  const child = spawn(
    process.execPath,
    [...NODE_ARGS, SELF, '--child', 'serve', artifact, '--host', HOST, '--port', '0', ...flags],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const output: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start in 60 s')), 60_000);
    child.stdout?.on('data', (d: Buffer) => {
      output.push(String(d));
      const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(output.join(''));
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with code ${code} before listening`)));
  });
  return { child, url, output };
}

interface Counters {
  ok: number;
  computeSeconds: number;
  samples: number;
  batches: number;
}

/** The server's counters so far, from its /metrics: requests answered 200, compute seconds, samples and batches run. */
async function serverCounters(url: string): Promise<Counters> {
  const lines = (await (await fetch(`${url}/metrics`)).text()).split('\n');
  const sum = (prefix: string, filter = '') =>
    lines
      .filter((l) => l.startsWith(prefix) && l.includes(filter))
      .reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
  return {
    ok: sum('graduate_requests_total{', 'outcome="ok"'),
    computeSeconds: sum('graduate_compute_seconds_sum'),
    samples: sum('graduate_batch_size_sum'),
    batches: sum('graduate_batch_size_count'),
  };
}

/** A Fashion-MNIST test image normalized as the artifact expects (784 values). */
function oneImage(artifact: string): number[] {
  const spec = readArtifact(new Uint8Array(readFileSync(artifact)), artifact).meta.input;
  const file = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';
  const pixels = existsSync(file) ? (readIdx(file).data as Uint8Array).subarray(0, 784) : new Uint8Array(784);
  return Array.from(pixels, (p) => (p * (spec.scale ?? 1 / 255) - (spec.mean?.[0] ?? 0)) / (spec.std?.[0] ?? 1));
}

/** Trains the cnn preset briefly and graduates it (int8, 50% pruned), cached in runs/bench-serve/. */
async function buildArtifact(): Promise<string> {
  const dir = 'runs/bench-serve';
  const file = `${dir}/model.grad`;
  if (existsSync(file)) return file;
  console.log('no runs/cnn/model.grad: training the cnn preset for 1 epoch on 3000 images and compiling it…');
  const run = (args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const c = spawn(process.execPath, [...NODE_ARGS, SELF, '--child', ...args], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`graduate ${args[0]} exited with ${code}`))));
    });
  await run([
    'train',
    '--preset',
    'cnn',
    '--data',
    'fashion-mnist',
    '--epochs',
    '1',
    '--limit',
    '3000',
    '--out',
    dir,
    '--overwrite', // an earlier interrupted run may have left a checkpoint without model.grad
    '--no-progress',
  ]);
  await run([
    'compile',
    dir,
    '--data',
    'fashion-mnist',
    '--prune',
    '0.5',
    '--quantize',
    'int8',
    '--calib-samples',
    '300',
    '--test-limit',
    '500',
    '--max-accuracy-drop',
    '100',
    '-o',
    file,
  ]);
  return file;
}
