// WebGPU kernels: the optimizer updates (SGD with momentum/Nesterov, Adam/AdamW, Adagrad), each one
// kernel in place, dense or over the rows of a row-sparse gradient. The step's scalars (Adam's bias
// corrections, Adagrad's decayed rate) are computed on the host as the reference computes them and
// passed as parameters; the kernels do f32 arithmetic per element (the reference rounds f64 to f32
// on store, so results agree to f32 rounding, not bit for bit).
// Semantics: src/kernels/optim.ts, src/backend/backend.ts and the reference backend.
// Not for: optimizer state or schedules (src/optim/), sumSquares (reduce.ts).

import { adamScalars } from '../../kernels/optim.js';
import type { AdagradStepArgs, AdamStepArgs, RowSet, SgdStepArgs } from '../backend.js';
import { bind, fw, type KernelSpec, type Kernels, main1, specFor } from './wgsl.js';

/** sgd flags (runtime parameter bits). */
const SGD_DECAY = 1;
const SGD_FIRST = 2;
const SGD_NESTEROV = 4;

/**
 * The index lines of an update: `pi` (element of the parameter and its state) and `gi` (element of
 * the gradient). Dense: both i. Rows: invocation i is element i % width of gradient row i / width,
 * which updates parameter row ids[i / width] (ids is the last binding, width the last parameter).
 */
function indices(rows: boolean): string {
  return rows ? 'let gi = i; let pi = u32(ids[o_ids + i / width]) * width + i % width;' : 'let gi = i; let pi = i;';
}

/** A spec with the update `stmts`, dense or over rows: bindings + ids, params + width. */
function updateSpec(name: string, bindings: string[], params: string[], stmts: string, rows: boolean): KernelSpec {
  return {
    name: `${name}${rows ? '_rows' : ''}`,
    bindings: rows ? [...bindings, 'ids:i32'] : bindings,
    params: rows ? [...params, 'width:u32'] : params,
    body: main1(`${indices(rows)}\n  ${stmts}`),
  };
}

/** Dispatches an update over n elements, or over rows.count × rows.width gradient elements. */
function runUpdate(
  k: Kernels,
  spec: KernelSpec,
  state: number[],
  grad: number,
  n: number,
  params: number[],
  rows?: RowSet,
): void {
  const count = rows ? rows.count * rows.width : n;
  const binds = [...state.map((b) => bind(b, n)), bind(grad, count)];
  if (rows) k.run1(spec, [...binds, bind(rows.ids, rows.count)], [count, ...params, rows.width], count);
  else k.run1(spec, binds, [count, ...params], count);
}

const sgdSpecs = new Map<string, KernelSpec>();
function sgdSpec(momentum: boolean, rows: boolean): KernelSpec {
  return specFor(sgdSpecs, `${momentum}${rows}`, () => {
    const decay = 'var d = g[o_g + gi]; if ((flags & 1u) != 0u) { d += wd * p[o_p + pi]; }';
    const stmts = momentum
      ? `${decay}
  let b = select(mom * buf[o_buf + pi] + damp1 * d, d, (flags & ${SGD_FIRST}u) != 0u);
  buf[o_buf + pi] = b;
  d = select(b, d + mom * b, (flags & ${SGD_NESTEROV}u) != 0u);
  p[o_p + pi] -= lr * d;`
      : `${decay}\n  p[o_p + pi] -= lr * d;`;
    const bindings = momentum ? ['p:f32!', 'buf:f32!', 'g:f32'] : ['p:f32!', 'g:f32'];
    const params = ['n:u32', 'lr:f32', 'mom:f32', 'damp1:f32', 'wd:f32', 'flags:u32'];
    return updateSpec(`sgd${momentum ? '_momentum' : ''}`, bindings, params, stmts, rows);
  });
}

