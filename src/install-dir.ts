/**
 * Where slowwork's own files are, for what is loaded by path rather than imported: the worker
 * thread's module, the built-in processors, the Lua scripts, package.json.
 *
 * This module sits at the root of src/, so it sits at the root of dist/ too, both as tsc emits it
 * and inside the start-up bundle (scripts/bundle.mjs writes the bundle's files to dist/ itself):
 * `import.meta.url` names the same folder either way, and paths are given relative to it.
 */
import { readFileSync } from 'node:fs';

const here = new URL('./', import.meta.url);
/** Under vitest this module runs from src/*.ts; threads cannot load TypeScript, so they get dist/. */
const compiled = import.meta.url.endsWith('.ts') ? new URL('../dist/', here) : here;

/** A file of the compiled build (dist/), e.g. `brokers/embedded/thread.js`: what a thread can import. */
export function compiledUrl(path: string): URL {
  return new URL(path, compiled);
}

/** A file beside this module's own sources (src/ under vitest, else dist/), e.g. a Lua script. */
export function ownUrl(path: string): URL {
  return new URL(path, here);
}

/** slowwork's version, from package.json. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(ownUrl('../package.json'), 'utf8')) as { version: string }).version;
}
