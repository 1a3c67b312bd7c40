// WebGPU kernels: 2-D convolution as implicit GEMM (NHWC; forward with the fused epilogue, the
// backward pass to the input and to the weights), through gemm.ts's tile kernel with loaders that
// gather the GEMM operands from the images on the fly (no im2col buffer).
// Semantics: src/backend/backend.ts and the reference backend.
//
// Legend: x [N, H, W, C], w [KH, KW, C, OC] (= [K, OC] with k = (kh·KW + kw)·C + c), y [N, OH, OW, OC].
//   forward:  y[m, oc] = Σk X[m, k] · w[k, oc]             m = output pixel, K = KH·KW·C
//   dx:       dx[p, c] = Σ(tap, oc) DY[p, (tap, oc)] · w[tap, c, oc]    p = input pixel, K = KH·KW·OC
//             (DY gathers dy at the output pixel that reads p through the tap), one GEMM per
//             stride phase of p, over only the taps that phase meets
//   dw:       dw[(tap, c), oc] = Σm X[m, (tap, c)] · dy[m, oc]          K = N·OH·OW (split-K)
import { ShapeError } from '../../errors.js';
import type { Conv2dGeometry } from '../../shape/window.js';
import type { Epilogue, Prepared } from '../backend.js';
import { gpuWeights, runTiled, slotRow, type TileSource } from './gemm.js';
import { bind, iw, type Kernels } from './wgsl.js';

const GEOMETRY = [
  'H:u32',
  'W:u32',
  'C:u32',
  'OH:u32',
  'OW:u32',
  'OC:u32',
  'KW:u32',
  'sh:u32',
  'sw:u32',
  'pt:i32',
  'pl:i32',
] as const;

function geometryWords(g: Conv2dGeometry): number[] {
  return [g.H, g.W, g.C, g.OH, g.OW, g.OC, g.KW, g.strideH, g.strideW, iw(g.padTop), iw(g.padLeft)];
}

/** x[n, ih, iw, c] (i32 ih, iw; nH = n·H) into v when inside the image. */
function readX(nH: string, ih: string, iwx: string, c: string): string {
  return `if (${ih} >= 0 && ${ih} < i32(H) && ${iwx} >= 0 && ${iwx} < i32(W)) { v = x[o_x + ((${nH} + u32(${ih})) * W + u32(${iwx})) * C + ${c}]; }`;
}

/**
 * Forward: A = the output pixels' windows (along k: c, then kw, kh); each thread decomposes its
 * four output rows once and its k once per slice. B = weights [K, OC], or prepared Bt [OC, K].
 */
function forwardSource(w: 'plain' | 'f32' | 'f16'): TileSource {
  const rows = [0, 1, 2, 3]
    .map(
      (r) => `let gm${r} = m0 + ${slotRow(true, r)}; let q${r} = gm${r} / OW;
  let nH${r} = (q${r} / OH) * H; let ih${r} = i32((q${r} % OH) * sh) - pt; let iw${r} = i32((gm${r} % OW) * sw) - pl;`,
    )
    .join('\n  ');
  const bRead =
    w === 'plain'
      ? 'w[o_w + gk * N + gn]'
      : w === 'f32'
        ? 'w[o_w + gn * K + gk]'
        : 'f32(w[(ob_w >> 1u) + gn * K + gk])';
  return {
    key: `conv_fwd_${w}`,
    bindings: ['x:f32', `w:${w === 'f16' ? 'f16' : 'f32'}`],
    params: GEOMETRY,
    aAlongK: true,
    bAlongK: w !== 'plain',
    setup: rows,
    tile: 'let ka = k0 + (tid & 15u); let ca = ka % C; let ta = ka / C; let kwa = i32(ta % KW); let kha = i32(ta / KW);',
    loadA: (r) => `let ih = ih${r} + kha; let iwx = iw${r} + kwa; ${readX(`nH${r}`, 'ih', 'iwx', 'ca')}`,
    loadB: () => `v = ${bRead};`,
  };
}

function runForward(
  k: Kernels,
  x: number,
  w: number,
  wKind: 'plain' | 'f32' | 'f16',
  g: Conv2dGeometry,
  out: number,
  ep: Epilogue,
): void {
  const K = g.KH * g.KW * g.C;
  runTiled(
    k,
    forwardSource(wKind),
    [bind(x, g.N * g.H * g.W * g.C), bind(w, K * g.OC, wKind === 'f16' ? 2 : 4)],
    geometryWords(g),
    g.N * g.OH * g.OW,
    K,
    g.OC,
    out,
    ep,
    wKind === 'f16' ? ['f16'] : [],
  );
}

/** out [N, OH, OW, OC] = epilogue(conv2d(x, w)). */
export function conv2d(k: Kernels, x: number, w: number, g: Conv2dGeometry, out: number, ep: Epilogue): void {
  runForward(k, x, w, 'plain', g, out, ep);
}

/** conv2d with weights from prepareWeights(w, KH·KW·C, OC) (f32 or f16). */
export function conv2dPrepared(k: Kernels, x: number, w: Prepared, g: Conv2dGeometry, out: number, ep: Epilogue): void {
  const p = gpuWeights('conv2dPrepared', w);
  if (p.K !== g.KH * g.KW * g.C || p.N !== g.OC) {
    throw new ShapeError(
      `conv2d: prepared weights are [${p.K}, ${p.N}] but the geometry needs [KH*KW*C, OC] = [${g.KH * g.KW * g.C}, ${g.OC}]`,
    );
  }
  runForward(k, x, p.bufs[0], p.kind === 'webgpu-f16' ? 'f16' : 'f32', g, out, ep);
}

