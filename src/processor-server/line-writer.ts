import type { ServerResponse } from 'node:http';

/**
 * NDJSON lines onto a response: the lines of one tick go out in one write (cork until the next
 * tick), and a slow reader holds the processor back (write resolves on 'drain').
 */
export class LineWriter {
  private corked = false;

  constructor(private readonly res: ServerResponse) {}

  write(line: string): void | Promise<void> {
    const { res } = this;
    if (res.destroyed || res.writableEnded) return;
    if (!this.corked) {
      this.corked = true;
      res.cork();
      setImmediate(() => {
        this.corked = false;
        res.uncork();
      });
    }
    if (res.write(line)) return;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }

  end(): void {
    if (this.corked) {
      this.corked = false;
      this.res.uncork();
    }
    if (!this.res.writableEnded) this.res.end();
  }
}
