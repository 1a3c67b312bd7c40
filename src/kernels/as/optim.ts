// Optimizer kernels: fused in-place parameter updates (SGD with momentum / Nesterov / L2, Adam with
// L2 or decoupled weight decay, Adagrad) and the f64 sum of squares behind gradient-norm clipping.
// Update kernels end with (start, end, scratch) over elements so the pool can split them; their
// *_rows variants update only the rows of a row-sparse gradient (embedding tables), split by row.
// Deliberately no FMA (madd): lanes and scalar tails use the same mul + add, so every build and
// every thread split gives bit-identical parameters (a resumed run continues exactly).
// Not for: hyper-parameters, bias corrections, state lifetimes (TypeScript: src/optim/).

/** sgd_step flags (mirror of SGD_FLAGS in src/kernels/optim.ts). */
const SGD_WD: i32 = 1;
const SGD_MOMENTUM: i32 = 2;
/** First step with momentum: the buffer starts as d (PyTorch's clone), no dampening. */
const SGD_FIRST: i32 = 4;
const SGD_NESTEROV: i32 = 8;

/** adam_step flags (mirror of ADAM_FLAGS in src/kernels/optim.ts). */
const ADAM_L2: i32 = 1;
const ADAM_DECOUPLED: i32 = 2;

// ---- SGD -----------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function sgd_loop(flags: i32, param: usize, grad: usize, buf: usize, lr: f32, momentum: f32, damp1: f32, wd: f32, start: i32, end: i32): void {
  const vlr = f32x4.splat(lr);
  const vmom = f32x4.splat(momentum);
  const vdamp = f32x4.splat(damp1);
  const vwd = f32x4.splat(wd);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const o = <usize>i << 2;
    const p = v128.load(param + o);
    let d = v128.load(grad + o);
    if (flags & SGD_WD) d = f32x4.add(d, f32x4.mul(vwd, p));
    if (flags & SGD_MOMENTUM) {
      let b = d;
      if (!(flags & SGD_FIRST)) b = f32x4.add(f32x4.mul(v128.load(buf + o), vmom), f32x4.mul(vdamp, d));
      v128.store(buf + o, b);
      d = flags & SGD_NESTEROV ? f32x4.add(d, f32x4.mul(vmom, b)) : b;
    }
    v128.store(param + o, f32x4.sub(p, f32x4.mul(vlr, d)));
  }
  for (; i < end; i++) {
    const o = <usize>i << 2;
    const p = load<f32>(param + o);
    let d = load<f32>(grad + o);
    if (flags & SGD_WD) d = d + wd * p;
    if (flags & SGD_MOMENTUM) {
      let b = d;
      if (!(flags & SGD_FIRST)) b = load<f32>(buf + o) * momentum + damp1 * d;
      store<f32>(buf + o, b);
      d = flags & SGD_NESTEROV ? d + momentum * b : b;
    }
    store<f32>(param + o, p - lr * d);
  }
}

/**
 * torch.optim.SGD on elements [start, end), in place:
 *   d = g (+ wd p);  buf = first ? d : momentum buf + damp1 d;  d = nesterov ? d + momentum buf : buf;
 *   p -= lr d.  damp1 = 1 - dampening. buf is untouched without SGD_MOMENTUM.
 */
export function sgd_step(param: usize, grad: usize, buf: usize, lr: f32, momentum: f32, damp1: f32, wd: f32, flags: i32, start: i32, end: i32, scratch: usize): void {
  // One loop per flag combination, so the flags are resolved outside the loop.
  switch (flags) {
    case 0: sgd_loop(0, param, grad, buf, lr, momentum, damp1, wd, start, end); break;
    case 1: sgd_loop(1, param, grad, buf, lr, momentum, damp1, wd, start, end); break;
    case 2: sgd_loop(2, param, grad, buf, lr, momentum, damp1, wd, start, end); break;
    case 3: sgd_loop(3, param, grad, buf, lr, momentum, damp1, wd, start, end); break;
    case 6: sgd_loop(6, param, grad, buf, lr, momentum, damp1, wd, start, end); break;
    case 7: sgd_loop(7, param, grad, buf, lr, momentum, damp1, wd, start, end); break;
    case 10: sgd_loop(10, param, grad, buf, lr, momentum, damp1, wd, start, end); break;
    case 11: sgd_loop(11, param, grad, buf, lr, momentum, damp1, wd, start, end); break;
    case 14: sgd_loop(14, param, grad, buf, lr, momentum, damp1, wd, start, end); break;
    case 15: sgd_loop(15, param, grad, buf, lr, momentum, damp1, wd, start, end); break;
  }
}

