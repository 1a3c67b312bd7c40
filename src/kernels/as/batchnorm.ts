// Batch normalization over x viewed as [rows, C] (channels last), 4 channels per vector.
// Per-channel sums are accumulated in f64 in per-part partial rows ([parts, k*C] f64, one part
// per thread, so threads never share an accumulator) and combined by a small C-length kernel.
// Statistics are two-pass: the mean first, then the deviations from it (with the compensation
// term of the corrected two-pass algorithm). Sequencing and temporaries: ../batchnorm.ts.
// Not for: other normalizations or elementwise ops (elementwise.ts).

/** First row of part p when `rows` rows are cut into `parts` near-equal parts. */
// @ts-ignore: decorator
@inline function partRow(p: i32, rows: i32, parts: i32): i32 {
  return <i32>((<i64>p * <i64>rows) / <i64>parts);
}

/** acc[0..4) (f64) += v (f32x4), two lanes at a time. */
// @ts-ignore: decorator
@inline function acc4(acc: usize, v: v128): void {
  v128.store(acc, f64x2.add(v128.load(acc), f64x2.promote_low_f32x4(v)));
  v128.store(acc, f64x2.add(v128.load(acc, 16), f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1))), 16);
}

/** Parts [start, end): partials[p][c] = sum of x[r, c] over the part's rows (f64). */
export function bn_sum(x: usize, rows: i32, C: i32, parts: i32, partials: usize, start: i32, end: i32, scratch: usize): void {
  for (let p = start; p < end; p++) {
    const acc = partials + (<usize>p * <usize>C << 3);
    memory.fill(acc, 0, <usize>C << 3);
    const r1 = partRow(p + 1, rows, parts);
    for (let r = partRow(p, rows, parts); r < r1; r++) {
      const row = x + (<usize>r * <usize>C << 2);
      let c = 0;
      for (; c + 4 <= C; c += 4) acc4(acc + (<usize>c << 3), v128.load(row + (<usize>c << 2)));
      for (; c < C; c++) store<f64>(acc + (<usize>c << 3), load<f64>(acc + (<usize>c << 3)) + <f64>load<f32>(row + (<usize>c << 2)));
    }
  }
}

/** mean[c] = sum over parts of partials[p][c] / rows. */
export function bn_mean(partials: usize, parts: i32, rows: i32, C: i32, mean: usize): void {
  for (let c = 0; c < C; c++) {
    let s: f64 = 0;
    for (let p = 0; p < parts; p++) s += load<f64>(partials + ((<usize>p * <usize>C + <usize>c) << 3));
    store<f32>(mean + (<usize>c << 2), <f32>(s / <f64>rows));
  }
}

/** Parts [start, end): partials[p] = [sum of d, sum of d*d] (2C f64) with d = x - mean. */
export function bn_sumsq_dev(x: usize, rows: i32, C: i32, mean: usize, parts: i32, partials: usize, start: i32, end: i32, scratch: usize): void {
  const cB = <usize>C << 3;
  for (let p = start; p < end; p++) {
    const acc = partials + <usize>p * (cB << 1);
    memory.fill(acc, 0, cB << 1);
    const r1 = partRow(p + 1, rows, parts);
    for (let r = partRow(p, rows, parts); r < r1; r++) {
      const row = x + (<usize>r * <usize>C << 2);
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        const d = f32x4.sub(v128.load(row + (<usize>c << 2)), v128.load(mean + (<usize>c << 2)));
        acc4(acc + (<usize>c << 3), d);
        acc4(acc + cB + (<usize>c << 3), f32x4.mul(d, d));
      }
      for (; c < C; c++) {
        const d = load<f32>(row + (<usize>c << 2)) - load<f32>(mean + (<usize>c << 2));
        const a = acc + (<usize>c << 3);
        store<f64>(a, load<f64>(a) + <f64>d);
        store<f64>(a + cB, load<f64>(a + cB) + <f64>(d * d));
      }
    }
  }
}

/** variance[c] = (sum d*d - (sum d)^2 / rows) / rows, clamped at 0 (biased variance). */
export function bn_variance(partials: usize, parts: i32, rows: i32, C: i32, variance: usize): void {
  for (let c = 0; c < C; c++) {
    let s: f64 = 0;
    let s2: f64 = 0;
    for (let p = 0; p < parts; p++) {
      const a = partials + ((<usize>p * <usize>C * 2 + <usize>c) << 3);
      s += load<f64>(a);
      s2 += load<f64>(a + (<usize>C << 3));
    }
    const n = <f64>rows;
    store<f32>(variance + (<usize>c << 2), <f32>max<f64>(0, (s2 - (s * s) / n) / n));
  }
}

/**
 * coef[0..C) = gamma / sqrt(variance + eps) (gamma = 0: no scale, 1), coef[C..2C) = beta (0: none).
 * With gamma = beta = 0 this is just 1/std and zeros.
 */
export function bn_scale_shift(variance: usize, gamma: usize, beta: usize, C: i32, eps: f32, coef: usize): void {
  for (let c = 0; c < C; c++) {
    const o = <usize>c << 2;
    const inv = <f64>1 / Math.sqrt(<f64>load<f32>(variance + o) + <f64>eps);
    const g: f64 = gamma ? <f64>load<f32>(gamma + o) : 1;
    store<f32>(coef + o, <f32>(g * inv));
    store<f32>(coef + (<usize>C << 2) + o, beta ? load<f32>(beta + o) : 0);
  }
}

