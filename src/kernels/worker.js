// A kernel worker: instantiates the kernel module over the engine's shared memory and runs the
// jobs the pool (pool.ts) posts into its control slot. Plain JavaScript so that Node's
// worker_threads and browsers' module Workers can load it without a TypeScript step.
// Protocol (Int32 words of slot s at s*16): 0 go (job sequence), 1 done (last finished
// sequence), 2 export index, 3 argc, 4 error flag, 5 dynamic (1: take chunks), 6 total, 7 chunk,
// 8 scratch. Arguments: Float64 words at s*32. Dynamic jobs share a chunk counter (word `counter`).

/** Polls of the control word before blocking (about 30 µs: an Atomics.load costs ~15 ns). */
const SPIN = 2000;

function serve(data, started) {
  const { module, memory, control, args, names, slot, counter } = data;
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const fns = names.map((n) => instance.exports[n]);
  started?.();
  const ctl = new Int32Array(control);
  const base = slot * 16;
  const argv = new Float64Array(args, slot * 32 * 8, 32);
  let seen = 0;
  for (;;) {
    // Spin briefly before sleeping: layers post jobs back to back, and waking a thread blocked
    // in Atomics.wait (a futex) costs tens of microseconds — more than a small layer's job.
    let go = Atomics.load(ctl, base);
    for (let i = 0; go === seen && i < SPIN; i++) go = Atomics.load(ctl, base);
    if (go === seen) {
      Atomics.wait(ctl, base, seen);
      continue;
    }
    if (go < 0) return;
    seen = go;
    try {
      const fn = fns[ctl[base + 2]];
      if (ctl[base + 5] === 1) {
        const total = ctl[base + 6];
        const chunk = ctl[base + 7];
        const a = Array.from(argv.subarray(0, ctl[base + 3]));
        a.push(0, 0, ctl[base + 8]);
        const n = a.length;
        for (;;) {
          const start = Atomics.add(ctl, counter, 1) * chunk;
          if (start >= total) break;
          a[n - 3] = start;
          a[n - 2] = Math.min(total, start + chunk);
          fn.apply(null, a);
        }
      } else {
        fn.apply(null, argv.subarray(0, ctl[base + 3]));
      }
    } catch (e) {
      ctl[base + 4] = 1;
      console.error(`graduate kernel worker ${slot}: ${e?.stack ?? e}`);
    }
    Atomics.store(ctl, base + 1, go);
    Atomics.notify(ctl, base + 1);
  }
}

if (typeof process !== 'undefined' && process.versions?.node) {
  const { workerData } = await import('node:worker_threads');
  serve(workerData);
} else {
  // A browser's pool waits for this message before the first job (see threads.ts).
  self.onmessage = (e) => serve(e.data, () => self.postMessage('ready'));
}
