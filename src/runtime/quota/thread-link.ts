/**
 * A pool thread's side of the shared quota: the ledger lives on the main thread (the broker's
 * QuotaHost). Requests go on the thread's parentPort, the channel its item events take, so the
 * main thread reads them in the order they were made: an item's `learn` (a 429, the limits in its
 * headers) before the item's failure or result, and so before any item dispatched because of
 * it asks for a permit. Replies come back on a MessagePort the thread hands over with its first
 * request (piscina's worker reads parentPort only for its start-up message, so the main thread
 * cannot answer there). Threads that never limit anything cost nothing.
 */
import { MessageChannel, parentPort, threadId } from 'node:worker_threads';
import type { QuotaReply } from '../../core/quota/ledger.js';
import type { QuotaEnvelope, QuotaPortMessage } from '../protocol.js';
import { QuotaClient } from './client.js';

let client: QuotaClient | null = null;

export function threadQuota(): QuotaClient {
  if (client) return client;
  const { port1, port2 } = new MessageChannel();
  parentPort!.postMessage({ swQuota: port2, thread: threadId } satisfies QuotaPortMessage, [port2]);
  const c = new QuotaClient((request) => parentPort!.postMessage({ swq: threadId, r: request } satisfies QuotaEnvelope));
  port1.on('message', (reply: QuotaReply) => c.receive(reply));
  // Pending permits hold their own timers; the port alone must not keep the thread up.
  port1.unref();
  return (client = c);
}
