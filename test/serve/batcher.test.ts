// The dynamic batcher on a fake executor: a batch goes when it is full or its oldest request has
// waited max-delay, never over max-batch; each request gets its own rows; a full queue refuses.
import { describe, expect, it } from 'vitest';
import { Batcher, type Executor, OverloadedError } from '../../src/serve/batcher.js';

/** An executor with `workers` slots that doubles its input after `ms` milliseconds. */
function fakeExecutor(workers: number, ms: number) {
  const batches: number[] = [];
  let busy = 0;
  const exec: Executor & { batches: number[] } = {
    batches,
    hasIdle: () => busy < workers,
    run: async (_key, data, batch) => {
      busy++;
      batches.push(batch);
      await new Promise((r) => setTimeout(r, ms));
      busy--;
      return { output: Float32Array.from(data as Float32Array, (v) => v * 2), computeMs: ms };
    },
  };
  return exec;
}

/** One worker that runs batches in order and holds at most one more behind the running one. */
function queueingExecutor(ms: number) {
  const batches: number[] = [];
  let posted = 0;
  let maxPosted = 0;
  let chain = Promise.resolve();
  const exec: Executor & { batches: number[]; maxPosted: () => number } = {
    batches,
    maxPosted: () => maxPosted,
    hasIdle: () => posted === 0,
    canQueueNext: () => posted === 1,
    run: (_key, data, batch) => {
      if (posted >= 2) throw new Error('a third batch was posted to the worker');
      posted++;
      maxPosted = Math.max(maxPosted, posted);
      batches.push(batch);
      const done = chain.then(() => new Promise<void>((r) => setTimeout(r, ms)));
      chain = done;
      return done.then(() => {
        posted--;
        return { output: Float32Array.from(data as Float32Array, (v) => v * 2), computeMs: ms };
      });
    },
  };
  return exec;
}