/** out rows [start, end) = (x - mean) * coef[0..C) + coef[C..2C) (see bn_scale_shift). */
export function bn_forward(x: usize, C: i32, mean: usize, coef: usize, out: usize, start: i32, end: i32, scratch: usize): void {
  const shift = coef + (<usize>C << 2);
  for (let r = start; r < end; r++) {
    const xr = x + (<usize>r * <usize>C << 2);
    const orow = out + (<usize>r * <usize>C << 2);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const d = f32x4.sub(v128.load(xr + o), v128.load(mean + o));
      v128.store(orow + o, f32x4.add(f32x4.mul(d, v128.load(coef + o)), v128.load(shift + o)));
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      store<f32>(orow + o, (load<f32>(xr + o) - load<f32>(mean + o)) * load<f32>(coef + o) + load<f32>(shift + o));
    }
  }
}

/**
 * Parts [start, end): partials[p] = [sum of dy, sum of dy * xhat] (2C f64), xhat = (x - mean) *
 * invstd: the two reductions of batch norm's backward (dbeta and dgamma).
 */
export function bn_backward_sums(x: usize, dy: usize, rows: i32, C: i32, mean: usize, invstd: usize, parts: i32, partials: usize, start: i32, end: i32, scratch: usize): void {
  const cB = <usize>C << 3;
  for (let p = start; p < end; p++) {
    const acc = partials + <usize>p * (cB << 1);
    memory.fill(acc, 0, cB << 1);
    const r1 = partRow(p + 1, rows, parts);
    for (let r = partRow(p, rows, parts); r < r1; r++) {
      const xr = x + (<usize>r * <usize>C << 2);
      const gr = dy + (<usize>r * <usize>C << 2);
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        const o = <usize>c << 2;
        const g = v128.load(gr + o);
        const xh = f32x4.mul(f32x4.sub(v128.load(xr + o), v128.load(mean + o)), v128.load(invstd + o));
        acc4(acc + (<usize>c << 3), g);
        acc4(acc + cB + (<usize>c << 3), f32x4.mul(g, xh));
      }
      for (; c < C; c++) {
        const o = <usize>c << 2;
        const g = load<f32>(gr + o);
        const xh = (load<f32>(xr + o) - load<f32>(mean + o)) * load<f32>(invstd + o);
        const a = acc + (<usize>c << 3);
        store<f64>(a, load<f64>(a) + <f64>g);
        store<f64>(a + cB, load<f64>(a + cB) + <f64>(g * xh));
      }
    }
  }
}

/**
 * From the backward sums: dbeta = sum dy, dgamma = sum dy*xhat (each written when its pointer is
 * not 0) and the coefficients of dx = A*dy + B*(x - mean) + D, stored as coef = [A | B | D] (3C):
 * A = gamma*invstd, B = -A*invstd*dgamma/rows, D = -A*dbeta/rows (gamma = 0: 1).
 */
export function bn_backward_coefs(partials: usize, parts: i32, rows: i32, C: i32, gamma: usize, invstd: usize, dgamma: usize, dbeta: usize, coef: usize): void {
  const n = <f64>rows;
  const cF = <usize>C << 2;
  for (let c = 0; c < C; c++) {
    let sdy: f64 = 0;
    let sdyx: f64 = 0;
    for (let p = 0; p < parts; p++) {
      const a = partials + ((<usize>p * <usize>C * 2 + <usize>c) << 3);
      sdy += load<f64>(a);
      sdyx += load<f64>(a + (<usize>C << 3));
    }
    const o = <usize>c << 2;
    if (dbeta) store<f32>(dbeta + o, <f32>sdy);
    if (dgamma) store<f32>(dgamma + o, <f32>sdyx);
    const inv = <f64>load<f32>(invstd + o);
    const A = (gamma ? <f64>load<f32>(gamma + o) : 1) * inv;
    store<f32>(coef + o, <f32>A);
    store<f32>(coef + cF + o, <f32>((-A * inv * sdyx) / n));
    store<f32>(coef + 2 * cF + o, <f32>((-A * sdy) / n));
  }
}

/** dx rows [start, end) = A*dy + B*(x - mean) + D with coef = [A | B | D] (bn_backward_coefs). */
export function bn_backward_dx(x: usize, dy: usize, C: i32, mean: usize, coef: usize, dx: usize, start: i32, end: i32, scratch: usize): void {
  const cF = <usize>C << 2;
  const cB = coef + cF;
  const cD = coef + 2 * cF;
  for (let r = start; r < end; r++) {
    const off = <usize>r * <usize>C << 2;
    const xr = x + off;
    const gr = dy + off;
    const dr = dx + off;
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const d = f32x4.sub(v128.load(xr + o), v128.load(mean + o));
      const v = f32x4.add(f32x4.mul(v128.load(gr + o), v128.load(coef + o)), f32x4.mul(d, v128.load(cB + o)));
      v128.store(dr + o, f32x4.add(v, v128.load(cD + o)));
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      const d = load<f32>(xr + o) - load<f32>(mean + o);
      store<f32>(dr + o, load<f32>(gr + o) * load<f32>(coef + o) + d * load<f32>(cB + o) + load<f32>(cD + o));
    }
  }
}
