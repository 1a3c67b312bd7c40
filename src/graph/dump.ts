// A readable text dump of a graph (for `--dump-after PASS`, `graduate inspect`, and tests):
//   %v3: float32[-1, 28, 28, 32] = conv2d(%input, @0.weight, @0.bias) {stride: [1, 1], …}
import type { Graph } from './ir.js';

function attrText(attrs: object): string {
  const parts = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`);
  return parts.length ? ` {${parts.join(', ')}}` : '';
}

/** The graph as text: inputs, constants (shape, dtype, quantization), nodes, outputs. */
export function dumpGraph(g: Graph): string {
  const ref = (name: string) => (g.constants[name] ? `@${name}` : `%${name}`);
  const type = (name: string) => {
    const v = g.values[name];
    const q = v.quant
      ? ` q(s=${v.quant.scale.map((s) => s.toPrecision(4)).join(',')}, z=${v.quant.zeroPoint.join(',')})`
      : '';
    return `${v.dtype}[${v.shape.join(', ')}]${q}`;
  };
  const lines: string[] = [];
  lines.push(`graph(${g.inputs.map((i) => `%${i}: ${type(i)}`).join(', ')}) {`);
  for (const [name, c] of Object.entries(g.constants)) {
    const q = c.quant ? ` per-${c.quant.scale.length > 1 ? 'channel' : 'tensor'} quant` : '';
    lines.push(`  @${name}: ${c.dtype}[${c.shape.join(', ')}]${q}`);
  }
  for (const n of g.nodes) {
    lines.push(
      `  %${n.output}: ${type(n.output)} = ${n.op}(${n.inputs.map(ref).join(', ')})${attrText(n.attrs)}  # ${n.name}`,
    );
  }
  lines.push(`  return ${g.outputs.map((o) => `%${o}`).join(', ')}`);
  lines.push('}');
  return lines.join('\n');
}
