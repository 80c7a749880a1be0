/**
 * A server-sent events stream over a raw response: events are written as they come (no
 * polling, no buffering proxies: `X-Accel-Buffering: no`), a comment every 15 s keeps idle
 * connections open through proxies, and `onClose` says when the client went away first.
 */
import type { FastifyReply } from 'fastify';

const KEEPALIVE_MS = 15_000;

export interface SseEvent {
  readonly data: string;
  readonly event?: string;
  readonly id?: string | number;
}

export class SseStream {
  private ended = false;
  private readonly keepalive: NodeJS.Timeout;
  private readonly closeHandlers: (() => void)[] = [];

  constructor(
    private readonly reply: FastifyReply,
    extraHeaders: Record<string, string> = {},
  ) {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...extraHeaders,
    });
    raw.flushHeaders();
    // Small writes go out at once: the point of a stream is each piece's latency.
    raw.socket?.setNoDelay(true);
    this.keepalive = setInterval(() => this.write(': keepalive\n\n'), KEEPALIVE_MS);
    this.keepalive.unref();
    raw.on('close', () => {
      clearInterval(this.keepalive);
      const early = !this.ended;
      this.ended = true;
      if (early) for (const h of this.closeHandlers) h();
    });
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Called once if the client disconnects before `end()`. */
  onClose(handler: () => void): void {
    this.closeHandlers.push(handler);
  }

  send(e: SseEvent): void {
    let frame = '';
    if (e.id !== undefined) frame += `id: ${e.id}\n`;
    if (e.event !== undefined) frame += `event: ${e.event}\n`;
    // A data field cannot hold a newline: one `data:` line per line of the payload.
    frame += e.data.includes('\n') ? e.data.split('\n').map((l) => `data: ${l}\n`).join('') : `data: ${e.data}\n`;
    this.write(`${frame}\n`);
  }

  /** Sends `data: <json>`. */
  json(value: unknown, event?: Omit<SseEvent, 'data'>): void {
    this.send({ ...event, data: JSON.stringify(value) });
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.keepalive);
    this.reply.raw.end();
  }

  private write(text: string): void {
    if (this.ended) return;
    this.reply.raw.write(text);
  }
}
