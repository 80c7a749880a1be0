/**
 * A pool thread's side of the shared quota: the ledger lives on the main thread (the broker's
 * QuotaHost), and this thread talks to it over a MessagePort of its own. The port is made on the
 * thread's first `ctx.limit` and handed over on parentPort (piscina's worker reads parentPort only
 * for its start-up message, so the quota cannot use it both ways); threads that never limit
 * anything cost nothing.
 */
import { MessageChannel, parentPort } from 'node:worker_threads';
import type { QuotaReply } from '../../core/quota/ledger.js';
import type { QuotaPortMessage } from '../protocol.js';
import { QuotaClient } from './client.js';

let client: QuotaClient | null = null;

export function threadQuota(): QuotaClient {
  if (client) return client;
  const { port1, port2 } = new MessageChannel();
  parentPort!.postMessage({ swQuota: port2 } satisfies QuotaPortMessage, [port2]);
  const c = new QuotaClient((request) => port1.postMessage(request));
  port1.on('message', (reply: QuotaReply) => c.receive(reply));
  // Pending permits hold their own timers; the port alone must not keep the thread up.
  port1.unref();
  return (client = c);
}
