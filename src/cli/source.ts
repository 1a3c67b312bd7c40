// What a command is given, as a graph: a checkpoint folder (the trained model rebuilt and
// captured), a .grad artifact, or a .onnx file. The CLI's, because it reaches everything: training
// checkpoints (train/), capture (compile/) and ONNX import, while onnx/ must reach neither
// compile/ nor train/.
import { statSync } from 'node:fs';
import { captureGraph } from '../compile/capture.js';
import { readArtifact } from '../graph/artifact.js';
import type { Graph } from '../graph/ir.js';
import { readFileChecked } from '../io/read.js';
import { importOnnx } from '../onnx/import.js';
import { type Checkpoint, loadModel } from '../train/checkpoint.js';

/** A graph from a source path; `checkpoint` is set for checkpoint folders (fine-tuning needs it). */
export interface GraphSource {
  graph: Graph;
  kind: 'checkpoint' | 'artifact' | 'onnx';
  checkpoint?: Checkpoint;
  /** Frees the rebuilt model of a checkpoint (no-op otherwise). */
  dispose(): void;
}

/** Checkpoint folder → captured graph; *.onnx → imported graph; any other file → artifact. */
export function graphFromSource(path: string): GraphSource {
  if (/\.onnx$/i.test(path))
    return {
      graph: importOnnx(readFileChecked(path, 'ONNX model'), path, { warn: (m) => console.error(`warning: ${m}`) }),
      kind: 'onnx',
      dispose() {},
    };
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    // not there: loadModel names what a checkpoint needs
  }
  if (isFile) return { graph: readArtifact(readFileChecked(path, 'artifact'), path), kind: 'artifact', dispose() {} };
  const { model, checkpoint } = loadModel(path);
  const pre = checkpoint.config.preprocessing;
  const graph = captureGraph(
    model,
    {
      kind: pre.kind,
      shape: pre.inputShape,
      scale: pre.scale,
      mean: pre.mean,
      std: pre.std,
      tokenizer: pre.tokenizer,
      audio: pre.audio,
    },
    checkpoint.config.classNames,
    // token ids are int32: a float32 probe stops at the model's embedding
    { inputDType: pre.kind === 'text' ? 'int32' : 'float32' },
  );
  return { graph, kind: 'checkpoint', checkpoint, dispose: () => model.dispose() };
}
