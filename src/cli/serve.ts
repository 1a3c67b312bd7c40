// `graduate serve ARTIFACT|MODEL_REPOSITORY_DIR`: the inference server (KServe v2 / Open Inference
// Protocol) until SIGTERM or SIGINT, then a graceful drain and exit 0.

import { Command } from 'commander';
import { parseDevice } from '../backend/select.js';
import { ValueError } from '../errors.js';
import { InferenceServer, SERVE_MAX_IMAGE_PIXELS, type ServeOptions } from '../serve/server.js';
import { DEVICE_HELP } from './device.js';

const num = (name: string, integer: boolean) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)))
    throw new ValueError(`--${name}: expected ${integer ? 'an integer' : 'a number'}, got '${v}'`);
  return n;
};

export function serveCommand(): Command {
  return new Command('serve')
    .description(
      'serve compiled artifacts over HTTP (KServe v2 / Open Inference Protocol) with dynamic batching; GET /v2/models lists the models',
    )
    .argument('<path>', 'an artifact, or a model repository folder: <model>/<version>/model.grad or <model>.grad')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0: any free port)', num('port', true), 8000)
    .option('--max-batch <n>', 'samples per batch (1 disables dynamic batching)', num('max-batch', true), 32)
    .option(
      '--max-delay-ms <ms>',
      "longest wait of a queue's oldest request before its batch goes",
      num('max-delay-ms', false),
      2,
    )
    .option('--workers <n>', 'runtime worker threads (default: cores - 1)', num('workers', true))
    .option('--threads <n>', 'engine threads per worker, splitting the layers of a batch', num('threads', true), 1)
    .option(
      '--device <device>',
      `${DEVICE_HELP}; each worker opens its own device (webgpu: one worker unless --workers)`,
      parseDevice,
    )
    .option('--max-queue <n>', 'queued samples per model beyond which requests get 429', num('max-queue', true), 1024)
    .option('--body-limit <bytes>', 'largest request body (413 beyond)', num('body-limit', true), 16 * 1024 * 1024)
    .option(
      '--max-image-pixels <n>',
      `largest uploaded image, width × height, checked before decoding (400 beyond; default $GRADUATE_MAX_IMAGE_PIXELS or ${SERVE_MAX_IMAGE_PIXELS}, below other commands' 50000000: one upload decodes to 4 bytes a pixel in a shared worker)`,
      num('max-image-pixels', true),
    )
    .option(
      '--max-audio-seconds <s>',
      'longest audio clip (WAV upload or waveform tensor) an audio model is sent, checked before resampling (400 beyond)',
      num('max-audio-seconds', false),
      30,
    )
    .option(
      '--max-text-bytes <n>',
      'most UTF-8 bytes in one text a text model is sent (BYTES input), checked before tokenising (400 beyond)',
      num('max-text-bytes', true),
      256 * 1024,
    )
    .option(
      '--drain-timeout-ms <ms>',
      'on SIGTERM, longest wait for connections still sending a request before they are closed',
      num('drain-timeout-ms', false),
      30_000,
    )
    .action(async (path: string, opts: ServeOptions) => {
      const server = await InferenceServer.start(path, opts);
      const models = server.repository.models.map((m) => `${m.name}/${m.version}`).join(', ');
      const b = server.batcher.opts;
      console.log(
        `graduate serve: ${models} on ${server.url} (max-batch ${b.maxBatch}, max-delay ${b.maxDelayMs} ms, max-queue ${b.maxQueue})`,
      );
      const signal = await new Promise<string>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      console.log(`graduate serve: ${signal}, draining`);
      await server.close();
      const s = server.stats;
      console.log(`graduate serve: stopped; ${s.accepted} requests accepted, ${s.answered} answered, ${s.ok} ok`);
    });
}
