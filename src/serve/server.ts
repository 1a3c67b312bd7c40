// `graduate serve`: the HTTP side of the inference server (fastify) speaking the Open Inference
// Protocol (KServe v2): health, server/model metadata, model list, infer with JSON tensors, an
// uploaded image or WAV file, an audio model's raw samples (serve/audio.ts) or a text model's
// strings (serve/text.ts), Prometheus /metrics. The main thread only parses, validates and answers; batches
// run in the worker pool. close() drains: new requests get 503, accepted ones are answered, and
// connections without a request in flight are closed at once (else one silent client holds the exit).

import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { parseDevice } from '../backend/select.js';
import { ValueError } from '../errors.js';
import type { Graph } from '../graph/ir.js';
import { cpuCount } from '../kernels/host.js';
import { inputLimits, LIMIT_ENV } from '../limits.js';
import type { ClipLimits } from '../runtime/audio-input.js';
import { topClasses } from '../runtime/index.js';
import type { TextLimits } from '../runtime/text-input.js';
import {
  audioParameters,
  parseAudioRequest,
  SERVE_MAX_AUDIO_SECONDS,
  SERVE_MAX_SAMPLE_RATE,
  uploadKind,
  WAV_TYPES,
} from './audio.js';
import { Batcher, type BatcherOptions, OverloadedError } from './batcher.js';
import { labels, ServerMetrics } from './metrics.js';
import { namedMetadata, namedResponse, parseNamedRequest } from './named.js';
import {
  checkOutput,
  HttpError,
  inferResponse,
  modelMetadata,
  parseInferRequest,
  splitBinaryBody,
} from './protocol.js';
import { parseRecommendRequest, recommendMetadata, recommendResponse } from './recommend.js';
import { type ModelEntry, modelKey, Repository, scanRepository } from './repository.js';
import { parseTextRequest, SERVE_MAX_TEXT_BYTES, textInputMetadata, textParameters } from './text.js';
import { WorkerJobError, WorkerPool } from './workers.js';

export interface ServeOptions extends Partial<BatcherOptions> {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Runtime worker threads (default: cores - 1, at least 1). */
  workers?: number;
  /**
   * Engine threads per runtime worker, splitting the layers of one batch (default 1: the pool of
   * workers is the parallelism). More threads serve large batches faster with fewer workers.
   */
  threads?: number;
  /** Where each worker computes: cpu (default, or $GRADUATE_DEVICE), webgpu (one worker by default) or auto (each worker chooses: backend/select.ts). */
  device?: string;
  /** Largest request body in bytes (413 beyond). */
  bodyLimit?: number;
  /** Largest batch one request may carry (default max(maxBatch, 64)). */
  maxRequestBatch?: number;
  /** Largest uploaded image, width × height, checked before decoding (default GRADUATE_MAX_IMAGE_PIXELS or SERVE_MAX_IMAGE_PIXELS). */
  maxImagePixels?: number;
  /** Longest audio clip in seconds, a WAV upload or a waveform row, checked before resampling (default 30). */
  maxAudioSeconds?: number;
  /** Most UTF-8 bytes in one text of a text model's BYTES input, checked before tokenising (default SERVE_MAX_TEXT_BYTES). */
  maxTextBytes?: number;
  /**
   * Longest a shutdown waits for connections still sending a request (default 30 s, Kubernetes'
   * grace period): a client whose body stalls would otherwise hold the exit for as long as it likes.
   */
  drainTimeoutMs?: number;
}

/** Counts of the infer requests this server accepted (passed validation and queued) and answered. */
export interface ServeStats {
  accepted: number;
  answered: number;
  ok: number;
}

const UPLOAD_TYPES = ['image/png', 'image/jpeg', 'application/octet-stream', ...WAV_TYPES];

/**
 * serve's default image limit, below the 50 MP of the other commands: the models take a few
 * hundred pixels a side at most and the body limit is 16 MiB, while one upload just under 50 MP
 * decodes to 200 MB of RGBA in a worker that other requests share. 16 MP (a 4900×3265 photo,
 * 64 MB decoded) still takes any phone photo short of the 48 MP modes.
 */
export const SERVE_MAX_IMAGE_PIXELS = 16_000_000;
const VERSION = '0.1.0';

