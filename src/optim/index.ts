// Public API of the optimizers: SGD / Adam / AdamW with resumable state, learning-rate schedules
// and gradient-norm clipping.
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
