// Shared helpers for the LLM client benchmarks (bench/llm-*.mjs): the local OpenAI-compatible
// server (src/testing/openai-server) as a process of its own, started and stopped by pid; the
// prompts file; a client process timed by bash's `time` (its CPU, all threads, to its very exit);
// and the check that a results file holds every answer whole.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIST, REPO } from './common.mjs';
import { fail, procCpuMs, sleep } from './serve.mjs';

export const SERVER_MAIN = join(DIST, 'testing', 'openai-server', 'main.js');
export const SLOWWORK_BIN = join(REPO, 'bin', 'slowwork.js');
export const MODEL = 'bench-model';

/** The environment every process here gets: no caller's NODE_OPTIONS, the embedded pool, a key. */
export function cleanEnv() {
  const env = { ...process.env, OPENAI_API_KEY: 'sk-bench' }; // the local server takes any key
  for (const k of ['NODE_OPTIONS', 'SLOWWORK_REDIS_URL', 'OPENAI_BASE_URL', 'OPENAI_ORG_ID', 'OPENAI_PROJECT_ID', 'OPENAI_LOG']) delete env[k];
  return env;
}

const groups = new Set();
// However the script ends, nothing it started outlives it (the normal path stops each by pid).
process.on('exit', () => {
  for (const pid of groups) try { process.kill(-pid, 'SIGKILL'); } catch {}
});

/**
 * Starts the server (`node main.js --port 0 ...flags`, its own process group) and waits for its
 * line `listening http://127.0.0.1:PORT/v1`. stop() sends SIGTERM and resolves the stats it prints
 * on its way out ({requests, completed, completionTokens, peakOpenStreams, ...}) and its CPU.
 */
export async function startLlmServer(flags) {
  const child = spawn(process.execPath, [SERVER_MAIN, '--port', '0', ...flags], { cwd: REPO, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  groups.add(child.pid);
  let out = '', err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => child.once('exit', (code, sig) => { groups.delete(child.pid); resolve(code ?? sig); }));
  const url = await new Promise((resolve, reject) => {
    const look = () => { const m = /^listening (http:\/\/127\.0\.0\.1:\d+\/v1)$/m.exec(out); if (m) resolve(m[1]); };
    child.stdout.on('data', look);
    exited.then((code) => reject(new Error(`the OpenAI server exited (${code}) before listening: ${(out + err).trim()}`)));
    setTimeout(() => reject(new Error(`the OpenAI server did not listen within 20 s: ${(out + err).trim()}`)), 20_000).unref();
  });
  return {
    url,
    pid: child.pid,
    async stop() {
      const cpuMs = procCpuMs(child.pid); // before SIGTERM: its serving, not its shutdown
      process.kill(child.pid, 'SIGTERM');
      const late = new Promise((r) => setTimeout(() => r('still running 30 s after SIGTERM'), 30_000).unref());
      const code = await Promise.race([exited, late]);
      if (code !== 0) fail(`the OpenAI server (pid ${child.pid}) ended with ${code} after SIGTERM:\n${err.trim()}`);
      const line = out.trim().split('\n').at(-1);
      try {
        return { ...JSON.parse(line), cpuMs };
      } catch {
        fail(`the OpenAI server printed no stats line on SIGTERM: ${out.trim()}`);
      }
    },
  };
}

/** `n` prompts of a few words each (the server's answers repeat a prompt's words). */
export function writePrompts(file, n) {
  writeFileSync(file, Array.from({ length: n }, (_, i) => `bench prompt ${i + 1} about streaming tokens`).join('\n') + '\n');
}

// bash's `time` keyword reads the command's rusage when bash reaps it (wait4): user and system
// time of every thread the process ever had, up to its exit, and of any child it reaped. Polling
// /proc/PID/stat from outside would miss the time between the last read and the exit.
const TIMED = 'TIMEFORMAT="%3U %3S %3R"; { time "$@" 2>&3; } 3>&2 2>"$0"';

/**
 * Runs `node ...args` under bash's `time` (in its own process group; stdout to `stdoutFile`,
 * stderr kept for the error), resolves {userS, sysS, cpuS, wallS}. A non-zero exit rejects.
 * `onStart(pid)` is called with the node process's pid once it runs (for /proc).
 */
export function runTimed(args, { env = cleanEnv(), stdoutFile, timeFile, limitS = 600, onStart }) {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', TIMED, timeFile, process.execPath, ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    groups.add(child.pid);
    if (onStart) void nodeChildOf(child.pid, args[0]).then((pid) => pid !== null && onStart(pid));
    let stderr = '', stdout = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const killer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch {} }, limitS * 1000);
    child.once('error', reject);
    child.once('exit', (code, sig) => {
      clearTimeout(killer);
      groups.delete(child.pid);
      if (stdoutFile) writeFileSync(stdoutFile, stdout);
      const last = stderr.trim().split('\n').slice(-3).join(' / ');
      if (code !== 0) return reject(new Error(`node ${args.slice(0, 2).join(' ')} ... exited ${code ?? sig}: ${last}`));
      const t = existsSync(timeFile) ? readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number) : [];
      if (t.length !== 3 || t.some((x) => !Number.isFinite(x))) return reject(new Error(`no timing from bash's time in ${timeFile}`));
      resolve({ userS: t[0], sysS: t[1], cpuS: t[0] + t[1], wallS: t[2] });
    });
  });
}

/** The node process bash started (its child whose command line names `script`), or null after about 5 s. */
async function nodeChildOf(bashPid, script) {
  for (let i = 0; i < 500; i++) {
    try {
      for (const k of readFileSync(`/proc/${bashPid}/task/${bashPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
        if (readFileSync(`/proc/${k}/cmdline`, 'utf8').split('\0').includes(script)) return Number(k);
      }
    } catch {
      return null; // bash is gone
    }
    await sleep(10);
  }
  return null;
}

/**
 * Checks a results file: `lines` JSONL lines, each with a different index, every `output` of
 * `tokens` words (the server's tokens are words), and `status` done where there is one.
 * Returns null when it holds, else what is wrong (one line).
 */
export function checkResults(file, lines, tokens) {
  if (!existsSync(file)) return `${file}: missing`;
  const rows = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
  if (rows.length !== lines) return `${file}: ${rows.length} lines, not ${lines}`;
  const seen = new Set();
  for (const line of rows) {
    const r = JSON.parse(line);
    if (r.status !== undefined && r.status !== 'done') return `${file}: item ${r.id} ended ${r.status}: ${r.error ?? ''}`;
    const words = typeof r.output === 'string' ? r.output.trim().split(/\s+/).filter(Boolean).length : 0;
    if (words !== tokens) return `${file}: item ${r.id} has ${words} tokens, not ${tokens}`;
    seen.add(r.index);
  }
  return seen.size === lines ? null : `${file}: ${seen.size} different items, not ${lines}`;
}
