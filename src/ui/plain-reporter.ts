/**
 * The reporter for pipes, CI logs and `--no-tui`: plain prefixed lines, no escape codes at all
 * (every piece of user or model text goes through sanitizeForLine, which removes ESC).
 *
 *   start  job 7f3a: demo on embedded: 2 threads, concurrency 8, 100 items, results -> out.jsonl
 *   done   [id] 1.2s 53 chunks: preview…
 *   retry  [id] attempt 1 failed: error (next attempt in 2.0s)
 *   failed [id] after 3 attempts: error
 *   progress 40/100 done, 2 failed, 8 in flight, 12.3 items/s, ETA 5s
 *   phase  draining: finishing 8 in-flight items; Ctrl+C again to abort
 *   redis  unreachable since 12:03:11, retrying      (and on every progress line until it is back)
 *   redis  reachable again after 41.0s
 *   finished: 98 done, 2 failed of 100 in 4m05s
 *   results: out.jsonl
 *   resume:  slowwork submit prompts.txt --resume
 */
import type { JobEvent } from '../core/events.js';
import { formatCompact, formatCount, formatDuration, formatEta } from '../core/format.js';
import { JobState, errorLine, type FinishedLine } from '../core/job-state.js';
import { linkDownDetail, linkDownText, type LinkDown } from '../core/link.js';
import { sanitizeForLine } from '../core/code-points.js';
import { plural, summaryLines } from './summary.js';
import type { FinalSummary, Phase, Reporter, RunInfo } from './reporter.js';

export interface PlainReporterOptions {
  /** How often a progress line is printed; 0 disables it. Default 5000. */
  readonly progressEveryMs?: number;
  /** Clock, for tests. Default Date.now. */
  readonly now?: () => number;
}

export function createPlainReporter(out: NodeJS.WritableStream, opts: PlainReporterOptions = {}): Reporter {
  const now = opts.now ?? Date.now;
  const every = opts.progressEveryMs ?? 5000;
  let info: RunInfo | null = null;
  let state: JobState | null = null;
  let timer: NodeJS.Timeout | null = null;
  let phase: Phase = 'running';
  let finished = false;
  let link: LinkDown | null = null;

  const write = (text: string): void => {
    out.write(text);
  };
  const getState = (): JobState => (state ??= new JobState({ startedAt: now() }));

  const progressLine = (): string => {
    const s = getState().snapshot(now());
    const parts = [
      `${formatCount(s.done)}/${s.total === null ? '?' : formatCount(s.total)} done`,
      `${formatCount(s.failed)} failed`,
      `${formatCount(s.inFlight)} in flight`,
    ];
    if (s.retrying > 0) parts.push(`${formatCount(s.retrying)} retrying`);
    parts.push(`${formatCompact(s.itemsPerSec)} items/s`);
    if (s.etaMs !== null && s.ended === null) parts.push(`ETA ${formatEta(s.etaMs)}`);
    const down = link ? `; ${linkDownText(link)}` : '';
    return `progress ${parts.join(', ')}${down}\n`;
  };

  return {
    start(runInfo: RunInfo): void {
      info = runInfo;
      state ??= new JobState({ total: runInfo.total, skipped: runInfo.skipped, startedAt: runInfo.startedAt ?? now(), pricer: runInfo.pricer });
      const items = runInfo.total === null ? 'items' : plural(runInfo.total, 'item');
      const skipped = runInfo.skipped > 0 ? ` (${formatCount(runInfo.skipped)} skipped, done before)` : '';
      write(
        `start  job ${clean(runInfo.jobId)}: ${clean(runInfo.processors.join(' -> '))} on ${clean(runInfo.broker)}, ` +
          `concurrency ${runInfo.concurrency}, ${items}${skipped}, results -> ${clean(runInfo.outPath)}\n`,
      );
      if (every > 0 && timer === null) {
        timer = setInterval(() => write(progressLine()), every);
        timer.unref();
      }
    },

    onEvents(events: readonly JobEvent[], at?: number): void {
      if (finished) return;
      const st = getState();
      st.apply(events, at ?? now());
      let hasLines = false;
      for (const ev of events) {
        if (ev.type === 'item-done' || ev.type === 'item-failed' || ev.type === 'item-retry') {
          hasLines = true;
          break;
        }
      }
      if (!hasLines) return;
      // FinishedLines come out in the order of the done/failed events of this batch.
      const lines = st.takeFinished();
      let k = 0;
      let text = '';
      for (const ev of events) {
        if (ev.type === 'item-retry') {
          const lost = ev.charged ? 'failed' : 'was lost (not counted)';
          const next = ev.delayMs > 0 ? ` (next attempt in ${formatDuration(ev.delayMs)})` : '';
          text += `retry  [${clean(ev.id)}] attempt ${ev.attempt} ${lost}: ${errorLine(ev.error)}${next}\n`;
        } else if (ev.type === 'item-done' || ev.type === 'item-failed') {
          let line = lines[k];
          if (line !== undefined && line.index === ev.index) k++;
          else line = undefined;
          text += finishedText(ev, line);
        }
      }
      write(text);
    },

    setPhase(next: Phase): void {
      if (next === phase) return;
      phase = next;
      const n = state?.snapshot(now()).inFlight ?? 0;
      if (next === 'draining') write(`phase  draining: finishing ${plural(n, 'in-flight item')}; Ctrl+C again to abort\n`);
      else if (next === 'aborting') write(`phase  aborting: stopping ${plural(n, 'in-flight item')}; finished results are kept\n`);
      else if (next === 'running') write('phase  running\n');
    },

    setLink(down: LinkDown | null): void {
      if (finished) return;
      const was = link;
      link = down;
      if (down) write(`${label(down.service)}${linkDownDetail(down)}\n`);
      else if (was) write(`${label(was.service)}reachable again after ${formatDuration(now() - was.since)}\n`);
    },

    finish(summary: FinalSummary): Promise<void> {
      if (timer !== null) {
        clearInterval(timer);
        timer = null;
      }
      if (finished) return Promise.resolve();
      finished = true;
      phase = 'finished';
      const text = summaryLines(summary, info?.skipped ?? 0).join('\n') + '\n';
      return new Promise<void>((resolve) => {
        // Resolve once the stream took the last line (a pipe may be slower than us).
        out.write(text, () => resolve());
      });
    },
  };
}

function finishedText(
  ev: Extract<JobEvent, { type: 'item-done' | 'item-failed' }>,
  line: FinishedLine | undefined,
): string {
  if (ev.type === 'item-failed') {
    return `failed [${clean(ev.id)}] after ${plural(ev.attempts, 'attempt')}: ${line?.error ?? errorLine(ev.error)}\n`;
  }
  const chunks = line ? ` ${plural(line.chunks, 'chunk')}` : '';
  const retried = ev.attempt > 1 ? ` (attempt ${ev.attempt})` : '';
  const preview = line?.preview ? `: ${line.preview}` : '';
  return `done   [${clean(ev.id)}] ${formatDuration(ev.durations.totalMs)}${chunks}${retried}${preview}\n`;
}

/** `redis  `: a line's lead word, padded like `start  ` and `phase  `. */
function label(word: string): string {
  return `${word.padEnd(6)} `;
}

function clean(text: string): string {
  return sanitizeForLine(text);
}
