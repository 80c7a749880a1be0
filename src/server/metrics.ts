/**
 * The server's counters: Prometheus metrics (prom-client, one registry per server so tests can
 * run several) and the per-processor figures `/meta` shows. Fed from the event spine.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobEvent } from '../core/events.js';
import type { ItemMeta } from '../core/item-meta.js';

export interface ProcessorFigures {
  inflight: number;
  processed: number;
  failed: number;
  totalMs: number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'slowwork_http_requests_total',
    help: 'HTTP requests answered, by route and status code',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly items = new Counter({
    name: 'slowwork_items_total',
    help: 'Items finished, by processor and outcome',
    labelNames: ['processor', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly chunks = new Counter({
    name: 'slowwork_chunks_total',
    help: 'Processor chunks streamed',
    registers: [this.registry],
  });
  private readonly tokens = new Counter({
    name: 'slowwork_tokens_total',
    help: 'Tokens the processors reported (ctx.report), failed attempts included (they were billed), by processor, kind (prompt or completion) and whether slowwork estimated them',
    labelNames: ['processor', 'kind', 'estimated'] as const,
    registers: [this.registry],
  });
  private readonly inflight = new Gauge({
    name: 'slowwork_items_in_flight',
    help: 'Items running now',
    registers: [this.registry],
  });
  private readonly streams = new Gauge({
    name: 'slowwork_streams_open',
    help: 'Server-sent event streams open now',
    registers: [this.registry],
  });
  private readonly itemSeconds = new Histogram({
    name: 'slowwork_item_duration_seconds',
    help: 'Time from an item attempt start to its end',
    labelNames: ['processor'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  private readonly firstChunkSeconds = new Histogram({
    name: 'slowwork_first_chunk_seconds',
    help: 'Time from an item attempt start to its first chunk',
    labelNames: ['processor'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly perProcessor = new Map<string, ProcessorFigures>();
  private openStreams = 0;
  private inflightItems = 0;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'slowwork_' });
  }

  figures(processor: string): ProcessorFigures {
    let f = this.perProcessor.get(processor);
    if (!f) this.perProcessor.set(processor, (f = { inflight: 0, processed: 0, failed: 0, totalMs: 0 }));
    return f;
  }

  get streamsOpen(): number {
    return this.openStreams;
  }

  get itemsInFlight(): number {
    return this.inflightItems;
  }

  request(route: string, status: number): void {
    this.requests.inc({ route, status: String(status) });
  }

  streamOpened(): void {
    this.streams.set(++this.openStreams);
  }

  streamClosed(): void {
    this.streams.set(--this.openStreams);
  }

  /**
   * Counts a job's events under each processor of its pipeline. `running` is the job's own set of
   * items in flight, so an item is counted in and out exactly once whatever way it ends.
   */
  observe(processors: readonly string[], running: Set<number>, events: readonly JobEvent[]): void {
    for (const e of events) {
      switch (e.type) {
        case 'item-start':
          if (running.has(e.index)) break; // a pipeline's later stage is the same item
          running.add(e.index);
          this.started(processors);
          break;
        case 'chunk':
          this.chunks.inc(e.n);
          break;
        case 'item-retry':
          if (running.delete(e.index)) this.ended(processors);
          this.countTokens(processors, e.meta);
          break;
        case 'item-done':
        case 'item-failed': {
          if (running.delete(e.index)) this.ended(processors);
          this.countTokens(processors, e.meta);
          const failed = e.type === 'item-failed';
          for (const p of processors) {
            const f = this.figures(p);
            if (failed) f.failed++;
            else f.processed++;
            f.totalMs += e.durations.totalMs;
            this.items.inc({ processor: p, outcome: failed ? 'failed' : 'done' });
            this.itemSeconds.observe({ processor: p }, e.durations.totalMs / 1000);
            if (e.durations.firstChunkMs !== null) this.firstChunkSeconds.observe({ processor: p }, e.durations.firstChunkMs / 1000);
          }
          break;
        }
        default:
          break;
      }
    }
  }

  /**
   * An attempt's reported tokens. A pipeline's stages add up into one report (item-meta.ts), so
   * they count once, under the pipeline (`a -> b`), not once per processor.
   */
  private countTokens(processors: readonly string[], meta: ItemMeta | undefined): void {
    const usage = meta?.usage;
    if (!usage) return;
    const processor = processors.join(' -> ');
    const estimated = usage.estimated ? 'true' : 'false';
    this.tokens.inc({ processor, kind: 'prompt', estimated }, usage.prompt_tokens);
    this.tokens.inc({ processor, kind: 'completion', estimated }, usage.completion_tokens);
  }

  /** An item given up by its client ends without an event. */
  abandoned(processors: readonly string[], running: Set<number>, index: number): void {
    if (running.delete(index)) this.ended(processors);
  }

  /** A job that ended: whatever it still counted in flight is not any more. */
  jobEnded(processors: readonly string[], running: Set<number>): void {
    for (const _ of running) this.ended(processors);
    running.clear();
  }

  private started(processors: readonly string[]): void {
    this.inflight.set(++this.inflightItems);
    for (const p of processors) this.figures(p).inflight++;
  }

  private ended(processors: readonly string[]): void {
    this.inflight.set((this.inflightItems = Math.max(0, this.inflightItems - 1)));
    for (const p of processors) {
      const f = this.figures(p);
      f.inflight = Math.max(0, f.inflight - 1);
    }
  }
}