type ModelParams = { name: string; version?: string };
type InferRequest = FastifyRequest<{ Params: ModelParams; Querystring: { top_k?: string } }>;

export class InferenceServer {
  readonly stats: ServeStats = { accepted: 0, answered: 0, ok: 0 };
  private draining = false;
  private closed?: Promise<void>;
  /** Open connections → the requests in flight on each. */
  private readonly sockets = new Map<Socket, Set<IncomingMessage>>();

  private constructor(
    readonly app: FastifyInstance,
    readonly repository: Repository,
    readonly metrics: ServerMetrics,
    readonly batcher: Batcher,
    private readonly pool: WorkerPool,
    private readonly drainTimeoutMs: number,
    private readonly clipLimits: ClipLimits,
    private readonly textLimits: TextLimits,
  ) {}

  /** Loads the models (an artifact file or a model repository folder), starts the workers, listens. */
  static async start(source: string, opts: ServeOptions = {}): Promise<InferenceServer> {
    const o = resolveOptions(opts);
    const repository = new Repository(scanRepository(source));
    const clipLimits: ClipLimits = {
      maxSeconds: o.maxAudioSeconds,
      maxSampleRate: SERVE_MAX_SAMPLE_RATE,
      raiseWith: '--max-audio-seconds',
    };
    const textLimits: TextLimits = { maxBytes: o.maxTextBytes, raiseWith: '--max-text-bytes' };
    const pool = await WorkerPool.start(
      {
        models: repository.models.map((m) => ({ key: modelKey(m), path: m.path })),
        maxBatch: o.maxRequestBatch,
        threads: o.threads,
        device: o.device,
        maxImagePixels: o.maxImagePixels,
        raiseImagePixels: imageLimit(opts.maxImagePixels).raiseWith,
        clipLimits,
        textLimits,
      },
      o.workers,
    );
    const metrics = new ServerMetrics();
    const batcher = new Batcher(o, pool, (key, n, ms) => metrics.batch(key, n, ms));
    pool.onIdle = () => batcher.pump();
    const app = Fastify({ bodyLimit: o.bodyLimit, logger: false, return503OnClosing: true });
    const server = new InferenceServer(
      app,
      repository,
      metrics,
      batcher,
      pool,
      o.drainTimeoutMs,
      clipLimits,
      textLimits,
    );
    server.routes(o.maxRequestBatch);
    server.trackConnections();
    try {
      await app.listen({ host: o.host, port: o.port });
    } catch (e) {
      await pool.close();
      throw new ValueError(`cannot listen on ${o.host}:${o.port} (${(e as { code?: string }).code ?? e})`);
    }
    return server;
  }

