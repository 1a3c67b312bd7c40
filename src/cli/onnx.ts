// `graduate export SOURCE -o model.onnx` and `graduate import model.onnx -o ARTIFACT`: models out
// to ONNX (f32, or QDQ for int8 artifacts) and in from ONNX (to the IR, through the compiler's
// passes, as an artifact that compile, inspect, predict and serve take). Import takes the input
// preparation the model was trained with (--input-scale, --mean, --std, --layout) and its labels;
// both directions keep one input contract (docs/inputs.md). `graduate export RUN --towers -o DIR`
// writes a recommendation model's user and item towers instead (recsys/export-onnx.ts).
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { runPasses } from '../compile/passes/index.js';
import { readTextFile } from '../data/text-file.js';
import { ValueError } from '../errors.js';
import { writeArtifact } from '../graph/artifact.js';
import type { Graph } from '../graph/ir.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { readFileChecked } from '../io/read.js';
import { type DeclaredInput, importOnnx } from '../onnx/import.js';
import { exportOnnx } from '../onnx/index.js';
import { isRecsysCheckpoint, loadRecsysModel } from '../recsys/checkpoint.js';
import { exportTowers, type TowerMeta, towerGraphs, towersIndex } from '../recsys/export-onnx.js';
import { describePreparation } from '../runtime/image-input.js';
import { graphSignature, type TensorInfo } from '../runtime/signature.js';
import { graphFromSource } from './source.js';

export function exportCommand(): Command {
  return new Command('export')
    .description(
      'write a checkpoint or artifact as ONNX (opset 17; int8 as QDQ); input: the prepared tensor serve and run take (docs/inputs.md)',
    )
    .argument('<source>', 'checkpoint directory (train --out) or compiled artifact')
    .requiredOption('-o, --output <file>', 'ONNX file to write (--towers: a folder)')
    .option('--raw-input', 'the graph takes raw NHWC pixels (0..255) and applies scale, mean and std itself')
    .option(
      '--towers',
      'a recommendation checkpoint (train --preset mf|two-tower): its user and item towers as user_tower.onnx and item_tower.onnx (+ towers.json, the id maps) in the folder -o',
    )
    .action((path: string, f: { output: string; rawInput?: boolean; towers?: boolean }) => {
      if (f.towers || isRecsysCheckpoint(path)) return exportTowersTo(path, f.output, f);
      const src = graphFromSource(path);
      try {
        // checkpoints: inference form first (dropout gone, BatchNorm folded, epilogues fused)
        const graph = src.kind === 'checkpoint' ? runPasses(src.graph).graph : src.graph;
        const bytes = exportOnnx(graph, { rawInput: f.rawInput });
        writeFileAtomicSync(f.output, bytes);
        console.log(`wrote ${f.output} (${bytes.length} bytes, ${graph.nodes.length} Graduate nodes)`);
        const text = graph.values[graph.inputs[0]]?.dtype === 'int32';
        console.log(
          f.rawInput
            ? 'input: raw NHWC pixels (the graph prepares them)'
            : text
              ? `input: int64 token ids [N, ${graph.meta.input.shape.join(', ')}], ids ≤ 0 pad (declared in metadata_props 'input'${graph.meta.input.tokenizer === undefined ? '' : "; the tokenizer in 'tokenizer'"})`
              : `input: ${describePreparation(graph.meta.input)} (declared in metadata_props 'input')`,
        );
      } finally {
        src.dispose();
      }
    });
}

