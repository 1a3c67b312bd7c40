// npm run bench:serve [-- --artifact FILE] [--quick] [--duration S] [--workers N] [--threads N] [--format json|binary] — the inference
// server under load on loopback: `graduate serve` in a child process, autocannon (64 connections,
// 30 s; --quick 5 s) posting one Fashion-MNIST image to /infer as a JSON tensor (or, --format
// binary, with the binary tensor data extension).
// Phases: dynamic batching (max-batch 64, max-delay 2 ms) vs batching disabled (max-batch 1) at the
// same concurrency (target ≥ 3× throughput, 0 errors); overload with a tiny --max-queue (429/503,
// no crash); SIGTERM during load (every accepted request answered, non-2xx besides 429/503 = 0,
// exit 0). Without --artifact: runs/cnn/model.grad (`npm run main`), else a briefly trained and
// compiled cnn preset cached in runs/bench-serve/.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { main } from '../src/cli/main.js';
import { readIdx } from '../src/data/idx.js';
import { readArtifact } from '../src/graph/artifact.js';

const SELF = fileURLToPath(import.meta.url);
const NODE_ARGS = process.execArgv; // children run like this process (relaxed-SIMD flag, tsx)
const HOST = '127.0.0.1';
const CONNECTIONS = 64;

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
    },
  });
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
    `artifact ${artifact} (${model.nodes.length} nodes), ${workers} worker(s) × ${values.threads} engine thread(s), ${CONNECTIONS} connections, ${duration} s per phase, loopback, ${values.format} requests\n`,
  );
  const common = ['--workers', workers, '--threads', values.threads];

  const batched = await loadPhase('dynamic batching (max-batch 64, max-delay 2 ms)', artifact, name, body, duration, [
    ...common,
    '--max-batch',
    '64',
    '--max-delay-ms',
    '2',
  ]);
  const single = await loadPhase('batching disabled (max-batch 1)', artifact, name, body, duration, [
    ...common,
    '--max-batch',
    '1',
    '--max-delay-ms',
    '0',
  ]);
  const ratio = batched.rps / single.rps;
  console.log(
    `\nthroughput ratio batched / unbatched: ${ratio.toFixed(2)}× (target ≥ 3×) ${ratio >= 3 ? 'PASS' : 'MISS'}`,
  );

  const over = await loadPhase('overload (max-batch 8, max-queue 8)', artifact, name, body, Math.max(3, duration / 3), [
    ...common,
    '--max-batch',
    '8',
    '--max-delay-ms',
    '2',
    '--max-queue',
    '8',
  ]);
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

interface PhaseResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  codes: Record<string, number>;
  exitCode: number | null;
  aliveAfter: boolean;
  serverStats?: { accepted: number; answered: number; ok: number };
}

/** Starts a server child, loads it with autocannon, optionally SIGTERMs it mid-load, then stops it. */
async function loadPhase(
  title: string,
  artifact: string,
  name: string,
  body: Body,
  seconds: number,
  flags: string[],
  sigtermAt?: number,
): Promise<PhaseResult> {
  const { child, url, output } = await startServer(artifact, flags);
  const target = `${url}/v2/models/${name}/infer`;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const opts = { url: target, method: 'POST' as const, ...body };
  await autocannon({ ...opts, connections: 8, duration: 1 }); // warm-up: V8 tiers the kernels up
  await new Promise((r) => setTimeout(r, 200)); // the warm-up's last requests get answered
  const warmOk = await okCount(url); // the server counts them, autocannon does not count all of them
  let load: autocannon.Instance | undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    load = autocannon({ ...opts, connections: CONNECTIONS, duration: seconds, timeout: 10 }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
  if (sigtermAt !== undefined) {
    setTimeout(() => child.kill('SIGTERM'), sigtermAt * 1000);
    void exited.then(() => load?.stop()); // the listener is gone: stop reconnecting
  }
  const r = await done;
  const codes = Object.fromEntries(
    Object.entries(r.statusCodeStats ?? {}).map(([c, s]) => [c, (s as { count: number }).count]),
  );
  let aliveAfter = false;
  if (sigtermAt === undefined) {
    aliveAfter = await fetch(`${url}/v2/health/live`).then(
      (x) => x.ok,
      () => false,
    );
    child.kill('SIGTERM');
  }
  const exitCode = await exited;
  const m = /(\d+) requests accepted, (\d+) answered, (\d+) ok/.exec(output.join(''));
  const serverStats = m
    ? { accepted: Number(m[1]) - warmOk, answered: Number(m[2]) - warmOk, ok: Number(m[3]) - warmOk }
    : undefined;
  const res = {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors,
    non2xx: r.non2xx,
    codes,
    exitCode,
    aliveAfter,
    serverStats,
  };
  console.log(
    `${title.padEnd(48)} ${res.rps.toFixed(0).padStart(6)} req/s  p50 ${res.p50.toFixed(1)} ms  p99 ${res.p99.toFixed(1)} ms  ` +
      `errors ${res.errors}  non-2xx ${res.non2xx}  codes ${JSON.stringify(codes)}`,
  );
  return res;
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

/** Requests the server has answered 200 so far (from its /metrics). */
async function okCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('graduate_requests_total{') && l.includes('outcome="ok"'))
    .reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
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
