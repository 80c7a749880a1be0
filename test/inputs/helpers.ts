/** Shared helpers for the input tests: real files in a fresh temp dir. */
import { mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ItemSpec } from '../../src/core/types.js';
import type { PreparedInputs } from '../../src/inputs/index.js';

export interface TempDir {
  readonly dir: string;
  file(name: string, content: string | Uint8Array): Promise<string>;
  remove(): Promise<void>;
}

export async function tempDir(): Promise<TempDir> {
  const dir = await mkdtemp(join(tmpdir(), 'slowwork-inputs-test-'));
  return {
    dir,
    async file(name, content) {
      const path = join(dir, name);
      await writeFile(path, content);
      return path;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export async function allItems(prepared: PreparedInputs, chunk?: number): Promise<ItemSpec[]> {
  const out: ItemSpec[] = [];
  for await (const batch of prepared.items(chunk)) out.push(...batch);
  return out;
}

/** Resolves with the rejection so tests can assert its class and message. */
export async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`rejected with a non-Error: ${String(err)}`);
  }
  throw new Error('expected a rejection, but it resolved');
}

export const hasProcFd = process.platform === 'linux';

/** This process's open fds that point at `path` (Linux /proc). */
export async function fdsOpenOn(path: string): Promise<string[]> {
  const found: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target === path) found.push(fd);
  }
  return found;
}

/** Polls until `check` holds: fs closes happen on the threadpool, a tick or two later. */
export async function eventually(check: () => Promise<boolean>, ms = 2000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return check();
}
