// Normalization over the channel (last) axis: batchnorm with running statistics (inference, and
// eval-mode training), batchnorm_train with batch statistics (training; eager only), and layernorm
// (per row over the last axis: transformers). layernorm is written only in backend family calls
// (reduce, elementwise), so it runs on every backend with no kernel of its own; with gamma = 1 and
// beta = 0 (the compiler's fold-ln pass moved them into the next linear) it skips the affine.

import type { Backend, InferenceBackend } from '../backend/backend.js';
import { fmtShape, ShapeError } from '../errors.js';
import { isFloat32 } from '../io/fields.js';
import type { Arg, Info, OpDef, Ref } from './op.js';
import { channelConstant, channelsOf, numel, rowsOf, sameDtype } from './rules.js';

export interface NormAttrs {
  /** Inputs x, gamma, beta, mean, var. */
  batchnorm: { eps: number };
  /** Inputs x, gamma, beta; batch statistics, reported to onStats (running averages). */
  batchnorm_train: { eps: number; onStats?: (mean: Ref, variance: Ref) => void };
  /** Inputs x, gamma[C], beta[C]; over the last axis. */
  layernorm: { eps: number };
}

function checkParams(op: string, x: Info, ps: readonly Info[]): number {
  const C = channelsOf(op, x);
  for (const p of ps)
    if (p.shape.length !== 1 || p.shape[0] !== C)
      throw new ShapeError(`${op}: parameter ${fmtShape(p.shape)} must be [${C}] for input ${fmtShape(x.shape)}`);
  return C;
}

/** out[C] = Σ over rows of a[rows, C] · b[rows, C], through the scratch t[rows, C]. */
function columnDot(bk: InferenceBackend, a: Arg, b: Arg, t: Arg, rows: number, C: number, out: Arg): void {
  bk.binary('mul', a.buf, [rows, C], b.buf, [rows, C], t.buf);
  bk.reduce('sum', t.buf, [rows, C], [0], out.buf);
}

/** gamma all ones and beta all zeros (a C-element scan: cheaper than the two passes it saves). */
function identityAffine(b: InferenceBackend, gamma: Arg, beta: Arg, C: number): boolean {
  const g = b.f32(gamma.buf, C);
  for (let i = 0; i < C; i++) if (g[i] !== 1) return false;
  const z = b.f32(beta.buf, C);
  for (let i = 0; i < C; i++) if (z[i] !== 0) return false;
  return true;
}

const epsOf = (c: { n: { attrs: { eps: unknown } }; bad(m: string): never }) => {
  const eps = c.n.attrs.eps;
  if (!isFloat32(eps) || eps < 0) c.bad(`attrs.eps must be a non-negative float32 number, got ${JSON.stringify(eps)}`);
};

