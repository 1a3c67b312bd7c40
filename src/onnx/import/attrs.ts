// An ONNX node's attributes, read by name with defaults. Not for: tensors (tensors.ts).
import { type AttributeProto, type NodeProto, num } from '../proto.js';

/** A node's attribute getters (attrs below). */
export type Attrs = ReturnType<typeof attrs>;

/** Typed getters over n's attributes: scalars take a default, lists and tensors are undefined when absent. */
export function attrs(n: NodeProto) {
  const m = new Map<string, AttributeProto>((n.attribute ?? []).map((a) => [a.name ?? '', a]));
  return {
    has: (k: string) => m.has(k),
    int: (k: string, d: number) => (m.has(k) ? num(m.get(k)?.i) : d),
    float: (k: string, d: number) => (m.has(k) ? (m.get(k)?.f ?? d) : d),
    ints: (k: string) => (m.has(k) ? (m.get(k)?.ints ?? []).map(num) : undefined),
    floats: (k: string) => m.get(k)?.floats ?? undefined,
    str: (k: string, d: string) => (m.has(k) ? new TextDecoder().decode(m.get(k)?.s ?? new Uint8Array()) : d),
    strs: (k: string) => (m.has(k) ? (m.get(k)?.strings ?? []).map((b) => new TextDecoder().decode(b)) : undefined),
    tensor: (k: string) => m.get(k)?.t ?? undefined,
  };
}
