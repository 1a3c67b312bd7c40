// `graduate predict ARTIFACT INPUT…`: top-k labels for images (PNG/JPEG, resized and normalized as
// the model expects), WAV clips (audio models: features as the model records them), texts (text
// models: --text, --text-file, stdin; tokenised by the model's recorded tokenizer) or JSON tensors
// (the model's prepared input, as run and serve take it (docs/inputs.md): one sample, a batch as
// nested arrays, or { "shape": [...], "data": [...] }).
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { Command } from 'commander';
import type { AudioFeatureSpec } from '../audio/features.js';
import { prepareSamples } from '../audio/input.js';
import { readWav } from '../audio/read-wav.js';
import { readTextFile } from '../data/text-file.js';
import { FormatError, fmtShape, GraduateError } from '../errors.js';
import { numel } from '../graph/ir.js';
import { firstNonFinite } from '../io/fields.js';
import { decodeImage } from '../io/image-decode.js';
import { jsonTensor } from '../io/values.js';
import { imageInput, tensorShape } from '../runtime/image-input.js';
import { type InferenceModel, loadArtifact, type TensorInfo, topClasses } from '../runtime/index.js';
import { textInput, textPreparation } from '../runtime/text-input.js';
import { engine, init } from '../tensor/context.js';
import { applyDevice, DEVICE_HELP } from './device.js';

/** The model's input for one image file: resized, channels as the model wants, normalized. */
export function prepareImageFile(model: InferenceModel, file: string): Float32Array {
  return imageInput(model.input, decodeImage(file), file);
}

/** The model's input for one WAV file: its recorded features (audio/input.ts), standardised. */
export function prepareWavFile(model: InferenceModel, file: string): Float32Array {
  const { kind, audio, mean, std } = model.input;
  if (kind !== 'audio') throw new FormatError(`${file}: a WAV clip, but the model takes ${kind} input (not audio)`);
  // graph/validate.ts checked the spec when the artifact was read; readWav checks the file's size
  const spec = audio as AudioFeatureSpec;
  const wav = readWav(file, { sampleRate: spec.sampleRate });
  return prepareSamples(wav.samples, wav.sampleRate, { audio: spec, mean, std });
}

/**
 * JSON tensor file → prepared samples (count inferred from the model's per-sample size). Nested
 * arrays may be one sample (the input's rank deep) or a batch (one level more), never deeper.
 */
export function readJsonTensor(model: InferenceModel, file: string): { data: Float32Array; batch: number } {
  let v: unknown;
  const text = readTextFile(file, 'JSON tensor');
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${file}: not a JSON tensor (${(e as Error).message})`);
  }
  const shape = tensorShape(model.input); // the tensor run takes (NCHW where the artifact declares it)
  const per = numel(shape);
  const nested =
    typeof v === 'object' && v !== null && !Array.isArray(v) && 'data' in v ? (v as { data: unknown }).data : v;
  const data = jsonTensor(file, Array.isArray(nested) ? nested : [], {
    dtype: 'float32',
    maxDepth: shape.length + 1,
    depthOf: `the model's input ${fmtShape(shape)} as a batch of samples`,
    checkCount: (count) =>
      count > 0 && count % per === 0
        ? undefined
        : `expected finite numbers in multiples of the model's input ${fmtShape(shape)} = ${per} values, got ${count}`,
  }) as Float32Array;
  return { data, batch: data.length / per };
}

/** One text to classify and how the output names it. */
export interface NamedText {
  name: string;
  text: string;
}

/** How a --text argument is named in the output: its first 40 characters, quoted. */
const quoted = (text: string) => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);

/**
 * The texts of --text and --text-file: each --text is one text; a file (`-`: stdin) holds one
 * text per non-blank line (named FILE:LINE), or with `whole` is one text (named FILE).
 */
