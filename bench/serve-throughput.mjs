// HTTP server benchmark 3: requests/s through `slowwork serve`'s OpenAI-compatible
// POST /v1/chat/completions, not streaming, with `demo` at zero delay (tokens_per_s=0,
// first_token_ms=0), beside the raw node:http anchor (bench/serve-anchor-http.mjs: a fixed JSON
// body of about the same size), driven by the same client from this process: SERVE_TP_CLIENTS
// requests in flight over as many keep-alive connections, SERVE_TP_REQUESTS requests a run; every
// answer must be 200 with a finished choice. Two clients, one after the other on the same server:
//   - raw: plain sockets and a minimal HTTP/1.1 reader (bench/lib/serve.mjs rawConnections), the
//     headline: cheap enough that the server, not the client, is what is measured;
//   - node:http: the usual client with a keep-alive agent, for context (it costs about a core
//     at the anchor's rate, so there the client is the limit).
// run.sh runs slowwork and the anchor in the same round, one after the other (the order
// alternating), so the ratio shows how much of the raw HTTP ceiling slowwork keeps on this
// machine. The server and the client share the machine's cores: their CPU (from /proc and
// process.cpuUsage) is recorded beside the rate.
//
// Usage: node bench/serve-throughput.mjs slowwork|anchor
// Env: RUNS, SERVE_TP_REQUESTS (20000), SERVE_TP_CLIENTS (64), SERVE_TP_WARMUP (2000),
//      SERVE_TP_LENGTH (8: the demo's tokens per answer), SERVE_TP_HTTP_CLIENT (1: also the
//      node:http client; 0 skips it).
import { RUNS, nowMs, num, record } from './lib/common.mjs';
import { agent, deadline, fail, postJson, procCpuMs, rawConnections, startAnchor, startServe } from './lib/serve.mjs';

const TARGET = process.argv[2];
if (TARGET !== 'slowwork' && TARGET !== 'anchor') fail('usage: node bench/serve-throughput.mjs slowwork|anchor');
const REQUESTS = num('SERVE_TP_REQUESTS', 20_000);
const CLIENTS = num('SERVE_TP_CLIENTS', 64);
const WARMUP = num('SERVE_TP_WARMUP', 2000);
const LENGTH = num('SERVE_TP_LENGTH', 8);
const HTTP_CLIENT = num('SERVE_TP_HTTP_CLIENT', 1) !== 0;
deadline(60 + 2 * RUNS * (REQUESTS / 500 + 10), `serve-throughput ${TARGET}`);

const server = TARGET === 'slowwork'
  ? await startServe(['--param', 'tokens_per_s=0', '--param', 'first_token_ms=0', '--param', `length=${LENGTH}`])
  : await startAnchor();
const body = (i) => JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: `throughput prompt ${i}` }] });
const check = (i, status, text) => {
  if (status !== 200 || !text.includes('"finish_reason":"stop"')) throw new Error(`request ${i}: HTTP ${status}: ${text.slice(0, 300)}`);
};

/** Each client's loop: one request after another on its own connection. */
const CLIENT_KINDS = {
  raw: {
    label: 'raw sockets',
    async open() {
      const conns = await rawConnections(server.port, CLIENTS);
      return {
        loop: (k, take) => (async () => {
          for (let i = take(); i >= 0; i = take()) {
            const r = await conns[k].post('/v1/chat/completions', body(i));
            check(i, r.status, r.body);
          }
        })(),
        fresh: () => 0,
        close: () => conns.forEach((c) => c.close()),
      };
    },
  },
  http: {
    label: 'node:http',
    async open() {
      const ag = agent(CLIENTS);
      let fresh = 0;
      return {
        loop: (k, take) => (async () => {
          for (let i = take(); i >= 0; i = take()) {
            const r = await postJson(ag, server.port, '/v1/chat/completions', body(i));
            check(i, r.status, r.text);
            if (!r.reused) fresh++;
          }
        })(),
        fresh: () => fresh,
        close: () => ag.destroy(),
      };
    },
  },
};

/** `total` requests with CLIENTS in flight: resolves {ms, newConnections}. */
async function drive(client, total) {
  let next = 0;
  const take = () => (next < total ? next++ : -1);
  const fresh0 = client.fresh(), t0 = nowMs();
  await Promise.all(Array.from({ length: CLIENTS }, (_, k) => client.loop(k, take)));
  return { ms: nowMs() - t0, newConnections: client.fresh() - fresh0 };
}

const kinds = HTTP_CLIENT ? ['raw', 'http'] : ['raw'];
const out = {};
try {
  for (const kind of kinds) {
    const client = await CLIENT_KINDS[kind].open();
    const x = (out[kind] = { rates: [], serverCpu: [], clientCpu: [], newConnections: 0 });
    await drive(client, WARMUP); // connections open, JIT warm
    for (let r = 0; r < RUNS; r++) {
      const s0 = procCpuMs(server.pid), c0 = process.cpuUsage();
      const run = await drive(client, REQUESTS);
      const s1 = procCpuMs(server.pid), c = process.cpuUsage(c0);
      x.rates.push(REQUESTS / (run.ms / 1000));
      x.serverCpu.push((100 * (s1 - s0)) / run.ms);
      x.clientCpu.push((100 * (c.user + c.system)) / 1000 / run.ms);
      x.newConnections += run.newConnections;
    }
    client.close();
  }
} catch (e) {
  fail(`serve-throughput ${TARGET}: ${e.stack || e}\nserver stderr: ${server.stderr().trim()}`);
}
await server.stop();

const bench = TARGET === 'slowwork' ? 'slowwork-serve' : 'node-http';
const what = TARGET === 'slowwork' ? 'POST /v1/chat/completions non-streaming' : 'POST, fixed JSON answer (raw node:http)';
for (const kind of kinds) {
  const x = out[kind];
  const settings = {
    requests: REQUESTS, clients: CLIENTS, warmup: WARMUP, client: CLIENT_KINDS[kind].label, newConnectionsMeasured: x.newConnections,
    server: TARGET === 'slowwork' ? `slowwork serve, demo tokens_per_s=0 first_token_ms=0 length=${LENGTH}, defaults otherwise` : 'bench/serve-anchor-http.mjs (node:http, fixed JSON body)',
  };
  const m = `${what}, ${CLIENTS} clients keep-alive, ${CLIENT_KINDS[kind].label} client`;
  record(bench, m, 'requests/s', x.rates, settings);
  record(bench, `${m}: server CPU`, '% of one core', x.serverCpu, settings);
  record(bench, `${m}: client CPU`, '% of one core', x.clientCpu, settings);
}
