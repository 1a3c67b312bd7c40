// The server's Prometheus metrics (prom-client), one registry per server so that several servers
// (tests) do not share counters. Served at GET /metrics.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** How an inference request ended. */
export type Outcome = 'ok' | 'bad_request' | 'not_found' | 'overloaded' | 'unavailable' | 'error';

const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'graduate_requests_total',
    help: 'Inference requests by model and outcome',
    labelNames: ['model', 'version', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly queueSeconds = new Histogram({
    name: 'graduate_queue_seconds',
    help: 'Time a request waited for its batch to run: in the batching queue, behind another batch in a worker, and the hops to the worker and back',
    labelNames: ['model', 'version'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly computeSeconds = new Histogram({
    name: 'graduate_compute_seconds',
    help: 'Time a worker spent running one batch',
    labelNames: ['model', 'version'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly latencySeconds = new Histogram({
    name: 'graduate_request_duration_seconds',
    help: 'Total latency of an inference request, from its arrival to its response',
    labelNames: ['model', 'version'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'graduate_batch_size',
    help: 'Samples per dispatched batch',
    labelNames: ['model', 'version'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });
  readonly inflight = new Gauge({
    name: 'graduate_inflight_requests',
    help: 'Inference requests being processed (queued or computing)',
    registers: [this.registry],
  });
  readonly batches = new Counter({
    name: 'graduate_batches_total',
    help: 'Dispatched batches',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });

  /** Records one dispatched batch of model `key` (name/version). */
  batch(key: string, samples: number, computeMs: number): void {
    const m = labels(key);
    this.batches.inc(m);
    this.batchSize.observe(m, samples);
    this.computeSeconds.observe(m, computeMs / 1000);
  }
}

/** Prometheus labels of a model key 'name/version' ('' for none). */
export function labels(key: string): { model: string; version: string } {
  const [model, version = ''] = key.split('/');
  return { model, version };
}
