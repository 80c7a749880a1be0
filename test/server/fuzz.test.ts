/**
 * A live `slowwork serve` (the built binary, its own process) takes a few thousand malformed,
 * oversized and truncated requests, then still answers correctly: no crash, no leaked streams,
 * the right 4xx for each kind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoSettings, demoTokens } from '../../src/processors/demo.js';
import { BIN, FAST } from '../cli/run.js';
import { readSse } from './helpers.js';

let server: ChildProcess;
let url = '';
let port = 0;
let stderr = '';

beforeAll(async () => {
  server = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...FAST, '--param', 'length=6', '--max-body', '65536', '--max-prompt-chars', '5000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[^ ]+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    server.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  port = Number(new URL(url).port);
});

afterAll(async () => {
  if (server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
});

/** Random bytes, or a byte-cut of a valid request, written raw and then closed. */
function rawSend(payload: Buffer | string, waitMs = 0): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('error', () => resolve(answer));
    socket.on('close', () => resolve(answer));
    socket.on('connect', () => {
      socket.write(payload);
      setTimeout(() => socket.destroy(), waitMs);
    });
  });
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 4294967296);
}

const post = (path: string, body: string | Buffer, type = 'application/json') => fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });

describe('a live server under abuse', () => {
  it('answers every malformed request with a JSON 4xx', async () => {
    const rnd = seeded(7);
    const paths = ['/generate', '/v1/chat/completions', '/v1/completions', '/actions', '/processors/register', '/complete'];
    const bodies: (() => string | Buffer)[] = [
      () => '{"prompt": ',
      () => '[]',
      () => 'null',
      () => '"just a string"',
      () => JSON.stringify({ prompt: rnd() }),
      () => JSON.stringify({ model: 'demo', messages: 'nope' }),
      () => JSON.stringify({ model: 'demo', prompt: [1, 2] }),
      () => JSON.stringify({ items: [{}, null] }),
      () => JSON.stringify({ name: 'x', id: 'y', url: 'ftp://nowhere' }),
      () => Buffer.from(Array.from({ length: 64 }, () => Math.floor(rnd() * 256))),
      () => '{"prompt":"' + '\\u0000'.repeat(10) + '"'.repeat(3),
      () => JSON.stringify({ prompt: 'x'.repeat(5001) }),
    ];
    const statuses = new Map<number, number>();
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        paths.flatMap((path) =>
          bodies.map(async (body) => {
            const res = await post(path, body());
            const text = await res.text();
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            expect(res.status, `${path} ${text.slice(0, 100)}`).toBeGreaterThanOrEqual(400);
            expect(res.status, `${path} ${text.slice(0, 100)}`).toBeLessThan(500);
            expect((JSON.parse(text) as { error: { message: string } }).error.message.length).toBeGreaterThan(0);
          }),
        ),
      );
    }
    // 10 rounds × 6 routes × 12 bodies (sized for a busy 2-core machine), prompt-size checks among them.
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(720);
    expect(statuses.get(413)).toBeGreaterThan(0);
  });

  it('refuses oversized bodies with 413 and stays up', async () => {
    const big = JSON.stringify({ prompt: 'x'.repeat(200_000) });
    const answers = await Promise.all(Array.from({ length: 50 }, () => post('/generate', big).then(async (r) => [r.status, await r.text()] as const)));
    for (const [status, text] of answers) {
      expect(status).toBe(413);
      expect(text).toMatch(/larger than this server takes/);
    }
  });

  it('survives truncated, garbage and abandoned connections', async () => {
    const rnd = seeded(11);
    const valid = `POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{"prompt":"partial"}`;
    const sends: Promise<string>[] = [];
    for (let i = 0; i < 600; i++) {
      const kind = i % 4;
      if (kind === 0) sends.push(rawSend(valid.slice(0, Math.floor(rnd() * valid.length))));
      else if (kind === 1) sends.push(rawSend(Buffer.from(Array.from({ length: 200 }, () => Math.floor(rnd() * 256)))));
      else if (kind === 2) sends.push(rawSend(`GET /healthz HTTP/1.1\r\nHost: x\r\n${'X-Big: ' + 'a'.repeat(20_000)}\r\n\r\n`, 50));
      // A full request whose client hangs up while its stream runs.
      else sends.push(rawSend(valid, 5));
      if (sends.length >= 50) await Promise.all(sends.splice(0));
    }
    await Promise.all(sends);
  });

  it('still answers correctly afterwards, with no stream left open', async () => {
    expect(server.exitCode, stderr).toBeNull();
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    const events = await readSse(await post('/generate', JSON.stringify({ prompt: 'still alive?' })));
    const expected = demoTokens('still alive?', demoSettings({ first_token_ms: '0', tokens_per_s: '0', length: '6' })).join('');
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ status: 'completed', text: expected });
    let meta = { manager: { streams_open: -1, requests_pending: -1 } };
    for (let i = 0; i < 100; i++) {
      meta = (await (await fetch(`${url}/meta`)).json()) as typeof meta;
      if (meta.manager.streams_open === 0 && meta.manager.requests_pending === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(meta.manager).toMatchObject({ streams_open: 0, requests_pending: 0 });
    expect(stderr).not.toMatch(/at .*\.js:\d+/);
  });
});