// ---- Adam ----------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function adam_loop(flags: i32, param: usize, grad: usize, m: usize, v: usize, b1w: f32, beta2: f32, b2w: f32, stepSize: f32, bc2Sqrt: f32, eps: f32, wd: f32, decay: f32, start: i32, end: i32): void {
  const vb1w = f32x4.splat(b1w);
  const vbeta2 = f32x4.splat(beta2);
  const vb2w = f32x4.splat(b2w);
  const vstep = f32x4.splat(stepSize);
  const vbc2 = f32x4.splat(bc2Sqrt);
  const veps = f32x4.splat(eps);
  const vwd = f32x4.splat(wd);
  const vdecay = f32x4.splat(decay);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const o = <usize>i << 2;
    let p = v128.load(param + o);
    let g = v128.load(grad + o);
    if (flags & ADAM_L2) g = f32x4.add(g, f32x4.mul(vwd, p));
    if (flags & ADAM_DECOUPLED) p = f32x4.mul(p, vdecay);
    let mv = v128.load(m + o);
    mv = f32x4.add(mv, f32x4.mul(vb1w, f32x4.sub(g, mv)));
    const vv = f32x4.add(f32x4.mul(v128.load(v + o), vbeta2), f32x4.mul(vb2w, f32x4.mul(g, g)));
    v128.store(m + o, mv);
    v128.store(v + o, vv);
    const denom = f32x4.add(f32x4.div(f32x4.sqrt(vv), vbc2), veps);
    v128.store(param + o, f32x4.sub(p, f32x4.mul(vstep, f32x4.div(mv, denom))));
  }
  for (; i < end; i++) {
    const o = <usize>i << 2;
    let p = load<f32>(param + o);
    let g = load<f32>(grad + o);
    if (flags & ADAM_L2) g = g + wd * p;
    if (flags & ADAM_DECOUPLED) p = p * decay;
    let mv = load<f32>(m + o);
    mv = mv + b1w * (g - mv);
    const vv = load<f32>(v + o) * beta2 + b2w * (g * g);
    store<f32>(m + o, mv);
    store<f32>(v + o, vv);
    const denom = Mathf.sqrt(vv) / bc2Sqrt + eps;
    store<f32>(param + o, p - stepSize * (mv / denom));
  }
}

/**
 * torch.optim.Adam / AdamW on elements [start, end), in place:
 *   g += wd p (L2);  p *= decay (decoupled, decay = 1 - lr wd);  m += b1w (g - m);  v = beta2 v + b2w g²;
 *   p -= stepSize m / (sqrt(v) / bc2Sqrt + eps).
 * b1w = 1 - beta1, b2w = 1 - beta2, stepSize = lr / (1 - beta1^t), bc2Sqrt = sqrt(1 - beta2^t).
 */
export function adam_step(param: usize, grad: usize, m: usize, v: usize, b1w: f32, beta2: f32, b2w: f32, stepSize: f32, bc2Sqrt: f32, eps: f32, wd: f32, decay: f32, flags: i32, start: i32, end: i32, scratch: usize): void {
  switch (flags) {
    case 0: adam_loop(0, param, grad, m, v, b1w, beta2, b2w, stepSize, bc2Sqrt, eps, wd, decay, start, end); break;
    case 1: adam_loop(1, param, grad, m, v, b1w, beta2, b2w, stepSize, bc2Sqrt, eps, wd, decay, start, end); break;
    case 2: adam_loop(2, param, grad, m, v, b1w, beta2, b2w, stepSize, bc2Sqrt, eps, wd, decay, start, end); break;
    case 3: adam_loop(3, param, grad, m, v, b1w, beta2, b2w, stepSize, bc2Sqrt, eps, wd, decay, start, end); break;
  }
}

// ---- Adagrad -------------------------------------------------------------------------------

/** adagrad_step flags (mirror of ADAGRAD_FLAGS in src/kernels/optim.ts). */
const ADAGRAD_WD: i32 = 1;

// @ts-ignore: decorator
@inline function adagrad_loop(flags: i32, param: usize, grad: usize, sum: usize, clr: f32, eps: f32, wd: f32, start: i32, end: i32): void {
  const vclr = f32x4.splat(clr);
  const veps = f32x4.splat(eps);
  const vwd = f32x4.splat(wd);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const o = <usize>i << 2;
    const p = v128.load(param + o);
    let g = v128.load(grad + o);
    if (flags & ADAGRAD_WD) g = f32x4.add(g, f32x4.mul(vwd, p));
    const s = f32x4.add(v128.load(sum + o), f32x4.mul(g, g));
    v128.store(sum + o, s);
    v128.store(param + o, f32x4.sub(p, f32x4.mul(vclr, f32x4.div(g, f32x4.add(f32x4.sqrt(s), veps)))));
  }
  for (; i < end; i++) {
    const o = <usize>i << 2;
    const p = load<f32>(param + o);
    let g = load<f32>(grad + o);
    if (flags & ADAGRAD_WD) g = g + wd * p;
    const s = load<f32>(sum + o) + g * g;
    store<f32>(sum + o, s);
    store<f32>(param + o, p - clr * (g / (Mathf.sqrt(s) + eps)));
  }
}

