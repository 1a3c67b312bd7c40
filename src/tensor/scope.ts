// The lifetime model. Tensors live in wasm memory, which JavaScript's garbage collector does not
// see, so they are freed explicitly:
//   - t.dispose() (or `using t = …`) frees one tensor;
//   - tidy(fn) runs fn in a scope: every tensor created inside is disposed when fn returns,
//     except what fn returns (moved to the enclosing scope) and what keep() marked.
// A training step runs inside tidy(); parameters, gradients and optimizer state are created
// outside any scope (or kept) and live until disposed.
// Scopes hold anything disposable (tensors): this file needs nothing from tensor.ts.
interface Tracked {
  dispose(): void;
}

const stack: Set<Tracked>[] = [];

/** Registers a new tensor with the innermost scope (no-op outside scopes). */
export function track(t: Tracked): void {
  stack[stack.length - 1]?.add(t);
}

/** Removes `t` from scope tracking: it lives until disposed explicitly. Returns `t`. */
export function keep<T extends Tracked>(t: T): T {
  for (const scope of stack) scope.delete(t);
  return t;
}

/** What tidy() returns: tensors of its scope are found as such, or in arrays and plain objects. */
function collect(value: unknown, scope: Set<Tracked>, into: Set<Tracked>, depth = 0): void {
  if (depth > 4 || value === null || typeof value !== 'object') return;
  if (scope.has(value as Tracked)) {
    into.add(value as Tracked);
  } else if (Array.isArray(value)) {
    for (const v of value) collect(v, scope, into, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, scope, into, depth + 1);
  }
}

/** Runs fn in a scope; disposes every tensor it created except those it returns or kept. */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tracked>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    for (const t of scope) t.dispose();
    throw e;
  } finally {
    stack.pop();
  }
  if (result instanceof Promise) throw new TypeError('tidy(fn): fn must be synchronous (it returned a Promise)');
  const survivors = new Set<Tracked>();
  collect(result, scope, survivors);
  for (const t of scope) {
    if (survivors.has(t)) track(t);
    else t.dispose();
  }
  return result;
}
