/**
 * `--json`: every event as one NDJSON line (the event object as is, `type` first), then one
 * final `{"type":"summary",...}` line. Nothing else is written to the stream.
 */
import type { JobEvent } from '../core/events.js';
import type { FinalSummary, Reporter } from './reporter.js';

export function createJsonReporter(out: NodeJS.WritableStream): Reporter {
  let finished = false;
  return {
    start(): void {
      // Nothing: the stream carries events and the summary only.
    },
    onEvents(events: readonly JobEvent[]): void {
      if (finished || events.length === 0) return;
      // One write per batch: the events of a tick arrive together.
      let text = '';
      for (const ev of events) text += JSON.stringify(ev) + '\n';
      out.write(text);
    },
    setPhase(): void {
      // Phases are not events; scripts see job-done / job-cancelled.
    },
    finish(summary: FinalSummary): Promise<void> {
      if (finished) return Promise.resolve();
      finished = true;
      const line = JSON.stringify({ type: 'summary', ...summary }) + '\n';
      return new Promise<void>((resolve) => {
        out.write(line, () => resolve());
      });
    },
  };
}
