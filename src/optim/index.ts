// Public API of the optimizers: SGD / Adam / AdamW / Adagrad with resumable state (dense or
// row-sparse gradients), learning-rate schedules and gradient-norm clipping.
export { Adagrad, type AdagradOptions } from './adagrad.js';
export { Adam, type AdamOptions, AdamW } from './adam.js';
export { clipGradNorm } from './clip.js';
export { createOptimizer, OPTIMIZER_NAMES, type OptimizerName } from './factory.js';
export { Optimizer, type OptimizerState, type ParamGroupOptions } from './optimizer.js';
export {
  constantSchedule,
  cosineSchedule,
  createSchedule,
  oneCycleSchedule,
  SCHEDULE_NAMES,
  type Schedule,
  type ScheduleName,
  stepSchedule,
} from './schedule.js';
export { SGD, type SGDOptions } from './sgd.js';
