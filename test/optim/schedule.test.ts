// Learning-rate schedules vs values computed by hand at chosen iterations: constant, step decay,
// cosine with warmup ramp and floor, torch's OneCycleLR (start, peak, end), createSchedule by name.
import { describe, expect, it } from 'vitest';
import {
  constantSchedule,
  cosineSchedule,
  createSchedule,
  oneCycleSchedule,
  stepSchedule,
} from '../../src/optim/index.js';

describe('schedules', () => {
  it('constant is 1 everywhere', () => {
    const s = constantSchedule();
    expect([0, 1, 1e6].map(s)).toEqual([1, 1, 1]);
  });

  it('step multiplies by gamma every stepSize iterations', () => {
    const s = stepSchedule({ stepSize: 10, gamma: 0.5 });
    expect([0, 9, 10, 19, 20, 35].map(s)).toEqual([1, 1, 0.5, 0.5, 0.25, 0.125]);
    expect(() => stepSchedule({ stepSize: 0, gamma: 0.5 })).toThrow(/stepSize must be an integer >= 1, got 0/);
  });

  it('cosine decays from 1 to minFactor over total iterations', () => {
    const s = cosineSchedule({ total: 100 });
    expect(s(0)).toBe(1);
    expect(s(50)).toBeCloseTo(0.5, 12);
    expect(s(25)).toBeCloseTo((1 + Math.SQRT1_2) / 2, 12);
    expect(s(100)).toBeCloseTo(0, 12);
    expect(s(150)).toBeCloseTo(0, 12);
    const floor = cosineSchedule({ total: 100, minFactor: 0.1 });
    expect(floor(50)).toBeCloseTo(0.55, 12);
    expect(floor(1000)).toBeCloseTo(0.1, 12);
  });

  it('cosine warmup ramps linearly from 0, then decays over the rest', () => {
    const s = cosineSchedule({ total: 110, warmup: 10 });
    expect([0, 1, 5, 9].map(s)).toEqual([0, 0.1, 0.5, 0.9]);
    expect(s(10)).toBe(1);
    expect(s(60)).toBeCloseTo(0.5, 12);
    expect(s(110)).toBeCloseTo(0, 12);
    expect(() => cosineSchedule({ total: 10, warmup: 11 })).toThrow(/warmup \(11\) exceeds total \(10\)/);
  });

  it('one-cycle follows torch OneCycleLR: 1/25 at start, 1 at the peak, 1/25e4 at the end', () => {
    const s = oneCycleSchedule({ total: 100 });
    // torch: phase 1 ends at step pct_start * total - 1 = 29, phase 2 at total - 1 = 99.
    expect(s(0)).toBeCloseTo(1 / 25, 12);
    expect(s(29)).toBeCloseTo(1, 12);
    expect(s(99)).toBeCloseTo(1 / 25e4, 12);
    const anneal = (a: number, b: number, pct: number) => b + ((a - b) / 2) * (Math.cos(Math.PI * pct) + 1);
    expect(s(10)).toBeCloseTo(anneal(0.04, 1, 10 / 29), 12);
    expect(s(64)).toBeCloseTo(anneal(1, 4e-6, 35 / 70), 12);
    expect(s(64)).toBeCloseTo((1 + 4e-6) / 2, 12);
    expect(s(500)).toBeCloseTo(1 / 25e4, 12);
    const t = oneCycleSchedule({ total: 10, pctStart: 0.5, divFactor: 10, finalDivFactor: 100 });
    expect(t(0)).toBeCloseTo(0.1, 12);
    expect(t(4)).toBeCloseTo(1, 12);
    expect(t(9)).toBeCloseTo(0.001, 12);
  });

  it('createSchedule builds schedules by name and names the valid ones otherwise', () => {
    expect(createSchedule('constant', 10)(5)).toBe(1);
    expect(createSchedule('step', 90)(30)).toBeCloseTo(0.1, 12);
    expect(createSchedule('step', 90, { stepSize: 5, gamma: 0.5 })(10)).toBe(0.25);
    expect(createSchedule('cosine', 110, { warmup: 10 })(5)).toBe(0.5);
    expect(createSchedule('onecycle', 100)(29)).toBeCloseTo(1, 12);
    expect(() => createSchedule('linear' as 'step', 10)).toThrow(
      /unknown schedule 'linear': expected one of constant, step, cosine, onecycle/,
    );
  });
});
