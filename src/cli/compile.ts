// `graduate compile CHECKPOINT --data … -o FILE`: the whole graduation pipeline, with the
// accuracy gate and the before/after report (FILE.report.txt and FILE.report.json beside it).
import { Command, Option } from 'commander';
import { compile, formatCompileReport } from '../compile/pipeline.js';
import { preprocessingOf } from '../compile/verify.js';
import { limitDataset } from '../data/dataset.js';
import { loadData } from '../data/load.js';
import { ValueError } from '../errors.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { isRecsysCheckpoint } from '../recsys/checkpoint.js';
import { engine, init } from '../tensor/context.js';
import { runRecsysCompile } from './compile-recsys.js';
import { applyDevice, cpuOnlyDevice, DEVICE_HELP } from './device.js';
import { graphFromSource } from './source.js';

interface CompileFlags {
  data: string;
  calibSamples: number;
  prune?: number;
  pruneAlign: number;
  quantize: 'int8' | 'fp16' | 'none';
  calibration: 'minmax' | 'percentile' | 'kl';
  maxAccuracyDrop: number;
  maxMetricDrop?: number;
  k?: number;
  allowNearChance?: boolean;
  finetuneEpochs: number;
  finetuneLr: number;
  finetuneSamples?: number;
  passes?: string;
  dumpAfter?: string;
  testLimit?: number;
  threads?: number;
  device?: string;
  output: string;
}

const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ValueError(`--${name}: expected a number, got '${v}'`);
  return n;
};

export function compileCommand(): Command {
  return new Command('compile')
    .description('graduate a checkpoint: fuse, prune, quantize, verify accuracy, write an artifact and a report')
    .argument(
      '<checkpoint>',
      'checkpoint directory (train --out), an ONNX model (.onnx) or an artifact; float models can be pruned and fine-tuned',
    )
    .requiredOption(
      '--data <spec>',
      'labelled data: calibration from its training split, verification on its test split',
    )
    .option('--calib-samples <n>', 'calibration samples', num('calib-samples'), 1000)
    .option(
      '--prune <fraction>',
      'remove this fraction of MACs by structured channel pruning (at least it with --prune-align 1; else about it)',
      num('prune'),
    )
    .option(
      '--prune-align <n>',
      'round each pruned layer to a multiple of n channels (8 fits the int8 kernels; 1 = exact)',
      num('prune-align'),
      8,
    )
    .addOption(
      new Option('--quantize <mode>', 'weight/compute precision').choices(['int8', 'fp16', 'none']).default('int8'),
    )
    .addOption(
      new Option('--calibration <method>', 'int8 activation ranges')
        .choices(['minmax', 'percentile', 'kl'])
        .default('percentile'),
    )
    .option(
      '--max-accuracy-drop <pp>',
      'refuse to emit when test accuracy drops more (percentage points)',
      num('max-accuracy-drop'),
      0.5,
    )
    .option(
      '--max-metric-drop <pct>',
      'recommendation models: refuse to emit when RMSE (mf) or HR@10 (two-tower) is worse than the parent by more than this % of it (default 2)',
      num('max-metric-drop'),
    )
    .option('--k <n>', 'recommendation models: items per request (default 10)', num('k'))
    .option(
      '--allow-near-chance',
      'write the artifact even if its test accuracy is near chance (e.g. imbalanced data, where always answering the majority class scores high); non-finite weights are refused all the same',
    )
    .option('--finetune-epochs <n>', 'fine-tune after pruning (on the training split)', num('finetune-epochs'), 0)
    .option('--finetune-lr <x>', 'peak learning rate of fine-tuning (Adam, cosine decay)', num('finetune-lr'), 1e-3)
    .option(
      '--finetune-samples <n>',
      'fine-tune on the first N training samples (default: all)',
      num('finetune-samples'),
    )
    .option('--passes <list>', 'comma-separated passes to run (default: all)')
    .option('--dump-after <pass>', 'print the graph after this pass')
    .option('--test-limit <n>', 'verify on the first N test samples only', num('test-limit'))
    .option('--threads <n>', 'compute threads', num('threads'))
    .option(
      '--device <device>',
      `${DEVICE_HELP} (fine-tuning, the accuracy gate and the speed report run there; calibration and pruning statistics on the cpu)`,
    )
    .requiredOption('-o, --output <file>', 'artifact to write')
    .action(async (path: string, f: CompileFlags) => {
      if (isRecsysCheckpoint(path)) {
        cpuOnlyDevice(f.device, 'recommendation models');
        return runRecsysCompile(path, f);
      }
      init({ threads: f.threads });
      const { backend } = applyDevice(f.device);
      const t0 = performance.now();
      const { graph: parent, checkpoint, dispose } = graphFromSource(path);
      const pre = preprocessingOf(parent);
      const like = { like: pre, classNames: parent.meta.classNames };
      const all = loadData(f.data, 'train', like);
      const calib = limitDataset(all, Math.min(f.calibSamples, all.size));
      const finetune = f.finetuneEpochs > 0 ? limitDataset(all, f.finetuneSamples) : calib;
      const test = loadData(f.data, 'test', { ...like, limit: f.testLimit });
      const result = compile(
        { parent, checkpoint, calib: f.finetuneEpochs > 0 ? finetune : calib, test, engine: engine(), backend },
        {
          prune: f.prune,
          pruneAlign: f.pruneAlign,
          quantize: f.quantize,
          calibration: f.calibration,
          maxAccuracyDrop: f.maxAccuracyDrop,
          allowNearChance: f.allowNearChance,
          output: f.output,
          finetuneEpochs: f.finetuneEpochs,
          finetuneLr: f.finetuneLr,
          passes: f.passes?.split(',').map((s) => s.trim()),
          dumpAfter: f.dumpAfter,
          log: (l) => console.log(l),
        },
      );
      if (result.report.dump) console.log(result.report.dump);
      writeFileAtomicSync(f.output, result.bytes);
      const text = formatCompileReport(result.report);
      writeFileAtomicSync(`${f.output}.report.txt`, `${text}\n`);
      writeFileAtomicSync(
        `${f.output}.report.json`,
        `${JSON.stringify({ ...result.report, dump: undefined }, null, 2)}\n`,
      );
      console.log(`\n${text}`);
      console.log(
        `\nwrote ${f.output} (${result.bytes.length} bytes) and its report in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
      dispose();
    });
}
