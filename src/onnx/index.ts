// ONNX in and out: exportOnnx / importOnnx, and graphFromSource, which turns whatever a command
// is given (a checkpoint folder, a .grad artifact, a .onnx file) into a graph. Node-only (reads
// files, may rebuild a trained model): not part of the lean runtime.
import { statSync } from 'node:fs';
import { captureGraph } from '../compile/capture.js';
import { readArtifact } from '../graph/artifact.js';
import type { Graph } from '../graph/ir.js';
import { readFileChecked } from '../io/read.js';
import { type Checkpoint, loadModel } from '../train/checkpoint.js';
import { importOnnx } from './import.js';

export { exportOnnx, INPUT_NAME, type OnnxInputMeta, OUTPUT_NAME } from './export.js';
export { type ImportOptions, importOnnx, SUPPORTED_MS_OPS, SUPPORTED_OPS } from './import.js';

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
    return { graph: importOnnx(readFileChecked(path, 'ONNX model'), path), kind: 'onnx', dispose() {} };
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
    { kind: pre.kind, shape: pre.inputShape, scale: pre.scale, mean: pre.mean, std: pre.std, tokenizer: pre.tokenizer },
    checkpoint.config.classNames,
  );
  return { graph, kind: 'checkpoint', checkpoint, dispose: () => model.dispose() };
}
