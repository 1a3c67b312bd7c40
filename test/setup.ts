// Every test ends with one macrotask turn. Tests here are synchronous compute, and a file of them
// otherwise runs as one long chain of microtasks. Vitest's worker could then not read the main
// process's RPC replies until the file ended ("Timeout calling onTaskUpdate" once the int8 kernel
// file passed 60 s in CI).
import { afterEach } from 'vitest';

afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