export const NORM = {
  batchnorm: {
    arity: [5, 5],
    infer: ([x, ...ps]) => {
      checkParams('batchnorm', x, ps);
      return { shape: x.shape, dtype: 'float32' };
    },
    check(c) {
      const x = sameDtype(c, 'float32');
      for (let i = 1; i < 5; i++)
        channelConstant(c, i, x.shape.at(-1) as number, ['', 'gamma', 'beta', 'mean', 'var'][i]);
      epsOf(c);
    },
    forward(x, [i, gamma, beta, mean, variance], out, a) {
      const [rows, C] = rowsOf(i);
      x.backend.batchNormForward(i.buf, rows, C, mean.buf, variance.buf, a.eps, gamma.buf, beta.buf, out.buf);
      return undefined;
    },
    vjp: (g, [x, gamma, , mean, variance], _o, _s, d, a, needs) => {
      const bk = g.backend;
      const [rows, C] = rowsOf(x);
      // rstd[C] = 1 / sqrt(var + eps); xhat = (x - mean) · rstd
      const rstd = g.alloc([C]);
      bk.scale(variance.buf, rstd.buf, C, 1, a.eps);
      bk.unary('sqrt', rstd.buf, rstd.buf, C);
      bk.unary('reciprocal', rstd.buf, rstd.buf, C);
      let dx: Ref | null = null;
      if (needs[0]) {
        dx = g.alloc(x.shape);
        bk.binary('mul', d.buf, [rows, C], gamma.buf, [C], dx.buf);
        bk.binary('mul', dx.buf, [rows, C], rstd.buf, [C], dx.buf);
      }
      let dgamma: Ref | null = null;
      if (needs[1]) {
        const xhat = g.alloc(x.shape);
        bk.binary('sub', x.buf, [rows, C], mean.buf, [C], xhat.buf);
        bk.binary('mul', xhat.buf, [rows, C], rstd.buf, [C], xhat.buf);
        dgamma = g.alloc([C]);
        const t = g.alloc(x.shape);
        columnDot(bk, d, xhat, t, rows, C, dgamma);
        t.dispose();
        xhat.dispose();
      }
      let dbeta: Ref | null = null;
      if (needs[2]) {
        dbeta = g.alloc([C]);
        bk.reduce('sum', d.buf, [rows, C], [0], dbeta.buf);
      }
      rstd.dispose();
      return [dx, dgamma, dbeta, null, null];
    },
    traits: { perChannel: true },
    onnx: (o, n) => {
      const at = n.name;
      const r = o.value(n.inputs[0]).shape.length;
      if (r < 2) throw new ShapeError(`exportOnnx: batchnorm '${at}' on a rank-${r} value is not exported`);
      const ps = n.inputs.slice(1).map((k) => o.tensor(k, [o.constant(k).data.length], o.floatData(k)));
      const eps = [{ name: 'epsilon', f: n.attrs.eps }];
      if (r === 4 || r === 2) {
        o.bind(n.output, o.node('BatchNormalization', [o.float(n.inputs[0], at), ...ps], at, eps), at);
        return;
      }
      // sequences [N, T, C] and other ranks: ONNX normalizes axis 1, Graduate the last
      const inner = Array.from({ length: r - 2 }, (_, i) => i + 1);
      const x = o.node('Transpose', [o.float(n.inputs[0], at, 'graduate')], at, [
        { name: 'perm', ints: [0, r - 1, ...inner] },
      ]);
      const y = o.node('BatchNormalization', [x, ...ps], at, eps);
      const back = [0, ...inner.map((i) => i + 1), 1];
      o.bind(n.output, o.node('Transpose', [y], at, [{ name: 'perm', ints: back }]), at, 'graduate');
    },
  } satisfies OpDef<NormAttrs['batchnorm']>,
  batchnorm_train: {
    arity: [3, 3],
    infer: ([x, gamma, beta]) => {
      checkParams('batchNorm', x, [gamma, beta]);
      if (numel(x.shape) / channelsOf('batchNorm', x) < 2)
        throw new ShapeError(
          `batchNorm: training statistics need more than one value per channel, input ${fmtShape(x.shape)}`,
        );
      return { shape: x.shape, dtype: 'float32' };
    },
    check: (c) => c.bad('batchnorm_train computes batch statistics: inference graphs use batchnorm'),
    forward(x, [i, gamma, beta], out, a) {
      const [rows, C] = rowsOf(i);
      const mean = x.temp([C]);
      const variance = x.temp([C]);
      // eager only (check() keeps it out of graphs): its inputs live on a training backend
      (x.backend as Backend).batchNormStats(i.buf, rows, C, mean.buf, variance.buf);
      x.backend.batchNormForward(i.buf, rows, C, mean.buf, variance.buf, a.eps, gamma.buf, beta.buf, out.buf);
      a.onStats?.(mean as Ref, variance as Ref);
      return [mean, variance];
    },
    vjp: (g, [x, gamma], _o, [mean, variance], d, a) => {
      const [rows, C] = rowsOf(x);
      const dx = g.alloc(x.shape);
      const dgamma = g.alloc([C]);
      const dbeta = g.alloc([C]);
      g.backend.batchNormBackward(
        x.buf,
        d.buf,
        rows,
        C,
        mean.buf,
        variance.buf,
        a.eps,
        gamma.buf,
        dx.buf,
        dgamma.buf,
        dbeta.buf,
      );
      return [dx, dgamma, dbeta];
    },
    traits: {},
    onnx: null,
  } satisfies OpDef<NormAttrs['batchnorm_train']>,
  layernorm: {
    arity: [3, 3],
    infer: ([x, gamma, beta]) => {
      checkParams('layernorm', x, [gamma, beta]);
      return { shape: x.shape, dtype: 'float32' };
    },
    check(c) {
      const x = sameDtype(c, 'float32');
      for (const i of [1, 2]) channelConstant(c, i, x.shape.at(-1) as number, ['', 'gamma', 'beta'][i]);
      epsOf(c);
    },
    forward(x, [i, gamma, beta], out, a) {
      const b = x.backend;
      const [rows, C] = rowsOf(i);
      const S = [rows, C];
      const R = [rows, 1];
      // xhat = (x - mean) / sqrt(var + eps) per row (saved for the vjp), then · gamma + beta
      const xhat = x.temp(i.shape);
      const mean = x.temp([rows]);
      const rstd = x.temp([rows]);
      b.reduce('mean', i.buf, S, [1], mean.buf);
      b.binary('sub', i.buf, S, mean.buf, R, xhat.buf);
      b.unary('square', xhat.buf, out.buf, rows * C);
      b.reduce('mean', out.buf, S, [1], rstd.buf);
      b.scale(rstd.buf, rstd.buf, rows, 1, a.eps);
      b.unary('sqrt', rstd.buf, rstd.buf, rows);
      b.unary('reciprocal', rstd.buf, rstd.buf, rows);
      b.binary('mul', xhat.buf, S, rstd.buf, R, xhat.buf);
      if (identityAffine(b, gamma, beta, C)) b.copy(xhat.buf, out.buf, rows * C);
      else {
        b.binary('mul', xhat.buf, S, gamma.buf, [C], out.buf);
        b.binary('add', out.buf, S, beta.buf, [C], out.buf);
      }
      return [xhat, rstd];
    },
    vjp: (g, [x, gamma], _o, [xhat, rstd], d, _a, needs) => {
      // dx = rstd · (dxhat − mean(dxhat) − xhat · mean(dxhat · xhat)), dxhat = d · gamma (means per row)
      const b = g.backend;
      const [rows, C] = rowsOf(x);
      const S = [rows, C];
      const R = [rows, 1];
      let dx: Ref | null = null;
      if (needs[0]) {
        const dxhat = g.alloc(x.shape);
        const t = g.alloc(x.shape);
        const m1 = g.alloc([rows]);
        const m2 = g.alloc([rows]);
        b.binary('mul', d.buf, S, gamma.buf, [C], dxhat.buf);
        b.reduce('mean', dxhat.buf, S, [1], m1.buf);
        b.binary('mul', dxhat.buf, S, xhat.buf, S, t.buf);
        b.reduce('mean', t.buf, S, [1], m2.buf);
        dx = g.alloc(x.shape);
        b.binary('mul', xhat.buf, S, m2.buf, R, t.buf);
        b.binary('sub', dxhat.buf, S, m1.buf, R, dx.buf);
        b.binary('sub', dx.buf, S, t.buf, S, dx.buf);
        b.binary('mul', dx.buf, S, rstd.buf, R, dx.buf);
        for (const r of [dxhat, t, m1, m2]) r.dispose();
      }
      let dgamma: Ref | null = null;
      if (needs[1]) {
        dgamma = g.alloc([C]);
        const t = g.alloc(x.shape);
        columnDot(b, d, xhat, t, rows, C, dgamma);
        t.dispose();
      }
      let dbeta: Ref | null = null;
      if (needs[2]) {
        dbeta = g.alloc([C]);
        b.reduce('sum', d.buf, S, [0], dbeta.buf);
      }
      return [dx, dgamma, dbeta];
    },
    traits: {},
    // LayerNormalization (opset 17) over the last axis, γ and β as its scale and bias
    onnx: (o, n) => {
      const at = n.name;
      const x = o.float(n.inputs[0], at, 'graduate');
      const [gamma, beta] = n.inputs.slice(1).map((k) => o.tensor(k, [o.constant(k).data.length], o.floatData(k)));
      const attrs = [
        { name: 'axis', i: -1 },
        { name: 'epsilon', f: n.attrs.eps },
      ];
      o.bind(n.output, o.node('LayerNormalization', [x, gamma, beta], at, attrs), at, 'graduate');
    },
  } satisfies OpDef<NormAttrs['layernorm']>,
} satisfies { [K in keyof NormAttrs]: OpDef<NormAttrs[K]> };
