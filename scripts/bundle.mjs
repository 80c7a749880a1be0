// The start-up bundle: slowwork's own modules on the main thread's path (from tsc's dist/cli/main.js)
// and the worker thread's module, each joined into a few files, so that starting slowwork reads and
// links a handful of modules instead of about a hundred: Node 20's ES module loader costs about a
// millisecond a module, a third of a submit's start-up. Dynamic imports stay lazy (their own chunks).
// Packages stay external (they find their own files by path); so does everything loaded by URL
// (built-in processors, Lua scripts: see src/install-dir.ts, which is why every file goes to dist/
// itself). tsc's per-module dist/ stays as it is: the threads' processors and the tests use it.
//
// Two files are on a submit's critical path, loaded before its threads can start: the early pool's
// (bin/slowwork.js imports it first) and the thread's. Each is one file: the early pool's modules are
// grouped into one chunk (which the CLI shares), and the thread is bundled on its own (its copies of
// shared modules hold no state the main thread's need).
import { readdirSync, rmSync } from 'node:fs';
import { rolldown } from 'rolldown';

const DIST = new URL('../dist/', import.meta.url);
const PREFIX = 'slowwork';
const path = (file) => new URL(file, DIST).pathname;
const common = {
  platform: 'node',
  // node: built-ins and packages (bare names) are imported as they are.
  external: [/^node:/, /^[^./]/],
  logLevel: 'warn',
};

for (const name of readdirSync(DIST)) if (name.startsWith(PREFIX) && name.endsWith('.js')) rmSync(new URL(name, DIST));

/** The modules an entry loads statically: its chunk's and those its chunk imports (an in-memory bundle of it). */
async function staticGraph(entry) {
  const bundle = await rolldown({ ...common, input: path(entry) });
  const { output } = await bundle.generate({ format: 'esm' });
  await bundle.close();
  const chunks = new Map(output.filter((c) => c.type === 'chunk').map((c) => [c.fileName, c]));
  const ids = new Set();
  const visit = (chunk) => {
    if (chunk.moduleIds.every((id) => ids.has(id)) && chunk.moduleIds.length > 0) return;
    for (const id of chunk.moduleIds) ids.add(id);
    for (const name of chunk.imports) if (chunks.has(name)) visit(chunks.get(name));
  };
  visit(output.find((c) => c.type === 'chunk' && c.isEntry));
  return ids;
}

const early = await staticGraph('app/early-pool.js');
// The submit flow, loaded once the command line is parsed: one chunk too, less what every command loads.
const cli = await staticGraph('cli/main.js');
const submit = await staticGraph('app/submit.js');
for (const id of [...cli, ...early]) submit.delete(id);
const main = await rolldown({
  ...common,
  input: {
    [PREFIX]: path('cli/main.js'),
    // what bin/slowwork.js loads first for a submit: the same module the submit flow imports
    [`${PREFIX}-early`]: path('app/early-pool.js'),
  },
});
await main.write({
  dir: DIST.pathname,
  format: 'esm',
  entryFileNames: '[name].js',
  chunkFileNames: `${PREFIX}-[name]-[hash].js`,
  codeSplitting: {
    groups: [
      { name: 'early-pool', test: (id) => early.has(id), priority: 2 },
      { name: 'submit-flow', test: (id) => submit.has(id), priority: 1 },
    ],
  },
});
await main.close();

const thread = await rolldown({ ...common, input: path('brokers/embedded/thread.js') });
await thread.write({ file: path(`${PREFIX}-thread.js`), format: 'esm', codeSplitting: false });
await thread.close();
