// The ONNX importer's converter table: op type → converter, merged from the family files
// (convert-*.ts). com.microsoft ops (ONNX Runtime's fusions) are keyed 'com.microsoft:Op'. The
// importer looks ops up here (converterFor) instead of switching over names, and the supported-op
// lists its messages give are derived from the table. To import a new op: add its converter to its
// family's table. Not for: the export side of ops (each op's `onnx` part in src/ops/).
import type { Converter } from './context.js';
import { ELEMENTWISE } from './convert-elementwise.js';
import { LAYERS } from './convert-layers.js';
import { QUANT } from './convert-quant.js';
import { SHAPE } from './convert-shape.js';

export const MS_DOMAIN = 'com.microsoft';
const MS_PREFIX = `${MS_DOMAIN}:`;

export const CONVERTERS = { ...ELEMENTWISE, ...LAYERS, ...SHAPE, ...QUANT } satisfies Record<string, Converter>;

type OpKey = keyof typeof CONVERTERS;

/** Ops of the table left out of the supported lists: converters that only refuse, by name and reason. */
const UNLISTED: ReadonlySet<OpKey> = new Set<OpKey>(['DynamicQuantizeLinear']);

/** ONNX ops the importer maps (default domain), and those of com.microsoft (ONNX Runtime's fusions). */
export const SUPPORTED_OPS: readonly string[] = (Object.keys(CONVERTERS) as OpKey[])
  .filter((k) => !k.startsWith(MS_PREFIX) && !UNLISTED.has(k))
  .sort();
export const SUPPORTED_MS_OPS: readonly string[] = Object.keys(CONVERTERS)
  .filter((k) => k.startsWith(MS_PREFIX))
  .map((k) => k.slice(MS_PREFIX.length))
  .sort();

/** The converter of `op` in `domain` (com.microsoft, or '' for the default one); undefined if none. */
export function converterFor(domain: string, op: string): Converter | undefined {
  const ms = domain === MS_DOMAIN;
  const key = ms ? `${MS_PREFIX}${op}` : op;
  // own keys only ('constructor' is no op), and a default-domain op never reaches a com.microsoft entry
  if (!Object.hasOwn(CONVERTERS, key) || key.startsWith(MS_PREFIX) !== ms) return undefined;
  return CONVERTERS[key as OpKey];
}