/**
 * dx, one stride phase (ph, pw) at a time: the input pixels ih = ph + sh·i', iw = pw + sw·j' are
 * read only through taps kh = kh0 + sh·a, kw = kw0 + sw·b (kh0 ≡ ph + pt mod sh), by output pixel
 * oh = i' + dh − a, ow = j' + dw − b. So each phase is a dense GEMM, M = N·Hp·Wp, K = KHp·KWp·OC,
 * N = C, with no taps off the stride grid; its rows scatter to dx's pixels of that phase.
 * A = dy gathered per (i', j') and (a, b, oc) (along k: oc contiguous); B = w read as [(a, b, oc), c].
 */
const BACKWARD_DATA: TileSource = {
  key: 'conv_bwd_data',
  bindings: ['dy:f32', 'w:f32'],
  params: [...GEOMETRY, 'ph:u32', 'pw:u32', 'Hp:u32', 'Wp:u32', 'kh0:u32', 'kw0:u32', 'KWp:u32', 'dh:u32', 'dw:u32'],
  aAlongK: true,
  bAlongK: true,
  setup: [0, 1, 2, 3]
    .map(
      (r) => `let gm${r} = m0 + ${slotRow(true, r)}; let q${r} = gm${r} / Wp;
  let nO${r} = (q${r} / Hp) * OH; let oh${r} = i32(q${r} % Hp + dh); let ow${r} = i32(gm${r} % Wp + dw);`,
    )
    .join('\n  '),
  tile: `let kt = k0 + (tid & 15u); let oca = kt % OC; let ta = kt / OC; let bw = ta % KWp; let ah = ta / KWp;
      let tap = (kh0 + sh * ah) * KW + kw0 + sw * bw;`,
  loadA: (r) => `let oh = oh${r} - i32(ah); let ow = ow${r} - i32(bw);
      if (oh >= 0 && oh < i32(OH) && ow >= 0 && ow < i32(OW)) { v = dy[o_dy + ((nO${r} + u32(oh)) * OW + u32(ow)) * OC + oca]; }`,
  // slot r's k is the thread's k of this slice (kt, shared by all its slots)
  loadB: () => 'v = w[o_w + (tap * C + gn) * OC + oca];',
  outRow: '((gm / Wp / Hp) * H + ph + sh * ((gm / Wp) % Hp)) * W + pw + sw * (gm % Wp)',
};

/** dx [N, H, W, C] = the gradient of conv2d's input (overwrites dx): one GEMM per stride phase. */
export function conv2dBackwardData(k: Kernels, dy: number, w: number, g: Conv2dGeometry, dx: number): void {
  const binds = [bind(dy, g.N * g.OH * g.OW * g.OC), bind(w, g.KH * g.KW * g.C * g.OC)];
  const count = (size: number, first: number, step: number) => (first < size ? Math.ceil((size - first) / step) : 0);
  for (let ph = 0; ph < Math.min(g.strideH, g.H); ph++)
    for (let pw = 0; pw < Math.min(g.strideW, g.W); pw++) {
      const [Hp, Wp] = [count(g.H, ph, g.strideH), count(g.W, pw, g.strideW)];
      const kh0 = (ph + g.padTop) % g.strideH;
      const kw0 = (pw + g.padLeft) % g.strideW;
      const [KHp, KWp] = [count(g.KH, kh0, g.strideH), count(g.KW, kw0, g.strideW)];
      const dh = (ph + g.padTop - kh0) / g.strideH;
      const dw = (pw + g.padLeft - kw0) / g.strideW;
      // KHp·KWp = 0 (a kernel narrower than the stride): no output reads these pixels, K = 0 stores 0.
      runTiled(
        k,
        BACKWARD_DATA,
        binds,
        [...geometryWords(g), ph, pw, Hp, Wp, kh0, kw0, KWp, dh, dw],
        g.N * Hp * Wp,
        KHp * KWp * g.OC,
        g.C,
        dx,
        {},
        [],
        g.N * g.H * g.W,
      );
    }
}

/**
 * dw: A = x gathered per (tap, c) and output pixel (along m: c contiguous; each thread's row is
 * fixed, its four k decompose per slice); B = dy [N·OH·OW, OC].
 */
const BACKWARD_WEIGHT: TileSource = {
  key: 'conv_bwd_weight',
  bindings: ['x:f32', 'dy:f32'],
  params: GEOMETRY,
  aAlongK: false,
  bAlongK: false,
  setup: `let ma = m0 + ${slotRow(false, 0)}; let ca = ma % C; let ta = ma / C;
  let kwa = i32(ta % KW) - pl; let kha = i32(ta / KW) - pt;`,
  loadA: () => `let q = gk / OW; let ih = i32((q % OH) * sh) + kha; let iwx = i32((gk % OW) * sw) + kwa;
      ${readX('(q / OH) * H', 'ih', 'iwx', 'ca')}`,
  loadB: () => 'v = dy[o_dy + gk * OC + gn];',
};

/** dw [KH, KW, C, OC] = the gradient of conv2d's weights (overwrites dw). */
export function conv2dBackwardWeight(k: Kernels, x: number, dy: number, g: Conv2dGeometry, dw: number): void {
  runTiled(
    k,
    BACKWARD_WEIGHT,
    [bind(x, g.N * g.H * g.W * g.C), bind(dy, g.N * g.OH * g.OW * g.OC)],
    geometryWords(g),
    g.KH * g.KW * g.C,
    g.N * g.OH * g.OW,
    g.OC,
    dw,
    {},
  );
}
