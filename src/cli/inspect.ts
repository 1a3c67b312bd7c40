// `graduate inspect FILE`: what an artifact holds — graph, sizes, precisions, MACs, memory plan.
import { Command } from 'commander';
import { ValueError } from '../errors.js';
import { readArtifact } from '../graph/artifact.js';
import { dumpGraph } from '../graph/dump.js';
import { graphMacs, graphParams, nodeMacs } from '../graph/ir.js';
import { planMemory } from '../graph/plan.js';
import { readFileChecked } from '../io/read.js';
import { describePreparation } from '../runtime/image-input.js';
import { describeNamed } from './onnx.js';

export function inspectCommand(): Command {
  return new Command('inspect')
    .description('print an artifact: graph, sizes, precisions, MACs and memory plan')
    .argument('<file>', 'compiled artifact')
    .option('--max-batch <n>', 'batch the memory plan is sized for', Number, 256)
    .action((file: string, opts: { maxBatch: number }) => {
      if (!Number.isInteger(opts.maxBatch) || opts.maxBatch < 1)
        throw new ValueError(`--max-batch must be a positive integer, got ${opts.maxBatch}`);
      const data = readFileChecked(file, 'artifact');
      const g = readArtifact(data, file);
      const bytes = data.length;
      const byDtype = new Map<string, number>();
      for (const c of Object.values(g.constants)) byDtype.set(c.dtype, (byDtype.get(c.dtype) ?? 0) + c.data.byteLength);
      const plan = planMemory(g, opts.maxBatch);
      console.log(
        `${file}: ${(bytes / 1024).toFixed(1)} KiB, ${g.nodes.length} nodes, ${graphParams(g).toLocaleString()} weights`,
      );
      console.log(
        `weights by precision: ${[...byDtype].map(([d, b]) => `${d} ${(b / 1024).toFixed(1)} KiB`).join(', ')}`,
      );
      console.log(
        `MACs per sample: ${graphMacs(g).toLocaleString()}; activation memory at batch ${opts.maxBatch}: ${(plan.arenaBytes / 2 ** 20).toFixed(2)} MiB (without reuse ${(plan.naiveBytes / 2 ** 20).toFixed(2)} MiB)`,
      );
      if (g.meta.input.kind === 'tensor') for (const line of describeNamed(g)) console.log(line);
      else {
        console.log(`input: ${JSON.stringify(g.meta.input)}`);
        // the contract (docs/inputs.md): run, serve's tensors and the ONNX export take this tensor
        console.log(`input tensor: ${describePreparation(g.meta.input)}`);
        console.log(`classes: ${g.meta.classNames.join(', ')}`);
      }
      console.log('\nlayers:');
      for (const n of g.nodes) {
        const w = n.inputs[1] ? g.constants[n.inputs[1]] : undefined;
        const prec = w ? w.dtype : g.values[n.output].dtype;
        const macs = nodeMacs(g, n);
        console.log(
          `  ${n.name.padEnd(18)} ${n.op.padEnd(13)} ${`[${g.values[n.output].shape.join(', ')}]`.padEnd(20)} ${prec.padEnd(8)} ${macs ? `${macs.toLocaleString()} MACs` : ''}`,
        );
      }
      console.log(`\n${dumpGraph(g)}`);
    });
}
