/**
 * `--json`: every event as one NDJSON line (the event object as is, `type` first), then one
 * final `{"type":"summary",...}` line; and `{"type":"link",...}` when the broker's server becomes
 * unreachable (`status: "down"`, `since`) or reachable again (`status: "up"`). Nothing else is
 * written to the stream.
 */
import type { JobEvent } from '../core/events.js';
import { linkDownText, type LinkDown } from '../core/link.js';
import type { FinalSummary, Reporter } from './reporter.js';

export function createJsonReporter(out: NodeJS.WritableStream): Reporter {
  let finished = false;
  let link: LinkDown | null = null;
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
    setLink(down: LinkDown | null): void {
      if (finished) return;
      const was = link;
      link = down;
      if (down) {
        out.write(JSON.stringify({ type: 'link', service: down.service, status: 'down', since: new Date(down.since).toISOString(), message: linkDownText(down) }) + '\n');
      } else if (was) {
        out.write(JSON.stringify({ type: 'link', service: was.service, status: 'up', message: `${was.service} reachable again` }) + '\n');
      }
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