/**
 * torch.optim.Adagrad on elements [start, end), in place:
 *   g += wd p (L2);  sum += g²;  p -= clr g / (sqrt(sum) + eps).  clr = lr / (1 + (t - 1) lr_decay).
 */
export function adagrad_step(param: usize, grad: usize, sum: usize, clr: f32, eps: f32, wd: f32, flags: i32, start: i32, end: i32, scratch: usize): void {
  if (flags & ADAGRAD_WD) adagrad_loop(ADAGRAD_WD, param, grad, sum, clr, eps, wd, start, end);
  else adagrad_loop(0, param, grad, sum, clr, eps, wd, start, end);
}

// ---- row-sparse updates --------------------------------------------------------------------
// grad[count, width] holds the gradient of parameter rows ids[count] (int32, unique: two threads
// never write one row); param and its state are [V, width]. Rows [start, end) of grad, each
// updated by the dense kernel over its width: the same arithmetic, so a row's new values do not
// depend on whether the update was sparse.

/** sgd_step on the rows of a row-sparse gradient (buf untouched without SGD_MOMENTUM). */
export function sgd_rows(param: usize, grad: usize, buf: usize, lr: f32, momentum: f32, damp1: f32, wd: f32, flags: i32, ids: usize, width: i32, start: i32, end: i32, scratch: usize): void {
  const bytes = <usize>width << 2;
  for (let r = start; r < end; r++) {
    const at = <usize>load<i32>(ids + (<usize>r << 2)) * bytes;
    sgd_step(param + at, grad + <usize>r * bytes, buf + at, lr, momentum, damp1, wd, flags, 0, width, scratch);
  }
}

/** adam_step on the rows of a row-sparse gradient (lazy Adam: other rows' moments are not decayed). */
export function adam_rows(param: usize, grad: usize, m: usize, v: usize, b1w: f32, beta2: f32, b2w: f32, stepSize: f32, bc2Sqrt: f32, eps: f32, wd: f32, decay: f32, flags: i32, ids: usize, width: i32, start: i32, end: i32, scratch: usize): void {
  const bytes = <usize>width << 2;
  for (let r = start; r < end; r++) {
    const at = <usize>load<i32>(ids + (<usize>r << 2)) * bytes;
    adam_step(param + at, grad + <usize>r * bytes, m + at, v + at, b1w, beta2, b2w, stepSize, bc2Sqrt, eps, wd, decay, flags, 0, width, scratch);
  }
}

/** adagrad_step on the rows of a row-sparse gradient. */
export function adagrad_rows(param: usize, grad: usize, sum: usize, clr: f32, eps: f32, wd: f32, flags: i32, ids: usize, width: i32, start: i32, end: i32, scratch: usize): void {
  const bytes = <usize>width << 2;
  for (let r = start; r < end; r++) {
    const at = <usize>load<i32>(ids + (<usize>r << 2)) * bytes;
    adagrad_step(param + at, grad + <usize>r * bytes, sum + at, clr, eps, wd, flags, 0, width, scratch);
  }
}

// ---- sum of squares ------------------------------------------------------------------------

/** First element of part p when n elements are cut into `parts` parts on 4-element boundaries. */
// @ts-ignore: decorator
@inline function partStart(p: i32, n: i32, parts: i32): i32 {
  if (p >= parts) return n;
  return <i32>((<i64>p * <i64>n) / <i64>parts) & ~3;
}

/**
 * Parts [start, end): partials[p] (f64) = sum of x[i]² over part p of x[n]. Squares are exact in
 * f64; the part count (not the thread count) fixes the summation order, so the result does not
 * depend on how many threads ran.
 */
export function sum_squares(x: usize, n: i32, parts: i32, partials: usize, start: i32, end: i32, scratch: usize): void {
  for (let p = start; p < end; p++) {
    const i1 = partStart(p + 1, n, parts);
    let i = partStart(p, n, parts);
    let lo = f64x2.splat(0);
    let hi = f64x2.splat(0);
    for (; i + 4 <= i1; i += 4) {
      const v = v128.load(x + (<usize>i << 2));
      const a = f64x2.promote_low_f32x4(v);
      const b = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
      lo = f64x2.add(lo, f64x2.mul(a, a));
      hi = f64x2.add(hi, f64x2.mul(b, b));
    }
    const s = f64x2.add(lo, hi);
    let acc = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
    for (; i < i1; i++) {
      const a = <f64>load<f32>(x + (<usize>i << 2));
      acc += a * a;
    }
    store<f64>(partials + (<usize>p << 3), acc);
  }
}
