// Accuracy of a graph (through the runtime) on labelled data: the compiler's gate and `graduate
// eval` on artifacts. The input preparation recorded in the graph is turned back into a data-layer
// Preprocessing so files are normalized exactly as at training time.

import type { InferenceBackend } from '../backend/backend.js';
import type { ArrayDataset, Preprocessing } from '../data/dataset.js';
import { ValueError } from '../errors.js';
import type { Graph } from '../graph/ir.js';
import { numel } from '../graph/ir.js';
import type { Engine } from '../kernels/engine.js';
import { Session } from '../runtime/session.js';
import { argmaxRows } from '../train/metrics.js';

/** The graph's recorded input preparation, as the data loaders take it (`like`). */
export function preprocessingOf(g: Graph): Preprocessing {
  const i = g.meta.input;
  if (i.kind === 'tensor')
    throw new ValueError(
      `this model takes named tensors [${g.inputs.join(', ')}] with no recorded preprocessing: it cannot be evaluated on a dataset`,
    );
  return {
    kind: i.kind,
    inputShape: [...i.shape],
    scale: i.scale,
    mean: i.mean,
    std: i.std,
    tokenizer: i.tokenizer as Preprocessing['tokenizer'],
    audio: i.audio as Preprocessing['audio'],
  };
}

export interface GraphEvaluation {
  accuracy: number;
  preds: Int32Array;
}

/** Runs `ds` through a session of `g` in batches; accuracy and argmax predictions. */
export function evaluateGraph(
  g: Graph,
  ds: ArrayDataset,
  engine: Engine,
  batch = 256,
  backend?: InferenceBackend,
): GraphEvaluation {
  const session = new Session(g, backend ? { backend, maxBatch: batch } : { engine, maxBatch: batch });
  try {
    const per = numel(ds.sampleShape);
    const preds = new Int32Array(ds.size);
    let correct = 0;
    for (let i = 0; i < ds.size; i += batch) {
      const b = Math.min(batch, ds.size - i);
      const out = session.run(ds.x.subarray(i * per, (i + b) * per), b);
      const p = argmaxRows(out, b, out.length / b);
      for (let r = 0; r < b; r++) {
        preds[i + r] = p[r];
        if (p[r] === ds.y[i + r]) correct++;
      }
    }
    return { accuracy: correct / Math.max(1, ds.size), preds };
  } finally {
    session.dispose();
  }
}
