/**
 * Helpers for the CLI tests: run the BUILT binary (`node bin/slowwork.js`, which loads
 * dist/cli/main.js) as a child process with pipes for stdio, so its output is plain, and read
 * what it wrote. Build first: `npx tsc -p tsconfig.json` (`make test` does).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import type { ResultRecord } from '../../src/core/types.js';
import { demoSettings, demoTokens } from '../../src/processors/demo.js';
import type { ItemInput, Params } from '../../src/core/types.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(REPO, 'bin', 'slowwork.js');
export const FIXTURES = path.join(REPO, 'test', 'fixtures');
export const processorFixture = (name: string): string => path.join(FIXTURES, 'processors', name);

if (!existsSync(path.join(REPO, 'dist', 'cli', 'main.js'))) {
  throw new Error('dist/cli/main.js is missing: build first with `npx tsc -p tsconfig.json`');
}

/** Demo params that make every item finish at once. */
export const FAST = ['--param', 'first_token_ms=0', '--param', 'tokens_per_s=0'];

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit, in ms. */
  readonly ms: number;
}

export interface RunOptions {
  readonly cwd: string;
  /** Written to stdin, which is then closed; without it stdin is closed at once. */
  readonly input?: string | Buffer;
  /** The child is killed (SIGKILL) and the promise rejects after this long. Default 20 s. */
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  /** The most a file written by the child may grow to, in KiB (`ulimit -f`): a disk that fills up. */
  readonly fileSizeLimitKiB?: number;
}

/** The environment of a user at a terminal, without what CI or vitest set. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^(CI|GITHUB_.*|VITEST.*|FORCE_COLOR|NO_COLOR|NODE_ENV|NODE_OPTIONS|SLOWWORK_.*|TEST|npm_.*)$/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export interface Running {
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited and its pipes are closed. */
  readonly exited: Promise<RunResult>;
}

/** Starts `node bin/slowwork.js ...args`. */
export function start(args: readonly string[], opts: RunOptions): Running {
  const started = Date.now();
  // bash's ulimit -f counts 1024-byte blocks; exec keeps the pid. Node ignores SIGXFSZ, so a
  // write past the limit stops short, then fails with EFBIG, like a disk that fills up.
  const argv = opts.fileSizeLimitKiB === undefined
    ? [process.execPath, BIN, ...args]
    : ['bash', '-c', `ulimit -f ${opts.fileSizeLimitKiB} && exec "$0" "$@"`, process.execPath, BIN, ...args];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: opts.cwd,
    env: opts.env ?? cleanEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  child.stdin!.on('error', () => {}); // EPIPE when the CLI fails before reading stdin
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  else child.stdin!.end();
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const exited = new Promise<RunResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`slowwork ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out, stderr: err, ms: Date.now() - started });
    });
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

/**
 * At most this many `run()` children at once per test file (vitest runs two files at a time on
 * two cores; each CLI start costs most of a core for a moment).
 */
const MAX_RUNNING = 3;
let running = 0;
const waiting: (() => void)[] = [];

/** Runs `node bin/slowwork.js ...args` to its end. */
export async function run(args: readonly string[], opts: RunOptions): Promise<RunResult> {
  if (running >= MAX_RUNNING) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await start(args, opts).exited;
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'slowwork-cli-test-'));
}

/**
 * Temporary folders for one test file, removed after it: `const dir = tempDirsPerFile()`, then
 * `await dir()` in a test.
 */
export function tempDirsPerFile(): () => Promise<string> {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.splice(0).map(removeDir));
  });
  return async () => {
    const d = await tempDir();
    dirs.push(d);
    return d;
  };
}

export async function removeDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}

/** Complete lines of a file (up to its last newline) and the partial tail, '' if none. */
export function fileLines(file: string): { lines: string[]; tail: string } {
  if (!existsSync(file)) return { lines: [], tail: '' };
  const text = readFileSync(file, 'utf8');
  const end = text.lastIndexOf('\n') + 1;
  const lines = text.slice(0, end).split('\n');
  lines.pop();
  return { lines, tail: text.slice(end) };
}

/** Every line of a results file, parsed; throws if a line is not JSON or the file has a partial tail. */
export function readResults(file: string): ResultRecord[] {
  const { lines, tail } = fileLines(file);
  if (tail !== '') throw new Error(`${file} ends with a partial line: ${JSON.stringify(tail.slice(0, 200))}`);
  return lines.map((line, k) => {
    try {
      return JSON.parse(line) as ResultRecord;
    } catch {
      throw new Error(`${file}:${k + 1} is not JSON: ${line.slice(0, 200)}`);
    }
  });
}

/** Polls `cond` every `everyMs` until it holds; rejects after `timeoutMs` with `what`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000, everyMs = 20): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Starts `slowwork serve --port 0 ...args`; resolves once it printed where it listens. */
export async function startServe(args: readonly string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<{ s: Running; url: string }> {
  const s = start(['serve', '--port', '0', ...args], { cwd, timeoutMs: 30_000, ...(env ? { env } : {}) });
  await waitFor(() => /listening on http:\/\/\S+/.test(s.stdout()) || s.child.exitCode !== null, 'serve to listen', 20_000, 50);
  const m = /listening on (http:\/\/[^\s)]+)/.exec(s.stdout());
  if (m) return { s, url: m[1]! };
  const r = await s.exited;
  throw new Error(`serve did not start: ${r.stderr}`);
}

/** The demo's deterministic answer for an input and params. */
export function demoOutput(input: ItemInput, params: Params = {}): string {
  return demoTokens(input, demoSettings(params)).join('');
}

/** `--param k=v ...` args to a Params record (later ones win, like the CLI). */
export function paramsOf(args: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (let k = 0; k < args.length; k++) {
    if (args[k] !== '--param') continue;
    const pair = args[k + 1]!;
    const eq = pair.indexOf('=');
    params[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return params;
}

/** Splits a command line printed by slowwork (words, 'single quotes', '\'' escapes). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let k = 0; k < line.length; k++) {
    const c = line[k]!;
    if (c === "'") {
      const end = line.indexOf("'", k + 1);
      if (end < 0) throw new Error(`unbalanced quote in ${line}`);
      word += line.slice(k + 1, end);
      inWord = true;
      k = end;
    } else if (c === '\\' && k + 1 < line.length) {
      word += line[++k];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** The `resume:` command printed in a plain-mode summary, as args after `slowwork`. */
export function printedResumeArgs(stdout: string): string[] {
  const line = stdout.split('\n').find((l) => l.startsWith('resume:'));
  if (!line) throw new Error(`no resume command in:\n${stdout}`);
  const words = shellWords(line.slice('resume:'.length).trim());
  if (words[0] !== 'slowwork') throw new Error(`resume command does not start with slowwork: ${line}`);
  return words.slice(1);
}

/** Asserts-friendly shape checks of a done record written by a run on the embedded pool. */
export const WORKER = /^thread-\d+$/;
