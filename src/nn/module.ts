// Module: the base of every layer. A module owns named parameters (trainable, requiresGrad),
// named buffers (state that is saved but not trained, e.g. BatchNorm's running statistics) and
// child modules; names compose into dotted paths ('block1.conv.weight'). Parameters and buffers
// are created outside tidy scopes (kept) and live until dispose().
import { dropRows } from '../autograd/row-grad.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { LayerSpec } from './spec.js';

export abstract class Module {
  /** Training mode (dropout active, BatchNorm uses batch statistics). */
  training = true;
  private readonly ownParams = new Map<string, Tensor>();
  private readonly ownBuffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  /** x → y. Call inside tidy() during training. */
  abstract forward(x: Tensor): Tensor;

  /** The JSON spec that rebuilds this module (with inferred sizes filled in). */
  abstract spec(): LayerSpec;

  protected param(name: string, t: Tensor): Tensor {
    t.requiresGrad = true;
    this.ownParams.set(name, keep(t));
    return t;
  }

  protected buffer(name: string, t: Tensor): Tensor {
    this.ownBuffers.set(name, keep(t));
    return t;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** [dotted name, parameter] pairs, depth-first; also sets each tensor's .name. */
  namedParameters(prefix = ''): [string, Tensor][] {
    return this.walk(prefix, (m) => m.ownParams);
  }

  /** [dotted name, buffer] pairs (non-trainable state). */
  namedBuffers(prefix = ''): [string, Tensor][] {
    return this.walk(prefix, (m) => m.ownBuffers);
  }

  private walk(prefix: string, pick: (m: Module) => Map<string, Tensor>): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of pick(this)) {
      t.name = prefix + n;
      out.push([t.name, t]);
    }
    for (const [n, c] of this.children) out.push(...c.walk(`${prefix}${n}.`, pick));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Total number of trainable values. */
  parameterCount(): number {
    return this.parameters().reduce((s, t) => s + t.size, 0);
  }

  /** [name, child] pairs of the direct children. */
  namedChildren(): [string, Module][] {
    return [...this.children];
  }

  modules(): Module[] {
    return [this, ...[...this.children.values()].flatMap((c) => c.modules())];
  }

  /** Sets training mode on this module and every child. */
  train(on = true): this {
    for (const m of this.modules()) m.training = on;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** Frees parameters, buffers and their gradients. */
  dispose(): void {
    for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) {
      t.grad?.dispose();
      t.grad = null;
      dropRows(t);
      t.dispose();
    }
  }
}
