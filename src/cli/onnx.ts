// `graduate export SOURCE -o model.onnx` and `graduate import model.onnx -o ARTIFACT`: models out
// to ONNX (f32, or QDQ for int8 artifacts) and in from ONNX (to the IR, through the compiler's
// passes, as an artifact that compile, inspect, predict and serve take).
import { Command } from 'commander';
import { runPasses } from '../compile/passes/index.js';
import { writeArtifact } from '../graph/artifact.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { exportOnnx } from '../onnx/index.js';
import { graphFromSource } from './source.js';

export function exportCommand(): Command {
  return new Command('export')
    .description('write a checkpoint or artifact as ONNX (opset 13; int8 as QDQ); input: raw NHWC pixels')
    .argument('<source>', 'checkpoint directory (train --out) or compiled artifact')
    .requiredOption('-o, --output <file>', 'ONNX file to write')
    .action((path: string, f: { output: string }) => {
      const src = graphFromSource(path);
      try {
        // checkpoints: inference form first (dropout gone, BatchNorm folded, epilogues fused)
        const graph = src.kind === 'checkpoint' ? runPasses(src.graph).graph : src.graph;
        const bytes = exportOnnx(graph);
        writeFileAtomicSync(f.output, bytes);
        console.log(`wrote ${f.output} (${bytes.length} bytes, ${graph.nodes.length} Graduate nodes)`);
      } finally {
        src.dispose();
      }
    });
}

export function importCommand(): Command {
  return new Command('import')
    .description('read an ONNX model into a Graduate artifact (then compile / eval / inspect / serve it)')
    .argument('<model>', 'ONNX file (.onnx); external data files are read from its folder')
    .requiredOption('-o, --output <file>', 'artifact to write')
    .action((path: string, f: { output: string }) => {
      const { graph } = graphFromSource(path);
      const { graph: g } = runPasses(graph);
      const bytes = writeArtifact(g, 'graduate import');
      writeFileAtomicSync(f.output, bytes);
      console.log(`${path}: ${graph.nodes.length} nodes imported, ${g.nodes.length} after passes`);
      console.log(
        `input [${g.meta.input.shape.join(', ')}] (${JSON.stringify(g.meta.onnx)}), ${g.meta.classNames.length} classes`,
      );
      console.log(`wrote ${f.output} (${bytes.length} bytes)`);
    });
}
