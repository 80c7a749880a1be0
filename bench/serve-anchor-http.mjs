// The raw HTTP anchor for bench/serve-throughput.mjs: a minimal node:http server on a free
// loopback port that reads each request's body and answers a fixed JSON body (a chat.completion
// of the size slowwork answers for a short demo item), over keep-alive. No routing, no parsing, no
// validation: the ceiling node:http itself allows on this machine for this client.
// Prints `serve-anchor-http: listening on http://127.0.0.1:PORT` and exits 0 on SIGTERM/SIGINT.
//
// Env: SERVE_ANCHOR_PORT (0: a free port).
import http from 'node:http';

const BODY = Buffer.from(JSON.stringify({
  id: 'chatcmpl-0123456789abcdef01234567', object: 'chat.completion', created: 1763900000, model: 'demo',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Steady garden quiet. Text output.', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1, completion_tokens: 5, total_tokens: 6 },
}));
const HEADERS = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(BODY.length) };

const server = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, HEADERS);
    res.end(BODY);
  });
});
server.keepAliveTimeout = 72_000; // as fastify's default: idle client sockets stay open between runs
server.listen(Number(process.env.SERVE_ANCHOR_PORT || 0), '127.0.0.1', () => {
  process.stdout.write(`serve-anchor-http: listening on http://127.0.0.1:${server.address().port} (node:http, fixed ${BODY.length}-byte JSON body)\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
