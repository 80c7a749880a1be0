import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { prepareInputs } from '../../src/inputs/index.js';
import { eventually, fdsOpenOn, hasProcFd, tempDir, type TempDir } from './helpers.js';

const LINES = 200_000;
let tmp: TempDir;
let path: string;
let size: number;

beforeAll(async () => {
  tmp = await tempDir();
  const line = (i: number) => `prompt number ${i + 1}: ${'word '.repeat(i % 7)}`;
  const text = Array.from({ length: LINES }, (_, i) => line(i)).join('\n');
  path = await tmp.file('big.txt', `${text}\n`);
  size = Buffer.byteLength(text) + 1;
});
afterAll(async () => {
  await tmp.remove();
});

it('validates and streams 200k lines', async () => {
  const prepared = await prepareInputs({ files: [path], prompts: [] });
  expect(prepared.total).toBe(LINES);
  let count = 0;
  let batches = 0;
  let last;
  for await (const batch of prepared.items(1000)) {
    batches++;
    count += batch.length;
    last = batch.at(-1);
  }
  expect(count).toBe(LINES);
  expect(batches).toBe(LINES / 1000);
  expect(last).toEqual({
    id: String(LINES),
    index: LINES - 1,
    input: `prompt number ${LINES}: ${'word '.repeat((LINES - 1) % 7)}`,
    source: `${path}:${LINES}`,
  });
});

it.skipIf(!hasProcFd)('items() is lazy: the first chunk comes after a small read, and a break closes the file', async () => {
  const prepared = await prepareInputs({ files: [path], prompts: [] });
  expect(await fdsOpenOn(path)).toEqual([]); // the validation pass closed its fd

  let batches = 0;
  for await (const batch of prepared.items()) {
    batches++;
    expect(batch).toHaveLength(256);
    const fds = await fdsOpenOn(path);
    expect(fds).toHaveLength(1);
    const info = await readFile(`/proc/self/fdinfo/${fds[0]}`, 'utf8');
    const pos = Number(/^pos:\s+(\d+)/m.exec(info)?.[1]);
    expect(pos).toBeGreaterThan(0);
    expect(pos).toBeLessThan(size / 10);
    break;
  }
  expect(batches).toBe(1);
  expect(await eventually(async () => (await fdsOpenOn(path)).length === 0)).toBe(true);
});