/** `export RUN --towers -o DIR`: the towers of a recommendation checkpoint, and a summary. */
function exportTowersTo(path: string, dir: string, f: { rawInput?: boolean; towers?: boolean }): void {
  if (!f.towers)
    throw new ValueError(
      `${path} is a recommendation checkpoint: it exports as two towers (graduate export ${path} --towers -o DIR)`,
    );
  if (!isRecsysCheckpoint(path))
    throw new ValueError(`--towers: ${path} is not a recommendation checkpoint (train --preset mf|two-tower --out)`);
  if (f.rawInput) throw new ValueError('--raw-input: the towers take ids, not pixels');
  let isFile = false;
  try {
    isFile = statSync(dir).isFile();
  } catch {
    // not there yet: made below
  }
  if (isFile) throw new ValueError(`-o ${dir}: a file; --towers writes a folder`);
  const loaded = loadRecsysModel(path);
  try {
    const graphs = towerGraphs(loaded);
    const bytes = exportTowers(loaded, graphs);
    mkdirSync(dir, { recursive: true });
    for (const tower of ['user', 'item'] as const) {
      const file = join(dir, `${tower}_tower.onnx`);
      writeFileAtomicSync(file, bytes[tower]);
      const g = graphs[tower];
      // int32 ids go out as ONNX int64 (exportOnnx's `named` export), vectors as float32
      const io = (names: string[], dtype: string) =>
        names.map((v) => `${v} ${dtype} [${g.values[v].shape.map((d) => (d === -1 ? 'N' : d)).join(', ')}]`).join(', ');
      console.log(
        `wrote ${file} (${bytes[tower].length} bytes): ${io(g.inputs, 'int64')} → ${io(g.outputs, 'float32')}`,
      );
    }
    const index = join(dir, 'towers.json');
    const ids = towersIndex(loaded);
    writeFileAtomicSync(index, `${JSON.stringify(ids)}\n`);
    console.log(`wrote ${index} (row → external id of users and items${ids.genres ? ', item genre bags' : ''})`);
    const meta = graphs.user.meta.recsys as TowerMeta;
    console.log(`score: ${meta.score}`);
    console.log('ids are rows of towers.json; -1 pads a history or genre bag, and stands for an unknown user or item');
  } finally {
    loaded.model.dispose();
  }
}

interface ImportFlags {
  output: string;
  inputShape: Record<string, number[]>;
  fixInput: Record<string, number[]>;
  inputScale?: number;
  mean?: number[];
  std?: number[];
  layout?: 'NHWC' | 'NCHW';
  labels?: string;
}

export function importCommand(): Command {
  return new Command('import')
    .description('read an ONNX model into a Graduate artifact (then compile / eval / inspect / serve it)')
    .argument('<model>', 'ONNX file (.onnx); external data files are read from its folder')
    .requiredOption('-o, --output <file>', 'artifact to write')
    .option(
      '--input-scale <x>',
      'the model was trained on raw · x (pixels 0..255 for images), e.g. 1/255',
      positive('input-scale'),
    )
    .option('--mean <m,...>', 'then minus mean[c] (one value, or one per channel)', list('mean', false))
    .option('--std <s,...>', 'then divided by std[c] (one value, or one per channel)', list('std', true))
    .option('--layout <nchw|nhwc>', "layout of the input tensor clients pass (default nhwc, Graduate's)", layout)
    .option('--labels <file>', 'class names, one per line, one per output')
    .option(
      '--input-shape <name=d,...>',
      'shape of an input the model leaves symbolic (repeatable); a first dimension of -1 keeps a batch axis',
      named('input-shape', true),
      {},
    )
    .option(
      '--fix-input <name=v,...>',
      'fix an input to these values at import (repeatable): a shape or axes input the graph needs as a constant',
      named('fix-input', false),
      {},
    )
    .action((path: string, f: ImportFlags) => {
      const input: DeclaredInput = { scale: f.inputScale, mean: f.mean, std: f.std, layout: f.layout };
      if (f.labels) input.classNames = readLabels(f.labels);
      const given = (r: Record<string, number[]>) => (Object.keys(r).length ? r : undefined);
      const fixed = given(f.fixInput);
      const graph = importOnnx(readFileChecked(path, 'ONNX model'), path, {
        input,
        shapes: given(f.inputShape),
        constants: fixed && Object.fromEntries(Object.entries(fixed).map(([k, data]) => [k, { data }])),
        warn: (m) => console.error(`warning: ${m}`),
      });
      const { graph: g } = runPasses(graph);
      const bytes = writeArtifact(g, 'graduate import');
      writeFileAtomicSync(f.output, bytes);
      console.log(`${path}: ${graph.nodes.length} nodes imported, ${g.nodes.length} after passes`);
      if (g.meta.input.kind === 'tensor') {
        for (const line of describeNamed(g)) console.log(line);
        console.log(`wrote ${f.output} (${bytes.length} bytes)`);
        return;
      }
      const onnx = g.meta.onnx as { inputName?: string; inputLayout?: string } | undefined;
      const spec = g.meta.input;
      console.log(
        `input: ${describePreparation(spec)}${onnx?.inputLayout ? ` (ONNX input '${onnx.inputName}' is ${onnx.inputLayout})` : ''}`,
      );
      if (onnx?.inputLayout === 'NCHW' && spec.layout !== 'NCHW')
        console.log('  tensors are passed NHWC (run, serve, export); --layout nchw keeps the ONNX file’s NCHW');
      console.log(`${g.meta.classNames.length} classes: ${g.meta.classNames.slice(0, 10).join(', ')}`);
      console.log(`wrote ${f.output} (${bytes.length} bytes)`);
    });
}