/** torch.optim.SGD in place (rows: only those rows of param and buf); buf is untouched without momentum. */
export function sgdStep(
  k: Kernels,
  param: number,
  grad: number,
  buf: number,
  n: number,
  a: SgdStepArgs,
  rows?: RowSet,
): void {
  const momentum = a.momentum !== 0;
  let flags = a.weightDecay !== 0 ? SGD_DECAY : 0;
  if (momentum && a.firstStep) flags |= SGD_FIRST;
  if (momentum && a.nesterov) flags |= SGD_NESTEROV;
  const params = [fw(a.lr), fw(a.momentum), fw(1 - a.dampening), fw(a.weightDecay), flags];
  runUpdate(k, sgdSpec(momentum, rows !== undefined), momentum ? [param, buf] : [param], grad, n, params, rows);
}

const adamSpecs = new Map<boolean, KernelSpec>();
function adamSpec(rows: boolean): KernelSpec {
  // mode 0: no decay; 1: L2 (Adam, added to g); 2: decoupled (AdamW, p scaled by 1 − lr·wd).
  return specFor(adamSpecs, rows, () =>
    updateSpec(
      'adam',
      ['p:f32!', 'm:f32!', 'v:f32!', 'g:f32'],
      [
        'n:u32',
        'beta1:f32',
        'omb1:f32',
        'beta2:f32',
        'omb2:f32',
        'stepSize:f32',
        'bc2Sqrt:f32',
        'eps:f32',
        'wd:f32',
        'decay:f32',
        'mode:u32',
      ],
      `var pv = p[o_p + pi];
  var gv = g[o_g + gi];
  if (mode == 2u) { pv *= decay; }
  if (mode == 1u) { gv += wd * pv; }
  let mv = beta1 * m[o_m + pi] + omb1 * gv;
  let vv = beta2 * v[o_v + pi] + omb2 * gv * gv;
  m[o_m + pi] = mv;
  v[o_v + pi] = vv;
  p[o_p + pi] = pv - (stepSize * mv) / (sqrt(vv) / bc2Sqrt + eps);`,
      rows,
    ),
  );
}

/** torch.optim.Adam / AdamW in place; rows: torch.optim.SparseAdam's scalars (adamScalars). */
export function adamStep(
  k: Kernels,
  param: number,
  grad: number,
  m: number,
  v: number,
  n: number,
  a: AdamStepArgs,
  rows?: RowSet,
): void {
  const { stepSize, bc2Sqrt } = adamScalars(a, rows !== undefined);
  const mode = a.weightDecay === 0 ? 0 : a.decoupled ? 2 : 1;
  const params = [
    fw(a.beta1),
    fw(1 - a.beta1),
    fw(a.beta2),
    fw(1 - a.beta2),
    fw(stepSize),
    fw(bc2Sqrt),
    fw(a.eps),
    fw(a.weightDecay),
    fw(1 - a.lr * a.weightDecay),
    mode,
  ];
  runUpdate(k, adamSpec(rows !== undefined), [param, m, v], grad, n, params, rows);
}

const adagradSpecs = new Map<boolean, KernelSpec>();
function adagradSpec(rows: boolean): KernelSpec {
  return specFor(adagradSpecs, rows, () =>
    updateSpec(
      'adagrad',
      ['p:f32!', 's:f32!', 'g:f32'],
      ['n:u32', 'clr:f32', 'eps:f32', 'wd:f32'],
      `let pv = p[o_p + pi];
  let gv = g[o_g + gi] + wd * pv;
  let sv = s[o_s + pi] + gv * gv;
  s[o_s + pi] = sv;
  p[o_p + pi] = pv - (clr * gv) / (sqrt(sv) + eps);`,
      rows,
    ),
  );
}

/** torch.optim.Adagrad in place (rows: only those rows of param and sum). */
export function adagradStep(
  k: Kernels,
  param: number,
  grad: number,
  sum: number,
  n: number,
  a: AdagradStepArgs,
  rows?: RowSet,
): void {
  const clr = a.lr / (1 + (a.step - 1) * a.lrDecay);
  const params = [fw(clr), fw(a.eps), fw(a.weightDecay)];
  runUpdate(k, adagradSpec(rows !== undefined), [param, sum], grad, n, params, rows);
}
