// The start-up bundle: slowwork's own modules on the main thread's path (from tsc's dist/cli/main.js)
// and the worker thread's module, each joined into a few files, so that starting slowwork reads and
// links a handful of modules instead of about a hundred: Node 20's ES module loader costs about a
// millisecond a module, a third of a submit's start-up. Dynamic imports stay lazy (their own chunks).
// Packages stay external (they find their own files by path); so does everything loaded by URL
// (built-in processors, Lua scripts: see src/install-dir.ts, which is why every file goes to dist/
// itself). tsc's per-module dist/ stays as it is: the threads' processors and the tests use it.
import { readdirSync, rmSync } from 'node:fs';
import { rolldown } from 'rolldown';

const DIST = new URL('../dist/', import.meta.url);
const PREFIX = 'slowwork';

for (const name of readdirSync(DIST)) if (name.startsWith(PREFIX) && name.endsWith('.js')) rmSync(new URL(name, DIST));

const bundle = await rolldown({
  input: {
    [PREFIX]: new URL('cli/main.js', DIST).pathname,
    [`${PREFIX}-thread`]: new URL('brokers/embedded/thread.js', DIST).pathname,
    // what bin/slowwork.js loads first for a submit: the same module the submit flow imports
    [`${PREFIX}-early`]: new URL('app/early-pool.js', DIST).pathname,
  },
  platform: 'node',
  // node: built-ins and packages (bare names) are imported as they are.
  external: [/^node:/, /^[^./]/],
  logLevel: 'warn',
});
await bundle.write({ dir: DIST.pathname, format: 'esm', entryFileNames: '[name].js', chunkFileNames: `${PREFIX}-[name]-[hash].js` });
await bundle.close();
