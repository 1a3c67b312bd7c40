// Evaluation: run a model over a dataset in eval mode without gradients; loss, accuracy, predictions.
import { noGrad } from '../autograd/grad-mode.js';
import type { ArrayDataset } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import { crossEntropy } from '../nn/losses.js';
import type { Module } from '../nn/module.js';
import { tidy } from '../tensor/scope.js';
import { argmaxRows } from './metrics.js';

export interface Evaluation {
  loss: number;
  accuracy: number;
  preds: Int32Array;
  labels: Int32Array;
}

/** Mean cross-entropy, accuracy and argmax predictions of `model` on `ds` (restores train mode after). */
export function evaluate(model: Module, ds: ArrayDataset, batchSize = 256): Evaluation {
  const wasTraining = model.training;
  model.eval();
  const loader = new DataLoader(ds, { batchSize, shuffle: false });
  const preds = new Int32Array(ds.size);
  let lossSum = 0;
  let correct = 0;
  let seen = 0;
  try {
    noGrad(() => {
      for (let b = 0; b < loader.numBatches; b++) {
        tidy(() => {
          const { x, y, size } = loader.batch(0, b);
          const logits = model.forward(x);
          lossSum += crossEntropy(logits, y).item() * size;
          const classes = logits.shape[logits.rank - 1];
          const p = argmaxRows(logits.data(), size, classes);
          const labels = y.data();
          for (let i = 0; i < size; i++) {
            preds[seen + i] = p[i];
            if (p[i] === labels[i]) correct++;
          }
          seen += size;
        });
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return { loss: lossSum / Math.max(1, seen), accuracy: correct / Math.max(1, seen), preds, labels: ds.y };
}
