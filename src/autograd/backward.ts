// Reverse-mode autograd: a topological sort of the graph behind a tensor, then one loop that
// hands each node's output gradient to its op's vjp (src/ops/registry.ts) and accumulates the
// results. Leaves that require gradients accumulate into `.grad` (kept alive, outside scopes);
// every intermediate gradient is freed as soon as it has been consumed. Leaves that ask for
// row-sparse gradients (embedding tables) get them from the op's row vjp (row-grad.ts).
import { fmtShape, ShapeError, ValueError } from '../errors.js';
import { keep } from '../tensor/scope.js';
import { ones, type Tensor } from '../tensor/tensor.js';
import { noGrad } from './grad-mode.js';
import { accumulateRows, foldRows } from './row-grad.js';

function topoSort(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: deep networks must not overflow the JS stack.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const inputs = top[0].gradNode?.inputs ?? [];
    if (top[1] < inputs.length) {
      const next = inputs[top[1]++];
      if (next.requiresGrad && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(top[0]);
      stack.pop();
    }
  }
  return order;
}

/** Accumulates d(root)/d(leaf) into leaf.grad (or leaf.rowGrad) for every leaf with requiresGrad. */
export function backward(root: Tensor, dRoot?: Tensor): void {
  if (!root.requiresGrad) throw new ValueError(`backward(): tensor ${root.describe()} does not require gradients`);
  if (!dRoot && root.size !== 1) {
    throw new ShapeError(`backward(): tensor ${root.describe()} is not a scalar; pass its gradient explicitly`);
  }
  if (dRoot && dRoot.shape.join() !== root.shape.join()) {
    throw new ShapeError(`backward(): gradient ${fmtShape(dRoot.shape)} does not match tensor ${fmtShape(root.shape)}`);
  }
  const order = topoSort(root);
  noGrad(() => {
    const grads = new Map<Tensor, Tensor>();
    // The caller's gradient stays the caller's: work on our own tensor.
    grads.set(root, dRoot ? dRoot.reshapeView(dRoot.shape) : ones(root.shape, 'float32', root.backend));
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      if (!t.gradNode) {
        accumulateLeaf(t, g);
        continue;
      }
      const dIns = t.gradNode.backward(g);
      const rows = t.gradNode.rows;
      if (rows) accumulateRows(t.gradNode.inputs[rows.input], rows.backward(g));
      const returned = new Set<Tensor>();
      t.gradNode.inputs.forEach((input, j) => {
        let d = dIns[j];
        if (!d) return;
        if (returned.has(d)) d = d.reshapeView(d.shape); // the same tensor for two inputs: own ref each
        returned.add(d);
        if (!input.requiresGrad) {
          d.dispose();
          return;
        }
        if (d.shape.join() !== input.shape.join()) {
          throw new ShapeError(
            `backward(): op '${t.gradNode?.op}' produced a gradient ${fmtShape(d.shape)} for input ${input.describe()}`,
          );
        }
        const prev = grads.get(input);
        if (prev) {
          prev.backend.axpy(1, d.buf, prev.buf, prev.size);
          d.dispose();
        } else {
          grads.set(input, d);
        }
      });
      if (!returned.has(g)) g.dispose();
    }
  });
}

function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (!leaf.grad) {
    leaf.grad = keep(g);
  } else {
    g.backend.axpy(1, g.buf, leaf.grad.buf, g.size);
    g.dispose();
  }
  foldRows(leaf);
}
