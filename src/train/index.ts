// Public API of training: the fit loop, evaluation, checkpoints, metrics and the report.

export { type AudioAugment, audioAugment, type BatchAugment } from './augment-audio.js';
export {
  type Checkpoint,
  type CheckpointConfig,
  checkFreshOutDir,
  checkpointDir,
  loadModel,
  loadWeights,
  readCheckpoint,
  readModelCheckpoint,
  saveCheckpoint,
  type TrainingCheckpoint,
  type TrainState,
} from './checkpoint.js';
export { type Evaluation, evaluate } from './evaluate.js';
export { type FitOptions, type FitResult, fit, type TrainConfig } from './fit.js';
export type { EpochRecord, History } from './history.js';
export {
  argmaxRows,
  type ClassificationReport,
  classificationReport,
  confusionMatrix,
  formatReport,
} from './metrics.js';
export { curvesSvg, lineChartSvg, reportHtml, writeReport } from './report.js';
