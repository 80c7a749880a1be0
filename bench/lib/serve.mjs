// Shared helpers for the HTTP server benchmarks (bench/serve-*.mjs): a `slowwork serve` (or the
// raw node:http anchor, bench/serve-anchor-http.mjs) as a child process on a free loopback port,
// started and stopped by pid (SIGTERM, then waiting for its exit); its memory and CPU from /proc;
// and a small HTTP client on node:http with keep-alive agents, so connection setup is not timed.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { BENCH_DIR, REPO, nowMs } from './common.mjs';

/** Ends the script with one line (the exit handler below stops the servers). */
export function fail(message) {
  console.error(message);
  process.exit(1);
}

const children = new Set();
// However the script ends, no server outlives it (the normal path stops them with SIGTERM).
process.on('exit', () => { for (const c of children) try { process.kill(c.pid, 'SIGKILL'); } catch {} });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

/** Bounds the whole script: a stuck run fails the step instead of hanging `make bench`. */
export function deadline(seconds, what) {
  setTimeout(() => fail(`${what}: still running after ${seconds} s, giving up`), seconds * 1000).unref();
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts a server process (`node ...args`, cwd the repo) and waits for its one stdout line
 * `...: listening on http://127.0.0.1:PORT ...`. Its stderr is kept for the report of a failure.
 * BENCH_SERVE_NODE_ARGS: node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p".
 */
async function startProcess(label, args) {
  const nodeArgs = (process.env.BENCH_SERVE_NODE_ARGS || '').split(' ').filter(Boolean);
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.API_PORT;
  delete env.BATCH_WINDOW_MS;
  delete env.MAX_REQUESTS_PER_JOB;
  delete env.LOG_LEVEL;
  const child = spawn(process.execPath, [...nodeArgs, ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '', err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => child.once('exit', (code, sig) => { children.delete(child); resolve(code ?? sig); }));
  const port = await new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code, sig) => reject(new Error(`${label} exited (${code ?? sig}) before listening: ${(out + err).trim()}`)));
    setTimeout(() => reject(new Error(`${label} did not listen within 20 s: ${(out + err).trim()}`)), 20_000).unref();
  });
  return {
    pid: child.pid,
    port,
    line: out.trim().split('\n')[0],
    stderr: () => err,
    /** SIGTERM, then its exit: 0 is the only good answer (anything else is reported and fails). */
    async stop() {
      if (child.exitCode === null) process.kill(child.pid, 'SIGTERM');
      const late = new Promise((r) => setTimeout(() => r('still running 30 s after SIGTERM'), 30_000).unref());
      const code = await Promise.race([exited, late]);
      if (code !== 0) fail(`${label} (pid ${child.pid}) ended with ${code} after SIGTERM:\n${err.trim()}`);
      return code;
    },
  };
}

/** `node bin/slowwork.js serve --port 0 ...flags` */
export const startServe = (flags) => startProcess('slowwork serve', [join(REPO, 'bin', 'slowwork.js'), 'serve', '--port', '0', ...flags]);
/** The raw node:http anchor: a fixed JSON body for every request. */
export const startAnchor = () => startProcess('anchor server', [join(BENCH_DIR, 'serve-anchor-http.mjs')]);

/** {rss, hwm} of a process in bytes, from /proc/<pid>/status (VmRSS, VmHWM: its peak RSS). */
export function procMem(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

const TICK_MS = 1000 / 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 10 ms ticks
/** CPU time of a process (all its threads) in ms, from /proc/<pid>/stat. */
export function procCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

/** A keep-alive agent; `sockets` bounds the connections it opens to one server. */
export const agent = (sockets) => new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, keepAliveMsecs: 30_000 });

/**
 * POSTs `body` (an object, sent as JSON) and reads a text/event-stream answer. `onData(data, t)`
 * is called with each event's `data` (lines joined) and the time it was read (nowMs); if it
 * throws, the response is destroyed and the promise rejects with that error. Resolves {t0, status, reused, events} where t0
 * is the time just before the request was written.
 */
export function postSse(ag, port, path, body, onData) {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent: ag, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), accept: 'text/event-stream' } });
    let events = 0;
    req.on('error', reject);
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => reject(new Error(`${path}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`)));
        return;
      }
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (d) => {
        const t = nowMs();
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let data = null;
          for (const line of frame.split('\n')) if (line.startsWith('data: ')) data = data === null ? line.slice(6) : `${data}\n${line.slice(6)}`;
          if (data === null) continue; // a comment (keep-alive)
          events++;
          try {
            onData(data, t);
          } catch (e) {
            res.destroy();
            reject(e);
            return;
          }
        }
      });
      res.on('end', () => resolve({ t0, status: res.statusCode, reused: req.reusedSocket, events }));
      res.on('error', reject);
    });
    const t0 = nowMs();
    req.end(payload);
  });
}

/**
 * POSTs JSON and reads the whole answer as text: resolves {status, text, reused, t0, tBody}, t0
 * the time just before the request was written and tBody when the first byte of the body was read.
 */
export function postJson(ag, port, path, body) {
  return new Promise((resolve, reject) => {
    const payload = typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent: ag, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '', tBody = 0;
      res.setEncoding('utf8');
      res.on('data', (d) => { if (!text) tBody = nowMs(); text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text, reused: req.reusedSocket, t0, tBody }));
      res.on('error', reject);
    });
    const t0 = nowMs();
    req.end(payload);
  });
}

/** Nearest-rank percentiles of a list of samples. */
export function summary(samples) {
  const s = Float64Array.from(samples).sort();
  const at = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  return { n: s.length, p50: at(50), p90: at(90), p99: at(99), max: s[s.length - 1], min: s[0] };
}

/**
 * A lean HTTP/1.1 client for throughput: `count` keep-alive connections of its own (plain
 * sockets, Nagle off), each with one request in flight at a time (no pipelining), answers read
 * by their content-length (a chunked answer is refused). node:http's client costs about a core at
 * 17k requests/s on this kind of machine, so it would measure itself rather than the server.
 * `conn.post(path, payload)` resolves {status, body} (body as a latin1 string).
 */
export async function rawConnections(port, count) {
  const conns = await Promise.all(Array.from({ length: count }, () => new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port }, () => resolve(sock));
    sock.once('error', reject);
  })));
  return conns.map((sock) => {
    sock.setNoDelay(true);
    let buf = Buffer.alloc(0), waiting = null;
    sock.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      if (!waiting) return;
      const head = buf.indexOf('\r\n\r\n');
      if (head < 0) return;
      const headers = buf.toString('latin1', 0, head);
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(headers);
      if (!m) { const w = waiting; waiting = null; w.reject(new Error(`answer without content-length: ${headers.slice(0, 300)}`)); return; }
      const end = head + 4 + Number(m[1]);
      if (buf.length < end) return;
      const body = buf.toString('latin1', head + 4, end);
      buf = buf.subarray(end);
      const w = waiting;
      waiting = null;
      w.resolve({ status: Number(headers.slice(9, 12)), body });
    });
    const broken = (e) => { if (waiting) { const w = waiting; waiting = null; w.reject(e ?? new Error('connection closed')); } };
    sock.on('error', broken);
    sock.on('close', () => broken());
    return {
      post(path, payload) {
        return new Promise((resolve, reject) => {
          waiting = { resolve, reject };
          sock.write(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`);
        });
      },
      close: () => sock.destroy(),
    };
  });
}