describe('Batcher', () => {
  it('dispatches a full batch at once and the rest after max-delay, each request with its rows', async () => {
    const exec = fakeExecutor(1, 1);
    const b = new Batcher({ maxBatch: 4, maxDelayMs: 30, maxQueue: 100 }, exec);
    const t0 = performance.now();
    const rs = await Promise.all([1, 2, 3, 4, 5].map((v) => b.submit('m/1', Float32Array.of(v, -v), 1)));
    expect(exec.batches).toEqual([4, 1]);
    expect(rs.map((r) => Array.from(r.output as Float32Array))).toEqual([1, 2, 3, 4, 5].map((v) => [2 * v, -2 * v]));
    expect(rs[4].batchSize).toBe(1);
    expect(rs[4].queueMs).toBeGreaterThanOrEqual(25);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
  });

  it('keeps whole requests together and under max-batch, and with max-batch 1 runs each alone', async () => {
    const exec = fakeExecutor(1, 5);
    const b = new Batcher({ maxBatch: 4, maxDelayMs: 0, maxQueue: 100 }, exec);
    await Promise.all([1, 3, 2, 2].map((n) => b.submit('m/1', new Float32Array(n), n)));
    expect(exec.batches.every((n) => n <= 4)).toBe(true);
    expect(exec.batches.reduce((a, c) => a + c)).toBe(8);
    const one = fakeExecutor(2, 1);
    const b1 = new Batcher({ maxBatch: 1, maxDelayMs: 5, maxQueue: 100 }, one);
    await Promise.all(Array.from({ length: 6 }, () => b1.submit('m/1', new Float32Array(1), 1)));
    expect(one.batches).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('refuses beyond max-queue samples and drains what it accepted', async () => {
    const exec = fakeExecutor(1, 5);
    const b = new Batcher({ maxBatch: 8, maxDelayMs: 1000, maxQueue: 3 }, exec);
    const ok = [b.submit('m/1', new Float32Array(2), 2), b.submit('m/1', new Float32Array(1), 1)];
    expect(() => b.submit('m/1', new Float32Array(1), 1)).toThrow(OverloadedError);
    expect(b.queued('m/1')).toBe(3);
    const t0 = performance.now();
    await b.drain(); // flushes without waiting for the 1 s delay
    expect(performance.now() - t0).toBeLessThan(500);
    expect((await Promise.all(ok)).map((r) => r.batchSize)).toEqual([3, 3]);
  });

  it('queues a full batch behind a running one, never a batch that is due only by its delay', async () => {
    const one = queueingExecutor(5);
    const b1 = new Batcher({ maxBatch: 1, maxDelayMs: 0, maxQueue: 100 }, one);
    const rs = await Promise.all([1, 2, 3, 4, 5].map((v) => b1.submit('m/1', Float32Array.of(v), 1)));
    expect(rs.map((r) => (r.output as Float32Array)[0])).toEqual([2, 4, 6, 8, 10]);
    expect(one.batches).toEqual([1, 1, 1, 1, 1]);
    expect(one.maxPosted()).toBe(2); // the next request was waiting in the worker, not in the batcher

    const exec = queueingExecutor(60);
    const b = new Batcher({ maxBatch: 4, maxDelayMs: 10, maxQueue: 100 }, exec);
    const first = b.submit('m/1', new Float32Array(4), 4); // full: runs at once
    const waiting = [1, 2, 3].map(() => b.submit('m/1', new Float32Array(1), 1));
    await new Promise((r) => setTimeout(r, 30)); // past the delay, the worker still busy
    expect(exec.batches).toEqual([4]); // 3 samples are due by delay only: they wait for an idle worker
    const other = b.submit('m/2', new Float32Array(1), 1); // another model's request: pump() runs, m/1 stays
    expect(exec.batches).toEqual([4]);
    const fourth = b.submit('m/1', new Float32Array(1), 1); // now m/1 holds a full batch: queued next
    expect(exec.batches).toEqual([4, 4]);
    expect(exec.maxPosted()).toBe(2);
    const late = b.submit('m/1', new Float32Array(1), 1); // waits for an idle worker
    const all = await Promise.all([first, ...waiting, fourth, other, late]);
    expect(all.map((r) => r.batchSize)).toEqual([4, 4, 4, 4, 4, 1, 1]);
    expect(exec.batches).toEqual([4, 4, 1, 1]);
  });

  it("does not starve a quiet model's queue by posting a busy model's full batches ahead", async () => {
    const exec = queueingExecutor(5);
    const b = new Batcher({ maxBatch: 4, maxDelayMs: 2, maxQueue: 1000 }, exec);
    let stop = false;
    const client = async () => {
      while (!stop) await b.submit('A', new Float32Array(1), 1);
    };
    const clients = Array.from({ length: 16 }, client); // model A: always a full batch waiting
    await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    const quiet = await Promise.race([
      b.submit('B', new Float32Array(1), 1).then(() => performance.now() - t0),
      new Promise<number>((r) => setTimeout(() => r(Number.POSITIVE_INFINITY), 1000)),
    ]);
    stop = true;
    await Promise.all(clients);
    // B waits its delay, then for the worker to finish what it holds (2 batches of 5 ms), not for A to stop
    expect(quiet).toBeLessThan(200);
    expect(exec.maxPosted()).toBe(2);
  });

  it('counts the wait behind another batch in the worker as queue time', async () => {
    const exec = queueingExecutor(40);
    const b = new Batcher({ maxBatch: 1, maxDelayMs: 0, maxQueue: 100 }, exec);
    const [first, second] = await Promise.all([
      b.submit('m/1', new Float32Array(1), 1),
      b.submit('m/1', new Float32Array(1), 1),
    ]);
    expect(exec.maxPosted()).toBe(2); // the second was posted at once, behind the first
    expect(first.queueMs).toBeLessThan(30);
    expect(second.queueMs).toBeGreaterThanOrEqual(30); // it waited for the first's 40 ms in the worker
  });

  it("stacks a graph's named tensors input by input and gives each request its rows of every output", async () => {
    const seen: number[][] = [];
    const exec: Executor = {
      hasIdle: () => true,
      run: async (_key, data, batch) => {
        const [x, ids] = data as (Float32Array | Int32Array)[];
        seen.push([batch, x.length, ids.length]);
        // outputs: x + ids per row [batch, 2], and the ids [batch, 1]
        const sum = Float32Array.from(x, (v, i) => v + ids[i >> 1]);
        return { output: [sum, Int32Array.from(ids)], computeMs: 0 };
      },
    };
    const b = new Batcher({ maxBatch: 8, maxDelayMs: 5, maxQueue: 100 }, exec);
    const [r1, r2] = await Promise.all([
      b.submit('g', [Float32Array.of(1, 2), Int32Array.of(10)], 1),
      b.submit('g', [Float32Array.of(3, 4, 5, 6), Int32Array.of(20, 30)], 2),
    ]);
    expect(seen).toEqual([[3, 6, 3]]); // one batch of 3 samples
    expect((r1.output as Float32Array[]).map((a) => [...a])).toEqual([[11, 12], [10]]);
    expect((r2.output as Float32Array[]).map((a) => [...a])).toEqual([
      [23, 24, 35, 36],
      [20, 30],
    ]);
  });

  it('runs solo requests (fixed-shape graphs) in batches of their own', async () => {
    const exec = fakeExecutor(4, 2);
    const b = new Batcher({ maxBatch: 8, maxDelayMs: 50, maxQueue: 100 }, exec);
    const t0 = performance.now();
    await Promise.all([1, 2, 3].map((v) => b.submit('fixed', Float32Array.of(v), 1, true)));
    expect(exec.batches).toEqual([1, 1, 1]);
    expect(performance.now() - t0).toBeLessThan(45); // due at once: nothing to wait for
  });

  it('splits a batch that failed on bad input: only the request with bad data fails', async () => {
    const batches: number[] = [];
    const exec: Executor = {
      hasIdle: () => true,
      run: async (_key, data, batch) => {
        batches.push(batch);
        const x = data as Float32Array;
        if (x.includes(-1)) throw Object.assign(new Error('index -1 is out of range'), { badInput: true });
        return { output: Float32Array.from(x), computeMs: 0 };
      },
    };
    const b = new Batcher({ maxBatch: 8, maxDelayMs: 5, maxQueue: 100 }, exec);
    const rs = await Promise.allSettled([1, -1, 3].map((v) => b.submit('m', Float32Array.of(v), 1)));
    expect(rs.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(batches).toEqual([3, 1, 1, 1]);
    expect(((rs[2] as PromiseFulfilledResult<{ output: Float32Array }>).value.output as Float32Array)[0]).toBe(3);
  });
});
