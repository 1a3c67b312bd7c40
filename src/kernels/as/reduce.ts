// Reductions over one axis block: x viewed as [O, R, I] reduces to out[O, I] (sum, mean, max,
// min), SIMD over I (or over R when I = 1); and argmax along rows.
// Not for: choosing blocks from a shape and a list of axes (TypeScript side, src/kernels/reduce.ts).

const R_SUM: i32 = 0;
const R_MEAN: i32 = 1;
const R_MAX: i32 = 2;
const R_MIN: i32 = 3;

// max/min propagate NaN (like torch.amax): f32x4.max, not pmax, and Mathf.max in the tails.
// @ts-ignore: decorator
@inline function red_v(op: i32, a: v128, b: v128): v128 {
  if (op == R_MAX) return f32x4.max(a, b);
  if (op == R_MIN) return f32x4.min(a, b);
  return f32x4.add(a, b);
}

// @ts-ignore: decorator
@inline function red_s(op: i32, a: f32, b: f32): f32 {
  if (op == R_MAX) return Mathf.max(a, b);
  if (op == R_MIN) return Mathf.min(a, b);
  return a + b;
}

/** Reduces R contiguous floats (4 independent vector accumulators). */
// @ts-ignore: decorator
@inline function reduce_contig(op: i32, x: usize, R: i32): f32 {
  let r = 0;
  let acc: f32;
  if (R >= 16) {
    let a0 = v128.load(x);
    let a1 = v128.load(x, 16);
    let a2 = v128.load(x, 32);
    let a3 = v128.load(x, 48);
    for (r = 16; r + 16 <= R; r += 16) {
      const p = x + (<usize>r << 2);
      a0 = red_v(op, a0, v128.load(p));
      a1 = red_v(op, a1, v128.load(p, 16));
      a2 = red_v(op, a2, v128.load(p, 32));
      a3 = red_v(op, a3, v128.load(p, 48));
    }
    for (; r + 4 <= R; r += 4) a0 = red_v(op, a0, v128.load(x + (<usize>r << 2)));
    const v = red_v(op, red_v(op, a0, a1), red_v(op, a2, a3));
    acc = red_s(op, red_s(op, f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), red_s(op, f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
  } else {
    acc = load<f32>(x);
    r = 1;
  }
  for (; r < R; r++) acc = red_s(op, acc, load<f32>(x + (<usize>r << 2)));
  return acc;
}

/** out[i] = reduce_r x[r*I + i] for i in [i0, i1): 16 columns (one cache line) per pass over R. */
// @ts-ignore: decorator
@inline function reduce_cols(op: i32, x: usize, R: i32, I: i32, i0: i32, i1: i32, out: usize): void {
  const row = <usize>I << 2;
  let i = i0;
  for (; i + 16 <= i1; i += 16) {
    let p = x + (<usize>i << 2);
    let a0 = v128.load(p);
    let a1 = v128.load(p, 16);
    let a2 = v128.load(p, 32);
    let a3 = v128.load(p, 48);
    for (let r = 1; r < R; r++) {
      p += row;
      a0 = red_v(op, a0, v128.load(p));
      a1 = red_v(op, a1, v128.load(p, 16));
      a2 = red_v(op, a2, v128.load(p, 32));
      a3 = red_v(op, a3, v128.load(p, 48));
    }
    const o = out + (<usize>i << 2);
    v128.store(o, a0);
    v128.store(o, a1, 16);
    v128.store(o, a2, 32);
    v128.store(o, a3, 48);
  }
  for (; i + 4 <= i1; i += 4) {
    let p = x + (<usize>i << 2);
    let a = v128.load(p);
    for (let r = 1; r < R; r++) {
      p += row;
      a = red_v(op, a, v128.load(p));
    }
    v128.store(out + (<usize>i << 2), a);
  }
  for (; i < i1; i++) {
    let p = x + (<usize>i << 2);
    let a = load<f32>(p);
    for (let r = 1; r < R; r++) {
      p += row;
      a = red_s(op, a, load<f32>(p));
    }
    store<f32>(out + (<usize>i << 2), a);
  }
}

// @ts-ignore: decorator
@inline function reduce_loop(op: i32, x: usize, out: usize, R: i32, I: i32, start: i32, end: i32): void {
  let j = start;
  while (j < end) {
    const o = j / I;
    const i0 = j - o * I;
    const i1 = min(I, i0 + (end - j));
    const src = x + (<usize>o * <usize>R * <usize>I << 2);
    const dst = out + (<usize>o * <usize>I << 2);
    if (I == 1) store<f32>(dst, reduce_contig(op, src, R));
    else reduce_cols(op, src, R, I, i0, i1, dst);
    j += i1 - i0;
  }
}

/**
 * x viewed as [O, R, I] (R >= 1) -> out[O, I], for flat output positions [start, end) of O*I.
 * op: 0 sum, 1 mean, 2 max, 3 min.
 */
export function reduce_axis(op: i32, x: usize, out: usize, R: i32, I: i32, start: i32, end: i32, scratch: usize): void {
  if (op == R_MAX) reduce_loop(R_MAX, x, out, R, I, start, end);
  else if (op == R_MIN) reduce_loop(R_MIN, x, out, R, I, start, end);
  else {
    reduce_loop(R_SUM, x, out, R, I, start, end);
    if (op == R_MEAN) {
      const inv = <f32>1 / <f32>R;
      const vi = f32x4.splat(inv);
      let i = start;
      for (; i + 4 <= end; i += 4) {
        const p = out + (<usize>i << 2);
        v128.store(p, f32x4.mul(v128.load(p), vi));
      }
      for (; i < end; i++) {
        const p = out + (<usize>i << 2);
        store<f32>(p, load<f32>(p) * inv);
      }
    }
  }
}

/** out[r] = first index of the largest value of row r of x[rows, cols], rows [start, end).
 * NaNs are skipped (a row of only NaNs gives 0). */
export function argmax_rows(x: usize, cols: i32, out: usize, start: i32, end: i32, scratch: usize): void {
  for (let r = start; r < end; r++) {
    const row = x + (<usize>r * <usize>cols << 2);
    // pass 1: the maximum (pmax(acc, v) keeps acc when v is NaN)
    let acc = f32x4.splat(-Infinity);
    let c = 0;
    for (; c + 4 <= cols; c += 4) acc = f32x4.pmax(acc, v128.load(row + (<usize>c << 2)));
    let m = max(max(f32x4.extract_lane(acc, 0), f32x4.extract_lane(acc, 1)), max(f32x4.extract_lane(acc, 2), f32x4.extract_lane(acc, 3)));
    for (; c < cols; c++) {
      const v = load<f32>(row + (<usize>c << 2));
      if (v > m) m = v;
    }
    // pass 2: its first position
    let idx = 0;
    for (c = 0; c < cols; c++) {
      if (load<f32>(row + (<usize>c << 2)) == m) {
        idx = c;
        break;
      }
    }
    store<i32>(out + (<usize>r << 2), idx);
  }
}
