import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode, ResultsError } from '../../src/core/errors.js';
import { lockResults, ResultsLock, type LockOwner } from '../../src/results/lock.js';
import { tempDir } from './helpers.js';

let dir: string;
let file: string;
const held: ResultsLock[] = [];

beforeEach(async () => {
  dir = await tempDir();
  file = path.join(dir, 'out.jsonl');
});

afterEach(async () => {
  for (const l of held.splice(0)) l.release();
  await fsp.rm(dir, { recursive: true, force: true });
});

function acquire(resultsPath = file, owner?: LockOwner): ResultsLock {
  const lock = ResultsLock.acquire(resultsPath, owner);
  held.push(lock);
  return lock;
}

/** The pid of a process that has run and ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

function refusal(fn: () => unknown): ResultsError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ResultsError);
    return err as ResultsError;
  }
  throw new Error('not refused');
}

const writeLock = (owner: object | string): void =>
  fs.writeFileSync(`${file}.lock`, typeof owner === 'string' ? owner : JSON.stringify(owner));

describe('ResultsLock', () => {
  it('FILE.lock names the owner (pid, host, start) until released', () => {
    const lock = acquire(path.join(dir, 'new', 'sub', 'out.jsonl'));
    expect(lock.path).toBe(path.join(dir, 'new', 'sub', 'out.jsonl.lock'));
    const owner = JSON.parse(fs.readFileSync(lock.path, 'utf8')) as LockOwner;
    expect(owner).toMatchObject({ pid: process.pid, host: os.hostname() });
    expect(Date.parse(owner.startedAt)).not.toBeNaN();
    lock.release();
    expect(fs.existsSync(lock.path)).toBe(false);
    lock.release(); // idempotent
    expect(fs.readdirSync(path.dirname(lock.path))).toEqual([]); // no temp files left
  });

  it('a second owner is refused in one line (exit 2) naming pid and host, and the lock stays', () => {
    const first = acquire();
    const before = fs.readFileSync(first.path, 'utf8');
    const err = refusal(() => acquire(file, { pid: process.pid, host: os.hostname(), startedAt: 'now' }));
    expect(err.exitCode).toBe(ExitCode.usage);
    expect(err.message).toContain(`pid ${process.pid} on host ${os.hostname()}`);
    expect(err.message).toMatch(/in use by another run/);
    expect(err.message).not.toContain('\n');
    expect(fs.readFileSync(first.path, 'utf8')).toBe(before);
  });

  it('takes over the stale lock of a dead process on this host', () => {
    const dead = deadPid();
    writeLock({ pid: dead, host: os.hostname(), startedAt: '2020-01-01T00:00:00.000Z' });
    const lock = acquire();
    expect(JSON.parse(fs.readFileSync(lock.path, 'utf8'))).toMatchObject({ pid: process.pid });
    expect(fs.readdirSync(dir).sort()).toEqual(['out.jsonl.lock']);
  });

  it('refuses a lock of another host (its pid cannot be checked) and says how to remove it', () => {
    writeLock({ pid: deadPid(), host: 'elsewhere.example', startedAt: '2020-01-01T00:00:00.000Z' });
    const err = refusal(() => acquire());
    expect(err.message).toContain('on host elsewhere.example');
    expect(err.message).toContain(`remove ${file}.lock`);
  });

  it('names its pid space; refuses a dead pid of this host name from another pid space (another machine or container)', () => {
    const own = JSON.parse(fs.readFileSync(acquire(path.join(dir, 'mine.jsonl')).path, 'utf8')) as LockOwner;
    if (process.platform === 'linux') expect(own.space).toMatch(/^[0-9a-f-]{36}\/\d+$/);
    writeLock({ pid: deadPid(), host: os.hostname(), space: 'another-boot/4026531836', startedAt: '2020-01-01T00:00:00.000Z' });
    const err = refusal(() => acquire());
    expect(err.message).toContain('another machine or container of the same host name');
    expect(err.message).toContain(`remove ${file}.lock`);
    // A lock written before locks named their pid space is judged by host alone, as it was.
    writeLock({ pid: deadPid(), host: os.hostname(), startedAt: '2020-01-01T00:00:00.000Z' });
    expect(JSON.parse(fs.readFileSync(acquire().path, 'utf8'))).toMatchObject({ pid: process.pid });
  });

  it('refuses an unreadable lock, naming it', () => {
    writeLock('not json');
    expect(refusal(() => acquire()).message).toContain(`${file}.lock`);
  });

  it('release leaves a lock that is no longer its own', () => {
    const lock = acquire();
    fs.unlinkSync(lock.path);
    writeLock({ pid: 1, host: 'other', startedAt: 'x' });
    lock.release();
    expect(fs.existsSync(lock.path)).toBe(true);
  });

  it('lockResults: no lock for a device or pipe (used as it is); a lock for a file, new or not', () => {
    expect(lockResults('/dev/null')).toBeNull();
    const lock = lockResults(file)!;
    held.push(lock);
    expect(fs.existsSync(`${file}.lock`)).toBe(true);
  });
});
