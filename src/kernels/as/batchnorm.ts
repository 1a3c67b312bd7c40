// Batch normalization over x viewed as [rows, C] (channels last), 4 channels per vector.
// Per-channel sums run in f32 registers over blocks of BLOCK rows, and each block's sums are added
// in f64 to per-part partial rows ([parts, k*C] f64, one part per thread, so threads never share
// an accumulator), combined by a small C-length kernel. (Accumulating straight into f64 memory
// cost a load/promote/add/store per 2 values and made the reductions 2x slower than a copy.)
// Statistics are one pass over x - shift, shift = x's first row (shifted sums: no cancellation
// when the mean is far from zero). Sequencing and temporaries: ../batchnorm.ts.
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

/** Rows summed in f32 registers before a block's sums are added to the f64 partials. */
const BLOCK: i32 = 64;

/**
 * Parts [start, end): partials[p] = [sum of d, sum of d*d] (2C f64) over the part's rows,
 * d = x - shift with shift = x row 0.
 */
export function bn_moments(x: usize, rows: i32, C: i32, parts: i32, partials: usize, start: i32, end: i32, scratch: usize): void {
  const cB = <usize>C << 3;
  const rowB = <usize>C << 2;
  for (let p = start; p < end; p++) {
    const acc = partials + <usize>p * (cB << 1);
    memory.fill(acc, 0, cB << 1);
    const r1 = partRow(p + 1, rows, parts);
    for (let b = partRow(p, rows, parts); b < r1; b += BLOCK) {
      const be = min(b + BLOCK, r1);
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        const sh = v128.load(x + (<usize>c << 2));
        let s0 = f32x4.splat(0);
        let s1 = f32x4.splat(0);
        let q0 = f32x4.splat(0);
        let q1 = f32x4.splat(0);
        let ptr = x + <usize>b * rowB + (<usize>c << 2);
        let r = b;
        for (; r + 2 <= be; r += 2) {
          const d0 = f32x4.sub(v128.load(ptr), sh);
          const d1 = f32x4.sub(v128.load(ptr + rowB), sh);
          s0 = f32x4.add(s0, d0);
          s1 = f32x4.add(s1, d1);
          q0 = f32x4.add(q0, f32x4.mul(d0, d0));
          q1 = f32x4.add(q1, f32x4.mul(d1, d1));
          ptr += rowB << 1;
        }
        if (r < be) {
          const d0 = f32x4.sub(v128.load(ptr), sh);
          s0 = f32x4.add(s0, d0);
          q0 = f32x4.add(q0, f32x4.mul(d0, d0));
        }
        acc4(acc + (<usize>c << 3), f32x4.add(s0, s1));
        acc4(acc + cB + (<usize>c << 3), f32x4.add(q0, q1));
      }
      for (; c < C; c++) {
        const sh = load<f32>(x + (<usize>c << 2));
        let s: f64 = 0;
        let q: f64 = 0;
        for (let r = b; r < be; r++) {
          const d = <f64>(load<f32>(x + <usize>r * rowB + (<usize>c << 2)) - sh);
          s += d;
          q += d * d;
        }
        const a = acc + (<usize>c << 3);
        store<f64>(a, load<f64>(a) + s);
        store<f64>(a + cB, load<f64>(a + cB) + q);
      }
    }
  }
}

/** mean = shift + sum d / rows, variance = (sum d*d - (sum d)^2 / rows) / rows (biased, >= 0). */
export function bn_mean_var(partials: usize, parts: i32, rows: i32, C: i32, x: usize, mean: usize, variance: usize): void {
  const n = <f64>rows;
  for (let c = 0; c < C; c++) {
    let s: f64 = 0;
    let s2: f64 = 0;
    for (let p = 0; p < parts; p++) {
      const a = partials + ((<usize>p * <usize>C * 2 + <usize>c) << 3);
      s += load<f64>(a);
      s2 += load<f64>(a + (<usize>C << 3));
    }
    const o = <usize>c << 2;
    store<f32>(mean + o, <f32>(<f64>load<f32>(x + o) + s / n));
    store<f32>(variance + o, <f32>max<f64>(0, (s2 - (s * s) / n) / n));
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
 * invstd: the two reductions of batch norm's backward (dbeta and dgamma). Blocked like bn_moments.
 */
export function bn_backward_sums(x: usize, dy: usize, rows: i32, C: i32, mean: usize, invstd: usize, parts: i32, partials: usize, start: i32, end: i32, scratch: usize): void {
  const cB = <usize>C << 3;
  const rowB = <usize>C << 2;
  for (let p = start; p < end; p++) {
    const acc = partials + <usize>p * (cB << 1);
    memory.fill(acc, 0, cB << 1);
    const r1 = partRow(p + 1, rows, parts);
    for (let b = partRow(p, rows, parts); b < r1; b += BLOCK) {
      const be = min(b + BLOCK, r1);
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        const o = <usize>c << 2;
        const mu = v128.load(mean + o);
        let s0 = f32x4.splat(0);
        let s1 = f32x4.splat(0);
        let q0 = f32x4.splat(0);
        let q1 = f32x4.splat(0);
        let off = <usize>b * rowB + o;
        let r = b;
        for (; r + 2 <= be; r += 2) {
          const g0 = v128.load(dy + off);
          const g1 = v128.load(dy + off + rowB);
          s0 = f32x4.add(s0, g0);
          s1 = f32x4.add(s1, g1);
          q0 = f32x4.add(q0, f32x4.mul(g0, f32x4.sub(v128.load(x + off), mu)));
          q1 = f32x4.add(q1, f32x4.mul(g1, f32x4.sub(v128.load(x + off + rowB), mu)));
          off += rowB << 1;
        }
        if (r < be) {
          const g0 = v128.load(dy + off);
          s0 = f32x4.add(s0, g0);
          q0 = f32x4.add(q0, f32x4.mul(g0, f32x4.sub(v128.load(x + off), mu)));
        }
        acc4(acc + (<usize>c << 3), f32x4.add(s0, s1));
        acc4(acc + cB + (<usize>c << 3), f32x4.mul(f32x4.add(q0, q1), v128.load(invstd + o)));
      }
      for (; c < C; c++) {
        const o = <usize>c << 2;
        const mu = load<f32>(mean + o);
        let s: f64 = 0;
        let q: f64 = 0;
        for (let r = b; r < be; r++) {
          const off = <usize>r * rowB + o;
          const g = <f64>load<f32>(dy + off);
          s += g;
          q += g * <f64>(load<f32>(x + off) - mu);
        }
        const a = acc + (<usize>c << 3);
        store<f64>(a, load<f64>(a) + s);
        store<f64>(a + cB, load<f64>(a + cB) + q * <f64>load<f32>(invstd + o));
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
