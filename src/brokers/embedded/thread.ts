/**
 * The piscina task: runs one batch in this worker thread and streams its events back on the
 * thread's parentPort, tagged with the batch id. It also makes a dying thread say which item
 * killed it: `process.exit` and uncaught errors are intercepted, reported for every batch
 * running here, and then the thread exits as it would have. (Node delivers a thread's messages
 * before its 'exit' event, so the report always arrives before the pool rejects the tasks.)
 * The culprit is the item whose code the runner is calling right now (the batch probes), or else
 * the item whose asynchronous code this is (its scope, in a scoped batch).
 */
// workerData from node:worker_threads (piscina passes ours through as it is): importing piscina's
// main module here would load all of it into every thread, a fifth of a thread's start.
import { BroadcastChannel, parentPort, threadId, workerData } from 'node:worker_threads';
import { describeError } from '../../core/errors.js';
import { Outbox } from '../../runtime/outbox.js';
import { threadQuota } from '../../runtime/quota/thread-link.js';
import { AbortedByUser, ItemControl, PipelineCache, itemScope, runBatch } from '../../runtime/item-runner.js';
import {
  PROBE_BUSY,
  PROBE_THREAD,
  type BatchEnvelope,
  type BatchTask,
  type ClosedMessage,
  type ControlMessage,
  type LoadedMessage,
  type ThreadData,
  type ThreadMessage,
} from '../../runtime/protocol.js';
import { preloadProcessor } from '../../processors/registry.js';

const pipelines = new PipelineCache();
/** Batches running here; `aborted` keeps an abort that came while the pipeline was loading. */
const active = new Map<number, { outbox: Outbox; controls: Map<number, ItemControl>; aborted: string | null; probe: Int32Array | undefined }>();
const realExit = process.exit.bind(process);
let dying = false;

const post = (batchId: number, messages: ThreadMessage[]): void => {
  parentPort!.postMessage({ sw: batchId, m: messages } satisfies BatchEnvelope);
};

function die(err: string, code: number): never {
  if (!dying) {
    dying = true;
    const culprit = callingInto() ?? inScopeOf();
    for (const [batchId, { outbox }] of active) {
      outbox.flush();
      post(batchId, [{ t: 'fatal', culprit, err }]);
    }
  }
  return realExit(code);
}

/** The item whose processor code the runner is calling synchronously, if any. */
function callingInto(): { batchId: number; i: number } | null {
  for (const [batchId, { probe }] of active) {
    const busy = probe ? Atomics.load(probe, PROBE_BUSY) : 0;
    if (busy > 0) return { batchId, i: busy - 1 };
  }
  return null;
}

/**
 * The item whose asynchronous code is running, if its batch is scoped and still here. (A stray
 * timer of a batch that has returned names no one: blaming it would charge nobody, every time.)
 */
function inScopeOf(): { batchId: number; i: number } | null {
  const scope = itemScope.getStore();
  return scope && scope.i >= 0 && active.has(scope.batchId) ? { batchId: scope.batchId, i: scope.i } : null;
}

process.exit = ((code?: number | string | null) => die(`processor called process.exit(${code ?? ''})`, Number(code) || 1)) as typeof process.exit;
process.on('uncaughtException', (err) => die(`uncaught error: ${describeError(err)}`, 1));
process.on('unhandledRejection', (err) => die(`unhandled rejection: ${describeError(err)}`, 1));

/** Control messages (abort, close) reach every thread; each acts on the batches it runs. */
function listen(name: string): void {
  const channel = new BroadcastChannel(name);
  channel.unref();
  channel.onmessage = (event) => {
    const m = (event as { data: ControlMessage }).data;
    if (m.t === 'close') {
      void pipelines.closeAll().finally(() => parentPort!.postMessage({ swClosed: threadId } satisfies ClosedMessage));
      return;
    }
    for (const batchId of m.batchIds) {
      const entry = active.get(batchId);
      if (!entry) continue;
      if (m.i === undefined) entry.aborted = m.reason;
      const controls = entry.controls;
      const targets = m.i === undefined ? [...controls.values()] : [controls.get(m.i)];
      for (const c of targets) c?.abort(new AbortedByUser(m.reason));
    }
  };
}

const data = workerData as ThreadData;
listen(data.control);
// Import the pipeline's modules now, while the main thread still checks the inputs: the first
// batch then finds them loaded. A module that fails to load fails that batch, as before.
void Promise.all((data.preload ?? []).map(preloadProcessor)).then(() => parentPort!.postMessage({ swLoaded: threadId } satisfies LoadedMessage));

export default async function runTask(task: BatchTask): Promise<number> {
  const outbox = new Outbox((messages) => post(task.batchId, messages));
  const controls = new Map<number, ItemControl>();
  const entry = { outbox, controls, aborted: null as string | null, probe: task.probe };
  active.set(task.batchId, entry);
  outbox.push({ t: 'begin', thread: threadId });
  if (task.probe) Atomics.store(task.probe, PROBE_THREAD, threadId);
  try {
    let pipeline;
    try {
      pipeline = await pipelines.get(task.processors, task.params);
    } catch (err) {
      for (const item of task.items) outbox.push({ t: 'error', i: item.i, a: item.a, err: describeError(err), aborted: false });
      return 0;
    }
    if (entry.aborted !== null) {
      for (const item of task.items) outbox.push({ t: 'error', i: item.i, a: item.a, err: entry.aborted, aborted: true });
      return 0;
    }
    await runBatch({ batchId: task.batchId, params: task.params, timeoutMs: task.timeoutMs, maxOutputChars: task.maxOutputChars, items: task.items, outbox, probe: task.probe, scoped: task.scoped, quota: threadQuota }, pipeline, controls);
    return task.items.length;
  } finally {
    outbox.flush();
    active.delete(task.batchId);
  }
}
