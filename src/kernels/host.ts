// Which JavaScript host this is, without importing Node modules at the top level (so the
// same code bundles for browsers). Node >= 20.16 offers process.getBuiltinModule synchronously.

interface NodeProcess {
  versions?: { node?: string };
  getBuiltinModule?: (id: string) => unknown;
  env?: Record<string, string | undefined>;
}

function nodeProcess(): NodeProcess | undefined {
  const p = (globalThis as { process?: NodeProcess }).process;
  return p?.versions?.node ? p : undefined;
}

/** True when running under Node.js. */
export const isNode = nodeProcess() !== undefined;

/** A Node built-in module (e.g. 'node:fs'), or undefined outside Node. */
export function nodeBuiltin<T>(id: string): T | undefined {
  return nodeProcess()?.getBuiltinModule?.(id) as T | undefined;
}

/** An environment variable (Node), or undefined. */
export function env(name: string): string | undefined {
  return nodeProcess()?.env?.[name];
}

/** Logical cores available to this process. */
export function cpuCount(): number {
  const os = nodeBuiltin<typeof import('node:os')>('node:os');
  if (os) return os.availableParallelism?.() ?? os.cpus().length;
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return nav?.hardwareConcurrency ?? 1;
}