  /** Base URL, e.g. http://127.0.0.1:8000. */
  get url(): string {
    const a = this.app.server.address();
    if (!a || typeof a === 'string') return String(a);
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  get ready(): boolean {
    return !this.draining && this.pool.size > 0;
  }

  /** Graceful shutdown: refuse new requests (503), answer every accepted one, stop the workers. */
  close(): Promise<void> {
    this.draining = true;
    this.closed ??= (async () => {
      const closing = this.app.close(); // waits for in-flight requests, which wait for their batches
      // Node's closeIdleConnections() (fastify's default) spares a connection that has not sent a
      // request yet, or not all of its headers: a client that connected and stayed silent held the
      // exit until it left. Connections accepted from now on are closed as they come (trackConnections).
      for (const [socket, requests] of this.sockets) if (requests.size === 0) socket.destroy();
      // a request whose body stalls has not reached the batcher: past the deadline its connection
      // goes; requests received whole were accepted and are still answered
      const deadline = setTimeout(() => {
        for (const [socket, requests] of this.sockets)
          if (requests.size === 0 || [...requests].some((r) => !r.complete)) socket.destroy();
      }, this.drainTimeoutMs);
      await closing;
      clearTimeout(deadline);
      await this.batcher.drain();
      await this.pool.close();
    })();
    return this.closed;
  }

  /** Tracks the requests in flight per connection; while draining, a connection closes when its last one ends. */
  private trackConnections(): void {
    const { server } = this.app;
    server.on('connection', (socket: Socket) => {
      // fastify stops listening some ticks after close() begins, after its sweep of idle sockets:
      // a connection accepted meanwhile would hold the exit until its client left
      if (this.draining) {
        socket.destroy();
        return;
      }
      this.sockets.set(socket, new Set());
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('request', (req, res) => {
      const socket = req.socket as Socket;
      const requests = this.sockets.get(socket);
      if (!requests) return; // the connection is gone
      requests.add(req);
      res.once('close', () => {
        requests.delete(req);
        if (requests.size === 0 && this.draining) socket.destroySoon();
      });
    });
  }

  private routes(maxRequestBatch: number): void {
    const { app, repository: repo, metrics } = this;
    for (const type of UPLOAD_TYPES)
      app.addContentTypeParser(type, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    // Responses finished while draining close their connection, so that close() need not wait for keep-alive.
    app.addHook('onSend', async (_req, reply) => {
      if (this.draining) reply.header('connection', 'close');
    });
    app.setNotFoundHandler((req, reply) => {
      reply.code(404).send({ error: `no route ${req.method} ${req.url}` });
    });
    app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
      const status = err instanceof HttpError ? err.status : (err.statusCode ?? 500);
      const outcome = err instanceof HttpError ? err.outcome : status >= 500 ? 'error' : 'bad_request';
      if (req.url.endsWith('/infer')) {
        const m = this.lookup(req.params as ModelParams, false);
        metrics.requests.inc({ ...labels(m ? modelKey(m) : ''), outcome });
      }
      reply.code(status).send({ error: err.message });
    });

    app.get('/v2/health/live', async () => ({ live: true }));
    app.get('/v2/health/ready', async (_req, reply) => reply.code(this.ready ? 200 : 503).send({ ready: this.ready }));
    app.get('/v2', async () => ({
      name: 'graduate',
      version: VERSION,
      extensions: ['model_repository_list', 'binary_tensor_data'],
    }));
    app.get('/v2/models', async () => ({
      models: repo.names().map((n) => ({ ...n, state: this.ready ? 'READY' : 'UNAVAILABLE' })),
    }));
    const metadata = async (req: FastifyRequest<{ Params: ModelParams }>) => {
      const m = this.lookup(req.params) as ModelEntry;
      const versions = repo.names().find((n) => n.name === m.name)?.versions ?? [m.version];
      if (m.recommend) return recommendMetadata(m, m.recommend, versions);
      if (m.named) return namedMetadata(m, m.named, versions);
      const meta = modelMetadata(m, versions);
      if (m.spec.kind === 'text')
        return {
          ...meta,
          inputs: [...meta.inputs, textInputMetadata()],
          parameters: { ...meta.parameters, ...textParameters(m, this.textLimits) },
        };
      if (m.spec.kind !== 'audio') return meta;
      return { ...meta, parameters: { ...meta.parameters, ...audioParameters(m, this.clipLimits) } };
    };
    app.get('/v2/models/:name', metadata);
    app.get('/v2/models/:name/versions/:version', metadata);
    const ready = async (req: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
      const m = this.lookup(req.params) as ModelEntry;
      return reply.code(this.ready ? 200 : 503).send({ name: m.name, version: m.version, ready: this.ready });
    };
    app.get('/v2/models/:name/ready', ready);
    app.get('/v2/models/:name/versions/:version/ready', ready);
    const infer = (req: InferRequest, reply: FastifyReply) => this.infer(req, reply, maxRequestBatch);
    app.post('/v2/models/:name/infer', infer);
    app.post('/v2/models/:name/versions/:version/infer', infer);
    app.get('/metrics', async (_req, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  }

  private lookup(p: ModelParams, strict = true): ModelEntry | undefined {
    const m = this.repository.find(p.name, p.version);
    if (!m && strict)
      throw new HttpError(
        404,
        p.version === undefined ? `unknown model '${p.name}'` : `unknown model '${p.name}' version ${p.version}`,
      );
    return m;
  }

  /**
   * JSON tensors → logits (and top-k labels); an image body → top-k labels; a WAV body or an audio
   * model's 'waveform' tensor → featurised in a worker, then as a tensor request.
   */
  private async infer(req: InferRequest, reply: FastifyReply, maxRequestBatch: number) {
    const m = this.lookup(req.params) as ModelEntry;
    const key = modelKey(m);
    if (this.draining) throw new HttpError(503, 'server is shutting down', 'unavailable');
    const headerLength = req.headers['inference-header-content-length'];
    const raw = req.body instanceof Uint8Array ? req.body : undefined;
    const binary = raw && typeof headerLength === 'string' ? splitBinaryBody(raw, headerLength) : undefined;
    const upload = raw !== undefined && binary === undefined ? uploadKind(req.headers['content-type'], m) : undefined;
    if (m.recommend) return this.inferRecommend(m, m.recommend, req, reply, maxRequestBatch, binary);
    if (m.named) return this.inferNamed(m, m.named, req, reply, maxRequestBatch, binary);
    const parse = (body: unknown, bytes?: Uint8Array) =>
      m.spec.kind === 'audio'
        ? parseAudioRequest(m, body, maxRequestBatch, this.clipLimits, bytes)
        : m.spec.kind === 'text'
          ? parseTextRequest(m, body, maxRequestBatch, this.textLimits, bytes)
          : parseInferRequest(m, body, maxRequestBatch, bytes);
    const k = Number(req.query.top_k ?? 3);
    if (upload && (!Number.isInteger(k) || k < 1))
      throw new HttpError(400, `top_k: expected a positive integer, got '${req.query.top_k}'`);
    const request = upload ? undefined : binary ? parse(binary.header, binary.binary) : parse(req.body);
    return this.accounted(key, reply, async () => {
      const { pool } = this;
      const body = req.body as Uint8Array;
      const data =
        upload === 'image'
          ? await pool.prepareImage(key, body)
          : upload === 'audio'
            ? await pool.prepareAudio(key, { wav: body })
            : request?.texts !== undefined
              ? await pool.prepareText(key, request.texts)
              : request?.sampleRate !== undefined
                ? await pool.prepareAudio(key, {
                    samples: request.data as Float32Array,
                    rate: request.sampleRate,
                    batch: request.batch,
                  })
                : (request?.data as Float32Array | Int32Array);
      const r = await this.batcher.submit(key, data, request?.batch ?? 1);
      const output = r.output as Float32Array;
      checkOutput(m, output);
      this.metrics.queueSeconds.observe(labels(key), r.queueMs / 1000);
      if (upload === 'image')
        return { model_name: m.name, model_version: m.version, predictions: topClasses(output, m.classNames, k) };
      // a WAV upload is answered as a tensor request with top_k: logits and labels
      return inferResponse(m, request ?? { data, batch: 1, topK: Math.min(k, output.length) }, output);
    });
  }

  /**
   * Named tensors of a 'tensor' model (serve/named.ts) → every output asked for, as JSON or binary
   * data. Requests are stacked with others only when every input and output has a batch axis.
   */
  private async inferNamed(
    m: ModelEntry,
    sig: NonNullable<ModelEntry['named']>,
    req: InferRequest,
    reply: FastifyReply,
    maxRequestBatch: number,
    binary: { header: unknown; binary: Uint8Array } | undefined,
  ) {
    const request = binary
      ? parseNamedRequest(m, sig, binary.header, maxRequestBatch, binary.binary)
      : parseNamedRequest(m, sig, req.body, maxRequestBatch);
    const key = modelKey(m);
    return this.accounted(key, reply, async () => {
      const r = await this.batcher.submit(key, request.tensors, request.batch, !sig.stackable);
      this.metrics.queueSeconds.observe(labels(key), r.queueMs / 1000);
      const { body, binary: parts } = namedResponse(m, sig, request, r.output as (Float32Array | Int32Array)[]);
      if (parts.length === 0) return body;
      // binary tensor data extension: the JSON header, then each binary output's bytes in order
      const header = Buffer.from(JSON.stringify(body));
      reply.header('inference-header-content-length', String(header.length));
      reply.type('application/octet-stream');
      return reply.send(Buffer.concat([header, ...parts]));
    });
  }

  /**
   * A recommendation model's request (serve/recommend.ts): external ids → the graph's tensors here,
   * stacked with other requests by the batcher, then item ids, titles and scores.
   */
  private async inferRecommend(
    m: ModelEntry,
    graph: Graph,
    req: InferRequest,
    reply: FastifyReply,
    maxRequestBatch: number,
    binary: { header: unknown; binary: Uint8Array } | undefined,
  ) {
    const request = parseRecommendRequest(m, graph, binary ? binary.header : req.body, maxRequestBatch);
    const key = modelKey(m);
    return this.accounted(key, reply, async () => {
      const r = await this.batcher.submit(key, request.tensors, request.batch, m.named?.stackable !== true);
      this.metrics.queueSeconds.observe(labels(key), r.queueMs / 1000);
      const [items, scores] = r.output as (Float32Array | Int32Array)[];
      return recommendResponse(m, request, request.results(items, scores));
    });
  }

  /** Runs an accepted infer request's work with its metrics: in flight, latency, outcome. */
  private async accounted<R>(key: string, reply: FastifyReply, work: () => Promise<R>): Promise<R> {
    const { metrics, stats } = this;
    metrics.inflight.inc();
    stats.accepted++;
    try {
      const result = await work();
      metrics.requests.inc({ ...labels(key), outcome: 'ok' });
      stats.ok++;
      return result;
    } catch (e) {
      if (e instanceof OverloadedError) throw new HttpError(429, e.message, 'overloaded');
      if (e instanceof WorkerJobError) throw new HttpError(e.badInput ? 400 : 500, e.message);
      throw e;
    } finally {
      stats.answered++;
      metrics.inflight.dec();
      metrics.latencySeconds.observe(labels(key), reply.elapsedTime / 1000);
    }
  }
}

/**
 * serve's image limit and what raises it (named in the 400): the flag, else
 * GRADUATE_MAX_IMAGE_PIXELS as for every command, else serve's own SERVE_MAX_IMAGE_PIXELS.
 */
function imageLimit(flag: number | undefined): { pixels: number; raiseWith: string } {
  if (flag === undefined && process.env[LIMIT_ENV.imagePixels])
    return { pixels: inputLimits().imagePixels, raiseWith: LIMIT_ENV.imagePixels };
  return { pixels: flag ?? SERVE_MAX_IMAGE_PIXELS, raiseWith: '--max-image-pixels' };
}

function resolveOptions(opts: ServeOptions): Required<ServeOptions> {
  const device = parseDevice(opts.device ?? process.env.GRADUATE_DEVICE ?? 'cpu');
  const o = {
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 8000,
    maxBatch: opts.maxBatch ?? 32,
    maxDelayMs: opts.maxDelayMs ?? 2,
    maxQueue: opts.maxQueue ?? 1024,
    // webgpu: one worker, one device (a GPU is not faster shared by workers); auto chooses per worker
    workers: opts.workers ?? (device === 'webgpu' ? 1 : Math.max(1, cpuCount() - 1)),
    device,
    threads: opts.threads ?? 1,
    bodyLimit: opts.bodyLimit ?? 16 * 1024 * 1024,
    maxRequestBatch: 0,
    maxImagePixels: imageLimit(opts.maxImagePixels).pixels,
    maxAudioSeconds: opts.maxAudioSeconds ?? SERVE_MAX_AUDIO_SECONDS,
    maxTextBytes: opts.maxTextBytes ?? SERVE_MAX_TEXT_BYTES,
    drainTimeoutMs: opts.drainTimeoutMs ?? 30_000,
  };
  o.maxRequestBatch = opts.maxRequestBatch ?? Math.max(o.maxBatch, 64);
  const positive = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new ValueError(`${name}: expected an integer ≥ ${min}, got ${v}`);
  };
  positive('--port', o.port, 0);
  positive('--max-batch', o.maxBatch, 1);
  positive('--workers', o.workers, 1);
  positive('--threads', o.threads, 1);
  positive('--max-queue', o.maxQueue, 1);
  positive('--body-limit', o.bodyLimit, 1);
  positive('max request batch', o.maxRequestBatch, 1);
  positive('--max-image-pixels', o.maxImagePixels, 1);
  positive('--max-text-bytes', o.maxTextBytes, 1);
  if (!(o.maxAudioSeconds > 0))
    throw new ValueError(`--max-audio-seconds: expected a number > 0, got ${o.maxAudioSeconds}`);
  if (!(o.drainTimeoutMs >= 0))
    throw new ValueError(`--drain-timeout-ms: expected a number ≥ 0, got ${o.drainTimeoutMs}`);
  if (!(o.maxDelayMs >= 0)) throw new ValueError(`--max-delay-ms: expected a number ≥ 0, got ${o.maxDelayMs}`);
  return o;
}
