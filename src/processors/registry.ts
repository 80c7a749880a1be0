/**
 * Resolves what a user typed after `--processor` (a built-in name or a module path) to a module
 * URL, and loads a processor module. Used on the main thread (to check before any work starts)
 * and in worker threads (to run).
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { ProcessorError, describeError } from '../core/errors.js';
import { isProcessor, type Processor } from './contract.js';
import { compiledUrl } from '../install-dir.js';

const BUILTINS: Readonly<Record<string, string>> = {
  demo: 'processors/demo.js',
  openai: 'processors/openai.js',
};

export const builtinProcessorNames = (): string[] => Object.keys(BUILTINS);

const looksLikePath = (ref: string): boolean =>
  ref.includes('/') || ref.includes('\\') || /\.(m?js|cjs)$/.test(ref) || isAbsolute(ref);

/** A built-in name or a path (relative to `cwd`) → the URL a thread can import. */
export function resolveProcessorRef(ref: string, cwd: string = process.cwd()): string {
  const builtin = BUILTINS[ref];
  if (builtin) return compiledUrl(builtin).href;
  if (ref.startsWith('file:')) return ref;
  if (!looksLikePath(ref)) {
    throw new ProcessorError(
      `unknown processor "${ref}": built-ins are ${builtinProcessorNames().join(', ')}; for your own, give a path such as ./my-processor.mjs`,
    );
  }
  const path = resolve(cwd, ref);
  if (!existsSync(path)) throw new ProcessorError(`processor module not found: ${ref} (looked at ${path})`);
  if (!statSync(path).isFile()) throw new ProcessorError(`processor module is not a file: ${ref}`);
  if (path.endsWith('.ts') || path.endsWith('.tsx')) {
    throw new ProcessorError(`processor ${ref} is TypeScript: build it to JavaScript first (Node 20 cannot import .ts)`);
  }
  return pathToFileURL(path).href;
}

/** Imports a processor module: its default export, or the module itself if it exports name + process. */
export async function loadProcessor(url: string): Promise<Processor> {
  let mod: Record<string, unknown>;
  try {
    mod = (await importGuarded(url)) as Record<string, unknown>;
  } catch (err) {
    const where = err instanceof SyntaxError ? syntaxErrorPlace(url) : undefined;
    if (where) throw new ProcessorError(`syntax error in processor ${where}: ${describeError(err)}`);
    throw new ProcessorError(`cannot load processor ${displayRef(url)}: ${describeError(err)}`);
  }
  const candidate = mod.default ?? mod;
  if (isProcessor(candidate)) return candidate;
  throw new ProcessorError(
    `processor ${displayRef(url)} must export default { name: string, process(input, ctx) } (an async iterable of text chunks)`,
  );
}

/** A module's `process.exit` while it loads, turned into an error. */
class ExitWhileLoading extends Error {
  constructor(code: unknown) {
    super(`it called process.exit(${code === undefined ? '' : String(code)}) while loading`);
  }
}

/**
 * Imports a processor module. On the main thread, `process.exit` is an error while it loads: a
 * module that calls it would end slowwork itself, silently, mid-check. (On a worker thread it
 * ends only that thread, which the pool handles as any thread death.)
 */
async function importGuarded(url: string): Promise<unknown> {
  if (!isMainThread) return importOnce(url);
  const exit = process.exit;
  process.exit = ((code?: unknown) => {
    throw new ExitWhileLoading(code);
  }) as typeof process.exit;
  try {
    return await importOnce(url);
  } finally {
    process.exit = exit;
  }
}

/**
 * One import() at a time per module URL in this thread: a thread preloads its pipeline's modules
 * while its first batch may ask for them, and two dynamic imports of one module racing while it
 * is linked can abort Node 20 (V8's "IsGraphAsync ... must be used on an instantiated module").
 * A failed import is forgotten, so a later batch tries again.
 */
const imports = new Map<string, Promise<unknown>>();
function importOnce(url: string): Promise<unknown> {
  let pending = imports.get(url);
  if (!pending) {
    pending = import(url);
    imports.set(url, pending);
    pending.catch(() => imports.delete(url));
  }
  return pending;
}

/** Starts importing a processor module (a thread's preload); settles when it has loaded or failed. */
export const preloadProcessor = (url: string): Promise<void> => importOnce(url).then(
  () => undefined,
  () => undefined,
);

/**
 * `file:line:column` of a module's syntax error. Node 20 gives an ES module's SyntaxError no
 * place at all, so ask `node --check`, which prints `file:line`, the line, and a caret under the
 * column. Undefined when the module itself parses (the error is in something it imports).
 */
function syntaxErrorPlace(url: string): string | undefined {
  if (!url.startsWith('file:')) return undefined;
  const file = fileURLToPath(url);
  // Loaded here, on this error path only: node:child_process costs every thread's start ~5 ms.
  const { spawnSync } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  const check = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10_000 });
  if (check.status === 0 || typeof check.stderr !== 'string') return undefined;
  const lines = check.stderr.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`${file}:`));
  const line = at < 0 ? undefined : /:(\d+)$/.exec(lines[at]!)?.[1];
  if (!line) return undefined;
  const caret = lines[at + 2]?.indexOf('^') ?? -1;
  return caret >= 0 ? `${file}:${line}:${caret + 1}` : `${file}:${line}`;
}

function displayRef(url: string): string {
  for (const [name, rel] of Object.entries(BUILTINS)) if (compiledUrl(rel).href === url) return name;
  return url.startsWith('file:') ? decodeURIComponent(new URL(url).pathname) : url;
}
