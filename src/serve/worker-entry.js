// Entry of a serving worker thread. Plain JavaScript so that Node can start it both from dist/ and
// from src/ (tests, tsx): from source, it registers tsx first so that the TypeScript body loads.
import { existsSync } from 'node:fs';

if (!existsSync(new URL('./runtime-worker.js', import.meta.url))) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import('./runtime-worker.js');
