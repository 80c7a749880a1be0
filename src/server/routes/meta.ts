/**
 * `GET /healthz` (always open, for load balancers), `GET /meta` (the manager's resource usage and
 * every processor's figures) and `GET /metrics` (Prometheus text).
 */
import type { FastifyInstance } from 'fastify';
import { hostname } from 'node:os';
import type { RouteContext } from './context.js';

export function metaRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const manager = ctx.manager;
  let lastCpu = { at: performance.now(), usage: process.cpuUsage() };

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', manager.metrics.registry.contentType);
    return manager.metrics.registry.metrics();
  });

  app.get('/meta', async () => {
    // CPU over the time since the last /meta call (or since the server started).
    const now = { at: performance.now(), usage: process.cpuUsage() };
    const cpuMs = (now.usage.user - lastCpu.usage.user + now.usage.system - lastCpu.usage.system) / 1000;
    const wallMs = Math.max(1, now.at - lastCpu.at);
    lastCpu = now;
    const mem = process.memoryUsage();
    const connectedOn = new Date(manager.startedAt).toISOString();
    const local = manager.models().filter((m) => m.kind === 'local').map((m) => {
      const f = manager.metrics.figures(m.name);
      const finished = f.processed + f.failed;
      return {
        name: m.name,
        id: m.name,
        kind: 'local',
        url: null,
        healthy: true,
        usage: f.inflight,
        avg_ms: finished > 0 ? Math.round(f.totalMs / finished) : null,
        items_processed: f.processed,
        items_failed: f.failed,
        connected_on: connectedOn,
      };
    });
    const remote = manager.remoteProcessors().map((p) => ({
      name: p.name,
      id: p.id,
      kind: 'remote',
      url: p.url,
      healthy: p.healthy,
      usage: p.inflight,
      avg_ms: p.processed + p.failed > 0 ? Math.round(p.avgMs) : null,
      items_processed: p.processed,
      items_failed: p.failed,
      connected_on: p.connectedOn,
    }));
    return {
      manager: {
        host: hostname(),
        pid: process.pid,
        uptime_s: Math.round((Date.now() - manager.startedAt) / 1000),
        broker: manager.describeBroker(),
        cpu_percent: Math.round((cpuMs / wallMs) * 1000) / 10,
        memory: { rss_bytes: mem.rss, heap_used_bytes: mem.heapUsed },
        streams_open: manager.metrics.streamsOpen,
        items_in_flight: manager.metrics.itemsInFlight,
        requests_pending: manager.pendingRequests,
      },
      processors: [...local, ...remote],
    };
  });
}
