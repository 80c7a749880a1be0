/**
 * Copies a read-once stream (stdin, a pipe like `<(cmd)`) to a private temp file, so inputs can
 * be read twice: once to validate, once to run. Streamed to disk, never held in memory.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { InputError, describeError } from '../core/errors.js';
import { readError } from './lines.js';

export class Spool {
  private dir: string | undefined;
  private count = 0;

  constructor(private readonly tmpDir: string = tmpdir()) {}

  /** Drains `stream` into a new spool file and returns its path. */
  async save(stream: NodeJS.ReadableStream, label: string): Promise<string> {
    // mkdtemp makes the directory 0700: prompts may be private.
    try {
      this.dir ??= await mkdtemp(join(this.tmpDir, 'slowwork-spool-'));
    } catch (err) {
      throw new InputError(`cannot spool to ${this.tmpDir}: ${describeError(err)}`, label);
    }
    const path = join(this.dir, `input-${++this.count}`);
    try {
      await pipeline(stream, createWriteStream(path));
    } catch (err) {
      throw readError(err, label);
    }
    return path;
  }

  /** Copies a non-regular file (FIFO, character device) the same way. */
  saveFile(path: string, label: string): Promise<string> {
    return this.save(createReadStream(path), label);
  }

  async cleanup(): Promise<void> {
    const dir = this.dir;
    this.dir = undefined;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}
