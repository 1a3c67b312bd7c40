// `graduate predict ARTIFACT INPUT…`: top-k labels for images (PNG/JPEG, resized and normalized as
// the model expects) or JSON tensors (the model's prepared input: one sample, a batch as nested
// arrays, or { "shape": [...], "data": [...] }).
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { Command } from 'commander';
import { decodeImage, imageInput } from '../data/images.js';
import { FormatError } from '../errors.js';
import { numel } from '../graph/ir.js';
import { type InferenceModel, loadArtifact } from '../runtime/index.js';
import { engine, init } from '../tensor/context.js';

/** The model's input for one image file: resized, channels as the model wants, normalized. */
export function prepareImageFile(model: InferenceModel, file: string): Float32Array {
  return imageInput(model.input, decodeImage(file), file);
}

/** JSON tensor file → prepared samples (count inferred from the model's per-sample size). */
export function readJsonTensor(model: InferenceModel, file: string): { data: Float32Array; batch: number } {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FormatError(`${file}: not a JSON tensor (${(e as Error).message})`);
  }
  const flat = (
    typeof v === 'object' && v !== null && !Array.isArray(v) && 'data' in v
      ? (v as { data: unknown[] }).data
      : Array.isArray(v)
        ? (v as unknown[]).flat(Number.POSITIVE_INFINITY)
        : []
  ) as unknown[];
  const per = numel(model.input.shape);
  if (flat.length === 0 || flat.length % per !== 0 || flat.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
    throw new FormatError(
      `${file}: expected finite numbers in multiples of the model's input [${model.input.shape.join(', ')}] = ${per} values, got ${flat.length}`,
    );
  }
  return { data: Float32Array.from(flat as number[]), batch: flat.length / per };
}

export function predictCommand(): Command {
  return new Command('predict')
    .description('classify images (PNG/JPEG) or JSON tensors with a compiled artifact; prints the top-k labels')
    .argument('<artifact>', 'compiled artifact')
    .argument('<inputs...>', 'image files or JSON tensor files')
    .option('-k, --top <k>', 'labels to show', Number, 3)
    .option('--json', 'print JSON')
    .option('--threads <n>', 'compute threads', Number)
    .action(async (artifact: string, inputs: string[], opts: { top: number; json?: boolean; threads?: number }) => {
      init({ threads: opts.threads });
      const model = await loadArtifact(artifact, { engine: engine(), maxBatch: 64 });
      const results: { input: string; top: { label: string; index: number; score: number }[] }[] = [];
      for (const file of inputs) {
        const ext = extname(file).toLowerCase();
        const { data, batch } =
          ext === '.json' ? readJsonTensor(model, file) : { data: prepareImageFile(model, file), batch: 1 };
        for (let i = 0; i < batch; i += 64) {
          const b = Math.min(64, batch - i);
          const per = data.length / batch;
          model.classify(data.subarray(i * per, (i + b) * per), b, opts.top).forEach((p, j) => {
            results.push({ input: batch > 1 ? `${file}[${i + j}]` : file, top: p.top });
          });
        }
      }
      if (opts.json) console.log(JSON.stringify(results, null, 2));
      else
        for (const r of results)
          console.log(`${r.input}: ${r.top.map((t) => `${t.label} ${(t.score * 100).toFixed(1)}%`).join(', ')}`);
      model.dispose();
    });
}
