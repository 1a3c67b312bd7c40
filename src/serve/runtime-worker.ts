// The body of a serving worker thread: one single-threaded engine and one runtime per served model
// version; runs the batches, decodes the images, featurises the audio clips and tokenises the texts
// the pool posts.
// Compute only, no HTTP.
import { parentPort, workerData } from 'node:worker_threads';
import { parseDevice, selectDevice } from '../backend/select.js';
import { FormatError, ShapeError, ValueError } from '../errors.js';
import { decodeImage } from '../io/image-decode.js';
import { Engine } from '../kernels/engine.js';
import { inputLimits } from '../limits.js';
import { waveformInput, wavInput } from '../runtime/audio-input.js';
import { imageInput } from '../runtime/image-input.js';
import { type InferenceModel, loadArtifact } from '../runtime/index.js';
import { textInput } from '../runtime/text-input.js';
import { buffersOf, type WorkerInit, type WorkerReply, type WorkerRequest } from './workers.js';

const port = parentPort;
if (!port) throw new Error('runtime-worker.ts runs in a worker thread');
const init = workerData as WorkerInit;
const post = (m: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

const limits = inputLimits({ imagePixels: init.maxImagePixels, raiseWith: { imagePixels: init.raiseImagePixels } });

try {
  // One engine per worker; its threads split the layers of one batch (small ones stay on one).
  const engine = Engine.create({ threads: init.threads });
  // --device: a WebGPU device of this worker's own, or the engine
  const choice = parseDevice(init.device);
  const sel = choice === 'cpu' ? undefined : selectDevice(choice, engine);
  if (sel) process.stderr.write(`device: ${sel.device} (${sel.reason})\n`);
  const backend = sel?.gpu;
  const models = new Map<string, InferenceModel>();
  for (const m of init.models)
    models.set(m.key, await loadArtifact(m.path, { engine, backend, maxBatch: init.maxBatch }));
  port.on('message', (job: WorkerRequest) => {
    const model = models.get(job.key) as InferenceModel;
    try {
      if (job.type === 'run') {
        const t0 = performance.now();
        // a graph's named inputs (serve's 'tensor' models) in the graph's order, or the one input
        const output = ArrayBuffer.isView(job.data)
          ? model.run(job.data, job.batch)
          : model.session.runAll(job.data, job.batch);
        post({ type: 'done', id: job.id, output, computeMs: performance.now() - t0 }, buffersOf(output));
      } else {
        const output =
          job.type === 'text'
            ? textInput(model.input, job.texts, "input 'text'", init.textLimits)
            : job.type === 'image'
              ? imageInput(model.input, decodeImage(job.bytes, 'uploaded image', limits), 'uploaded image')
              : 'wav' in job.clip
                ? wavInput(model.input, job.clip.wav, 'uploaded WAV', init.clipLimits)
                : waveformInput(
                    model.input,
                    job.clip.samples,
                    job.clip.rate,
                    job.clip.batch,
                    "input 'waveform'",
                    init.clipLimits,
                  );
        post({ type: 'done', id: job.id, output, computeMs: 0 }, [output.buffer as ArrayBuffer]);
      }
    } catch (e) {
      // the request's data (an undecodable image; a named tensor's value its graph refuses, e.g.
      // an index past a table) rather than the server
      const badInput =
        e instanceof FormatError ||
        (job.type === 'run' && (e instanceof ValueError || e instanceof ShapeError)) ||
        ((job.type === 'audio' || job.type === 'text') && e instanceof ValueError);
      post({ type: 'failed', id: job.id, message: (e as Error).message, badInput });
    }
  });
  post({ type: 'ready' });
} catch (e) {
  post({ type: 'failed', id: -1, message: (e as Error).message, badInput: false });
}