export function gatherTexts(texts: readonly string[], files: readonly string[], whole: boolean): NamedText[] {
  const out: NamedText[] = texts.map((text) => ({ name: quoted(text), text }));
  for (const file of files) {
    const body = file === '-' ? readFileSync(0, 'utf8') : readTextFile(file, 'text file');
    const name = file === '-' ? '<stdin>' : file;
    if (whole) out.push({ name, text: body });
    else
      body.split(/\r?\n/).forEach((line, i) => {
        if (line.trim() !== '') out.push({ name: `${name}:${i + 1}`, text: line });
      });
  }
  return out;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function predictCommand(): Command {
  return new Command('predict')
    .description(
      'classify images (PNG/JPEG), WAV clips, texts or JSON tensors with a compiled artifact; prints the top-k labels',
    )
    .argument('<artifact>', 'compiled artifact')
    .argument('[inputs...]', 'image files, WAV files (audio models) or JSON tensor files')
    .option('-k, --top <k>', 'labels to show', Number, 3)
    .option('--text <text>', 'a text to classify (text models; repeatable)', collect, [])
    .option('--text-file <file>', "texts to classify, one per line ('-': stdin; repeatable)", collect, [])
    .option('--whole-file', 'each --text-file is one text, not one text per line')
    .option('--json', 'print JSON')
    .option('--threads <n>', 'compute threads', Number)
    .option('--device <device>', DEVICE_HELP)
    .action(async (artifact: string, inputs: string[], opts: PredictOptions) => {
      const texts = opts.text.length + opts.textFile.length > 0;
      if (!texts && inputs.length === 0)
        throw new FormatError('predict: give input files, or texts with --text / --text-file (text models)');
      if (texts && inputs.length > 0)
        throw new FormatError(
          `predict: --text/--text-file and input files (${inputs[0]}) cannot be mixed: a model takes one kind of input`,
        );
      init({ threads: opts.threads });
      const { backend } = applyDevice(opts.device);
      const model = await loadArtifact(artifact, { engine: engine(), backend, maxBatch: 64 });
      if (model.input.kind === 'tensor' || model.inputs.length !== 1) {
        const list = (ts: readonly TensorInfo[]) => ts.map((t) => `${t.name} ${t.dtype} [${t.shape.join(', ')}]`);
        model.dispose();
        throw new FormatError(
          `${artifact}: takes named tensors (${list(model.inputs).join(', ') || 'no inputs'} → ${list(model.outputs).join(', ')}), not images or one class-score tensor: ` +
            'predict cannot run it; use `graduate serve` (KServe v2: named inputs, every output) or InferenceModel.runNamed (graduate/runtime)',
        );
      }
      const results: { input: string; top: { label: string; index: number; score: number }[] }[] = [];
      try {
        if (texts) textPreparation(model.input, `${artifact}: --text/--text-file`);
        else if (model.input.kind === 'text')
          for (const file of inputs)
            if (extname(file).toLowerCase() !== '.json')
              throw new FormatError(
                `${file}: the model takes text; give texts with --text or --text-file (a JSON tensor file holds token ids)`,
              );
      } catch (e) {
        model.dispose();
        throw e;
      }
      const batches = texts ? [textBatch(model, gatherTexts(opts.text, opts.textFile, opts.wholeFile === true))] : [];
      for (const file of inputs) {
        const ext = extname(file).toLowerCase();
        batches.push(
          ext === '.json'
            ? { ...readJsonTensor(model, file), name: (j, batch) => (batch > 1 ? `${file}[${j}]` : file) }
            : {
                data: ext === '.wav' ? prepareWavFile(model, file) : prepareImageFile(model, file),
                batch: 1,
                name: () => file,
              },
        );
      }
      for (const { data: raw, batch, name: nameOf } of batches) {
        // a JSON tensor of a text model holds token ids
        const data = model.input.kind === 'text' && raw instanceof Float32Array ? tokenIds(raw) : raw;
        const per = data.length / batch;
        const name = (j: number) => nameOf(j, batch);
        for (let i = 0; i < batch; i += 64) {
          const b = Math.min(64, batch - i);
          const logits = model.run(data.subarray(i * per, (i + b) * per), b); // [b, C]
          const C = logits.length / b;
          const bad = firstNonFinite(logits);
          if (bad >= 0)
            throw new GraduateError(
              `${artifact}: the model's output for ${name(i + Math.floor(bad / C))} is not finite (a broken model, or an input it overflows on)`,
            );
          for (let j = 0; j < b; j++)
            results.push({
              input: name(i + j),
              top: topClasses(logits.subarray(j * C, (j + 1) * C), model.classNames, opts.top),
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

interface PredictOptions {
  top: number;
  text: string[];
  textFile: string[];
  wholeFile?: boolean;
  json?: boolean;
  threads?: number;
  device?: string;
}

/** Samples to run and how each is named in the output. */
interface Batch {
  data: Float32Array | Int32Array;
  batch: number;
  name: (j: number, batch: number) => string;
}

/** Texts → one batch of token ids (runtime/text-input.ts: the model's tokenizer, as in training). */
function textBatch(model: InferenceModel, texts: NamedText[]): Batch {
  if (texts.length === 0) throw new FormatError('predict: --text-file holds no texts (every line is blank)');
  const data = textInput(
    model.input,
    texts.map((t) => t.text),
    'text',
  );
  return { data, batch: texts.length, name: (j) => texts[j].name };
}

/** A text model's JSON tensor (read as floats) → int32 token ids; an error names a non-integer. */
function tokenIds(x: Float32Array): Int32Array {
  const out = Int32Array.from(x);
  const i = out.findIndex((v, k) => v !== x[k]);
  if (i >= 0) throw new FormatError(`JSON tensor: data[${i}] = ${x[i]} is not an integer token id`);
  return out;
}
