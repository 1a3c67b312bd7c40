// Learning-rate schedules as pure functions: the multiplier of the optimizer's base learning rate
// at a global iteration (0-based). The fit loop sets opt.lr = opt.baseLr * schedule(iter).
// Not for: anything stateful (a schedule is resumed by passing the saved iteration again).
import { ValueError } from '../errors.js';
import { checkRange } from './optimizer.js';

/** Multiplier of the base learning rate at a 0-based global iteration. */
export type Schedule = (iter: number) => number;

function checkCount(what: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min)
    throw new ValueError(`${what} must be an integer >= ${min}, got ${value}`);
}

/** Cosine interpolation from `from` (pct 0) to `to` (pct 1), as torch's annealing. */
const cosineAnneal = (from: number, to: number, pct: number): number =>
  to + ((from - to) / 2) * (Math.cos(Math.PI * pct) + 1);

/** Always 1. */
export function constantSchedule(): Schedule {
  return () => 1;
}

/** gamma^floor(iter / stepSize) (torch StepLR, counted in iterations). */
export function stepSchedule(opts: { stepSize: number; gamma: number }): Schedule {
  checkCount('stepSchedule stepSize', opts.stepSize, 1);
  checkRange('stepSchedule gamma', opts.gamma, 0);
  const { stepSize, gamma } = opts;
  return (iter) => gamma ** Math.floor(iter / stepSize);
}

/**
 * Linear warmup iter / warmup over the first `warmup` iterations (from 0), then cosine decay from
 * 1 to minFactor (default 0) at iteration `total`, minFactor afterwards.
 */
export function cosineSchedule(opts: { total: number; minFactor?: number; warmup?: number }): Schedule {
  const { total, minFactor = 0, warmup = 0 } = opts;
  checkCount('cosineSchedule total', total, 1);
  checkRange('cosineSchedule minFactor', minFactor, 0, 1, true);
  checkCount('cosineSchedule warmup', warmup, 0);
  if (warmup > total) throw new ValueError(`cosineSchedule warmup (${warmup}) exceeds total (${total})`);
  return (iter) => {
    if (iter < warmup) return iter / warmup;
    const pct = total === warmup ? 1 : Math.min(1, (iter - warmup) / (total - warmup));
    return cosineAnneal(1, minFactor, pct);
  };
}

/**
 * torch OneCycleLR (two phases, cosine annealing) as a multiplier of the max lr: from 1/divFactor at
 * iteration 0 up to 1 at pctStart·total − 1, then down to 1/(divFactor·finalDivFactor) at total − 1
 * (held there afterwards).
 */
export function oneCycleSchedule(opts: {
  total: number;
  pctStart?: number;
  divFactor?: number;
  finalDivFactor?: number;
}): Schedule {
  const { total, pctStart = 0.3, divFactor = 25, finalDivFactor = 1e4 } = opts;
  checkCount('oneCycleSchedule total', total, 2);
  checkRange('oneCycleSchedule pctStart', pctStart, 0, 1);
  if (!(pctStart > 0)) throw new ValueError(`oneCycleSchedule pctStart must be in (0, 1), got ${pctStart}`);
  checkRange('oneCycleSchedule divFactor', divFactor, Number.MIN_VALUE);
  checkRange('oneCycleSchedule finalDivFactor', finalDivFactor, Number.MIN_VALUE);
  const initial = 1 / divFactor;
  const final = initial / finalDivFactor;
  const peakAt = pctStart * total - 1;
  const endAt = total - 1;
  return (iter) => {
    const t = Math.min(Math.max(iter, 0), endAt);
    if (t <= peakAt) return cosineAnneal(initial, 1, peakAt > 0 ? t / peakAt : 1);
    return cosineAnneal(1, final, (t - peakAt) / (endAt - peakAt));
  };
}

export const SCHEDULE_NAMES = ['constant', 'step', 'cosine', 'onecycle'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

/**
 * A schedule by name over `totalIters` iterations. step: stepSize (default totalIters / 3, rounded
 * up) and gamma (default 0.1); cosine: optional warmup; onecycle: torch defaults.
 */
export function createSchedule(
  name: ScheduleName,
  totalIters: number,
  opts: { warmup?: number; stepSize?: number; gamma?: number } = {},
): Schedule {
  switch (name) {
    case 'constant':
      return constantSchedule();
    case 'step':
      return stepSchedule({
        stepSize: opts.stepSize ?? Math.max(1, Math.ceil(totalIters / 3)),
        gamma: opts.gamma ?? 0.1,
      });
    case 'cosine':
      return cosineSchedule({ total: totalIters, warmup: opts.warmup });
    case 'onecycle':
      return oneCycleSchedule({ total: totalIters });
    default:
      throw new ValueError(`unknown schedule '${String(name)}': expected one of ${SCHEDULE_NAMES.join(', ')}`);
  }
}
