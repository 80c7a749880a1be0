/**
 * Reads a JSONL file line by line as a stream, so a results file far larger than memory (long
 * outputs) can be scanned. Shared by the resume ledger and the compaction.
 */
import fs from 'node:fs';

const NEWLINE = 0x0a;
const READ_CHUNK = 1024 * 1024;

/**
 * Calls `onLine` with each complete line (without its newline; the buffer is only valid during
 * the call). Returns whether the file ends with a partial line that is not blank: a crash cut it
 * mid-write, so it is not a record even if it parses. ENOENT and other errors are thrown as is.
 */
export async function forEachLine(filePath: string, onLine: (line: Buffer) => void): Promise<{ partialTail: boolean }> {
  const stream = fs.createReadStream(filePath, { highWaterMark: READ_CHUNK });
  try {
    // Pieces of a line that started in an earlier chunk (long outputs can span many chunks).
    let carry: Buffer[] = [];
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let from = 0;
      let nl = chunk.indexOf(NEWLINE);
      if (carry.length > 0 && nl >= 0) {
        carry.push(chunk.subarray(0, nl));
        onLine(Buffer.concat(carry));
        carry = [];
        from = nl + 1;
        nl = chunk.indexOf(NEWLINE, from);
      }
      while (nl >= 0) {
        onLine(chunk.subarray(from, nl));
        from = nl + 1;
        nl = chunk.indexOf(NEWLINE, from);
      }
      if (from < chunk.length) carry.push(chunk.subarray(from));
    }
    return { partialTail: carry.length > 0 && Buffer.concat(carry).toString('utf8').trim() !== '' };
  } finally {
    stream.destroy();
  }
}

/** What the ledger and the compaction need of one results line. */
export interface RecordLine {
  readonly id: string;
  readonly status: 'done' | 'failed';
  readonly input: unknown;
}

/** A results line's id, status and input, or null if it is not a record (garbage, cut, no id/status). */
export function parseRecordLine(line: string): RecordLine | null {
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return null;
  const { id, status, input } = rec as { id?: unknown; status?: unknown; input?: unknown };
  if (typeof id !== 'string' || (status !== 'done' && status !== 'failed') || input === undefined) return null;
  return { id, status, input };
}