/**
 * A repeatable NAME=V,V,… flag into a name → values record: shape dimensions (integers ≥ 0, the
 * first may be -1 for a batch axis; nothing after '=' is a scalar's []) or values (numbers).
 */
function named(flag: string, dims: boolean) {
  return (text: string, acc: Record<string, number[]>): Record<string, number[]> => {
    const eq = text.lastIndexOf('=');
    const name = text.slice(0, eq).trim();
    if (eq <= 0 || !name)
      throw new ValueError(`--${flag} '${text}': expected NAME=${dims ? 'D,D,…' : 'V,V,…'} (an input's ONNX name)`);
    const rest = text.slice(eq + 1).trim();
    const values = rest === '' ? [] : rest.split(',').map((p) => Number(p.trim()));
    values.forEach((v, i) => {
      const ok = dims ? Number.isInteger(v) && (v >= 0 || (i === 0 && v === -1)) : Number.isFinite(v);
      if (!ok)
        throw new ValueError(
          `--${flag} '${text}': '${rest.split(',')[i] ?? ''}' is not ${dims ? 'a dimension (integers ≥ 0; the first may be -1 for a batch axis)' : 'a number'}`,
        );
    });
    if (!dims && values.length === 0) throw new ValueError(`--${flag} '${text}': no values after '='`);
    if (Object.hasOwn(acc, name)) throw new ValueError(`--${flag} ${name}: given twice`);
    return { ...acc, [name]: values };
  };
}

/** A 'tensor' model's named inputs and outputs, one line each side, and the inputs fixed at import. */
export function describeNamed(g: Graph): string[] {
  const sig = graphSignature(g);
  const list = (ts: TensorInfo[]) => ts.map((t) => `${t.name} ${t.dtype} [${t.shape.join(', ')}]`).join(', ') || 'none';
  const lines = [`inputs: ${list(sig.inputs)}`, `outputs: ${list(sig.outputs)}`];
  if (sig.frozen.length) lines.push(`fixed at import: ${sig.frozen.join(', ')}`);
  lines.push(
    `named tensors, no preprocessing (-1: batch axis${sig.stackable ? '' : '; fixed shapes: serve runs requests one by one'}): graduate serve or InferenceModel.runNamed`,
  );
  return lines;
}

/** A finite number > 0, or a fraction of two such numbers ("1/255"). */
function parseNumber(text: string): number {
  const m = /^\s*([^/\s]+)\s*(?:\/\s*([^/\s]+)\s*)?$/.exec(text);
  if (!m) return Number.NaN;
  const a = Number(m[1]);
  const b = m[2] === undefined ? 1 : Number(m[2]);
  return m[1] !== '' && b !== 0 ? a / b : Number.NaN;
}

function positive(name: string) {
  return (v: string): number => {
    const x = parseNumber(v);
    if (!(Number.isFinite(x) && x > 0 && Math.fround(x) > 0 && Number.isFinite(Math.fround(x))))
      throw new ValueError(`--${name} '${v}': expected a positive number or fraction, e.g. 1/255 or 0.5`);
    return x;
  };
}

function list(name: string, positiveOnly: boolean) {
  return (v: string): number[] => {
    const parts = v.split(',');
    return parts.map((p) => {
      const x = parseNumber(p);
      if (!Number.isFinite(x) || !Number.isFinite(Math.fround(x)))
        throw new ValueError(
          `--${name} '${v}': '${p.trim()}' is not a number (expected one value, or one per channel separated by commas, e.g. 0.485,0.456,0.406)`,
        );
      if (positiveOnly && !(Math.fround(x) > 0))
        throw new ValueError(`--${name} '${v}': ${p.trim()} is not positive (a standard deviation divides)`);
      return x;
    });
  };
}

function layout(v: string): 'NHWC' | 'NCHW' {
  const l = v.trim().toUpperCase();
  if (l !== 'NHWC' && l !== 'NCHW') throw new ValueError(`--layout '${v}': expected nchw or nhwc`);
  return l;
}

/** Class names, one per line (blank lines at the end ignored, none in between). */
function readLabels(file: string): string[] {
  const lines = readTextFile(file, 'labels file').split(/\r?\n/);
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  const empty = lines.findIndex((l) => l.trim() === '');
  if (empty >= 0) throw new ValueError(`--labels ${file}: line ${empty + 1} is empty (one class name per line)`);
  if (lines.length === 0) throw new ValueError(`--labels ${file}: no labels (one class name per line)`);
  return lines.map((l) => l.trim());
}
