// The op registry: every op of Graduate, once. `OpAttrs` maps each op name to its attributes (the
// IR's node union is derived from it: graph/ir.ts), and `OPS` gives each its definition; the
// `satisfies` below makes the compiler check that every op has every part (op.ts). Consumers look
// ops up here — eager apply, IR validation and shape inference, the runtime, the passes, ONNX
// export — and never switch over op names. To add an op: see docs/architecture.md.
import { ELEMENTWISE, type ElementwiseAttrs } from './elementwise.js';
import { GATHER, type GatherAttrs } from './gather.js';
import { LAYOUT, type LayoutAttrs } from './layout.js';
import { MATH, type MathAttrs } from './math.js';
import { MATMUL, type MatmulAttrs } from './matmul.js';
import { MOVEMENT, type MovementAttrs } from './movement.js';
import { NORM, type NormAttrs } from './norm.js';
import type { OpDef } from './op.js';
import { QUANT, type QuantAttrs } from './quant.js';
import { RECURRENT, type RecurrentAttrs } from './recurrent.js';
import { REDUCE, type ReduceAttrs } from './reduce.js';
import { WINDOW, type WindowAttrs } from './window.js';
import { WINDOW_ND, type WindowNdAttrs } from './window-nd.js';

export interface OpAttrs
  extends ElementwiseAttrs,
    MatmulAttrs,
    WindowAttrs,
    LayoutAttrs,
    ReduceAttrs,
    NormAttrs,
    GatherAttrs,
    QuantAttrs,
    MathAttrs,
    MovementAttrs,
    WindowNdAttrs,
    RecurrentAttrs {}
export type OpName = keyof OpAttrs;

export const OPS: { readonly [K in OpName]: OpDef<OpAttrs[K]> } = {
  ...ELEMENTWISE,
  ...MATMUL,
  ...WINDOW,
  ...LAYOUT,
  ...REDUCE,
  ...NORM,
  ...GATHER,
  ...QUANT,
  ...MATH,
  ...MOVEMENT,
  ...WINDOW_ND,
  ...RECURRENT,
};

export const OP_NAMES = Object.keys(OPS) as OpName[];

/** The definition of `op` (typed by name). */
export function opDef<K extends OpName>(op: K): OpDef<OpAttrs[K]> {
  return OPS[op] as OpDef<OpAttrs[K]>;
}

/** Whether `op` names an op of the registry (for graphs read from files). */
export function isOpName(op: unknown): op is OpName {
  return typeof op === 'string' && Object.hasOwn(OPS, op);
}
