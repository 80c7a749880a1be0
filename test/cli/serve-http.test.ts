/**
 * `slowwork serve` as a user runs it, at its edges: what a chat hands a processor, slow and
 * stopping clients, the address it advertises. The built binary, real sockets, real clients.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { readSse } from '../server/helpers.js';
import { FAST, REPO, processorFixture, start, startServe, tempDirsPerFile, waitFor } from './run.js';

const dir = tempDirsPerFile();

describe('a chat request hands a processor', () => {
  it('the conversation as text, unless the processor says it accepts messages', async () => {
    const { s, url } = await startServe(['--processor', processorFixture('shout.mjs'), '--processor', processorFixture('chat-messages.mjs'), ...FAST], await dir());
    try {
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const one = await client.chat.completions.create({ model: 'shout', messages: [{ role: 'user', content: 'hi there' }] });
      expect(one.choices[0]!.message.content).toBe('HI THERE ');
      const two = await client.chat.completions.create({
        model: 'shout',
        messages: [
          { role: 'system', content: 'be loud' },
          { role: 'user', content: 'hi' },
        ],
      });
      expect(two.choices[0]!.message.content).toBe('SYSTEM: BE LOUD\nUSER: HI ');
      const raw = await client.chat.completions.create({
        model: 'chat-messages',
        messages: [
          { role: 'system', content: 'x' },
          { role: 'user', content: 'y' },
        ],
      });
      expect(raw.choices[0]!.message.content).toBe('system,user');
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });
});

describe('slow and late clients', () => {
  it('cuts off a request body trickled one byte at a time, with 408 in the API error shape', async () => {
    const { s, url } = await startServe(['--request-timeout', '300', ...FAST], await dir());
    try {
      const { hostname, port } = new URL(url);
      const socket = connect(Number(port), hostname);
      let answer = '';
      let closed = false;
      socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
      socket.on('close', () => (closed = true));
      socket.on('error', () => undefined);
      await new Promise((r) => socket.once('connect', r));
      const body = JSON.stringify({ prompt: 'x'.repeat(200) });
      socket.write(`POST /generate HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
      // One byte at a time until the server hangs up; the whole body would take 4 s at this pace.
      let sent = 0;
      while (!closed && sent < body.length) {
        socket.write(body[sent++]!);
        await new Promise((r) => setTimeout(r, 20));
      }
      await waitFor(() => closed, 'the server to close the trickling connection', 10_000);
      expect(sent).toBeLessThan(body.length);
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'request_timeout', type: 'invalid_request_error' } });
      // The server is fine for everyone else.
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });

  it('answers 503 while draining, as documented, and lets the running stream finish', async () => {
    const slow = ['--param', 'first_token_ms=0', '--param', 'tokens_per_s=10', '--param', 'length=15'];
    const { s, url } = await startServe([...slow, '--drain-timeout', '20000'], await dir());
    const generate = (prompt: string) => fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt }) });
    const running = generate('keep going').then(readSse);
    let open = 0;
    for (let i = 0; i < 500 && open < 1; i++) {
      open = ((await (await fetch(`${url}/meta`)).json()) as { manager: { streams_open: number } }).manager.streams_open;
      if (open < 1) await new Promise((r) => setTimeout(r, 20));
    }
    expect(open).toBe(1);
    s.child.kill('SIGTERM');
    await waitFor(() => /stopping: no new requests/.test(s.stderr()), 'the stopping line', 10_000);
    const refused = await generate('too late');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('connection')).toBe('close');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('server_stopping');
    const events = await running;
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ status: 'completed' });
    expect((await s.exited).code).toBe(0);
  });
});

/** A TCP relay on 127.0.0.3 (a stand-in for a proxy in front of the server), noting what passes. */
async function relay(): Promise<{ url: string; to(port: number): void; seen: () => string; close(): void }> {
  let target = 0;
  let seen = '';
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect(target, '127.0.0.2');
    for (const sock of [inbound, outbound]) {
      sockets.add(sock);
      sock.on('error', () => undefined);
    }
    inbound.on('data', (d: Buffer) => (seen += d.toString('latin1')));
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.3', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.3:${port}`,
    to: (p) => (target = p),
    seen: () => seen,
    close: () => {
      for (const sock of sockets) sock.destroy();
      server.close();
    },
  };
}

describe('the address remote processors call back', () => {
  it('is where the server is bound, or --public-url (here a relay) when it says so', async () => {
    const proxy = await relay();
    const { s, url } = await startServe(['--host', '127.0.0.2', '--public-url', proxy.url, ...FAST], await dir());
    const port = Number(new URL(url).port);
    proxy.to(port);
    const processor = start(['processor', 'serve', '--manager', url, '--name', 'far', '--async', ...FAST], { cwd: REPO, timeoutMs: 60_000 });
    try {
      // Loopback beyond 127.0.0.1 needs no token; the line names the bound address, then the public one.
      await waitFor(() => /call back at/.test(s.stdout()), 'the public address line');
      expect(s.stdout()).toMatch(new RegExp(`^slowwork serve: listening on http://127\\.0\\.0\\.2:${port} \\(.*\\)\\nslowwork serve: remote processors call back at ${proxy.url.replace(/\./g, '\\.')}\\n$`));
      await waitFor(() => /registered with/.test(processor.stdout()) || processor.child.exitCode !== null, 'the processor to register', 20_000);
      const res = await fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'from afar', processor: 'far' }) });
      const events = await readSse(res);
      expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ status: 'completed' });
      // The 202 item's result came back through the public address.
      expect(proxy.seen()).toMatch(/^POST \/complete HTTP\/1\.1/);
    } finally {
      processor.child.kill('SIGTERM');
      await processor.exited;
      s.child.kill('SIGTERM');
      await s.exited;
      proxy.close();
    }
  });
});
