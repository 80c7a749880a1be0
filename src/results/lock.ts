/**
 * One run at a time per results file: `FILE.lock` beside it holds `{pid, host, space, startedAt}`
 * of the run that owns FILE. Two runs appending to one file would interleave and cut each other's
 * lines and run items twice; the second run is refused instead, naming the owner.
 *
 * - Taking the lock is atomic: the owner's JSON is written to a private temp file, then linked
 *   to `FILE.lock` (link fails with EEXIST if it exists), so the lock is never seen half written.
 * - A lock left by a dead process (`kill -9`, a crash) is taken over when it names this host and
 *   its pid no longer runs. A lock of another host cannot be checked: refused, with how to remove it.
 *   Host names are not unique (containers, cloned VMs, `localhost` on a shared disk), so a lock
 *   also names its pid space: the kernel's boot id and pid namespace, on Linux. A lock of this
 *   host name from another pid space is another machine's: refused too.
 * - `release()` removes the lock only while it is still ours; a process `exit` releases it too,
 *   so every `process.exit` path lets go. Only SIGKILL and power loss leave a stale lock.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ResultsError } from '../core/errors.js';
import { errnoCode, resultsFsError } from './fs-errors.js';

export interface LockOwner {
  readonly pid: number;
  readonly host: string;
  /** Where `pid` means something: `<boot id>/<pid namespace>` (Linux); absent where unknown. */
  readonly space?: string;
  readonly startedAt: string;
}

/** How often a takeover that raced with another run looks again before giving up. */
const TAKEOVER_TRIES = 5;

export class ResultsLock {
  /** `FILE.lock`. */
  readonly path: string;
  readonly #content: string;
  #held = true;

  private constructor(lockPath: string, content: string) {
    this.path = lockPath;
    this.#content = content;
    process.on('exit', this.release);
  }

  /**
   * Takes the lock of `resultsPath` (creating its parent directories), or throws a one-line
   * ResultsError (exit 2) naming the run that holds it. `owner` is for tests.
   */
  static acquire(resultsPath: string, owner: LockOwner = currentOwner()): ResultsLock {
    const lockPath = `${resultsPath}.lock`;
    const content = `${JSON.stringify(owner)}\n`;
    try {
      fs.mkdirSync(path.dirname(lockPath), { recursive: true });
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw resultsFsError('write results to', resultsPath, err);
    }
    for (let tries = 0; tries < TAKEOVER_TRIES; tries++) {
      try {
        if (tryCreate(lockPath, content)) return new ResultsLock(lockPath, content);
        const held = readLock(lockPath);
        if (held === null) continue; // released meanwhile: try again
        const refusal = inUse(resultsPath, held, owner);
        if (refusal !== null) throw refusal;
        removeStale(lockPath, held);
      } catch (err) {
        throw resultsFsError('write results to', resultsPath, err);
      }
    }
    throw new ResultsError(`${resultsPath} is being locked by other runs at the same time; try again`);
  }

  /** Removes the lock if it is still ours. Idempotent; never throws (it runs on `exit`). */
  readonly release = (): void => {
    if (!this.#held) return;
    this.#held = false;
    process.off('exit', this.release);
    try {
      if (readLock(this.path) === this.#content) fs.unlinkSync(this.path);
    } catch {
      // Already gone, or the directory went away: nothing is locked either way.
    }
  };
}

/**
 * Throws the refusal `acquire` would, without taking the lock: a quick check before slow work
 * (reading the inputs) that creates nothing.
 */
export function refuseIfInUse(resultsPath: string): void {
  let held: string | null;
  try {
    held = readLock(`${resultsPath}.lock`);
  } catch {
    return; // unreadable here: `acquire` reports it
  }
  const refusal = held === null ? null : inUse(resultsPath, held, currentOwner());
  if (refusal !== null) throw refusal;
}

/**
 * The lock of a results path, or null when the path is not a file that runs could share: an
 * existing directory, device or pipe (`--out /dev/stdout`), which is used as it is.
 */
export function lockResults(resultsPath: string): ResultsLock | null {
  try {
    if (!fs.statSync(resultsPath).isFile()) return null;
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw resultsFsError('write results to', resultsPath, err);
  }
  return ResultsLock.acquire(resultsPath);
}

/** This process, as the owner of a lock. */
export function currentOwner(): LockOwner {
  const space = pidSpace();
  return { pid: process.pid, host: os.hostname(), ...(space === undefined ? {} : { space }), startedAt: new Date().toISOString() };
}

let ownSpace: string | null | undefined;
/** This process's pid space: the boot id and the pid namespace (Linux), undefined elsewhere. */
function pidSpace(): string | undefined {
  if (ownSpace === undefined) {
    try {
      const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      const ns = fs.readlinkSync('/proc/self/ns/pid'); // "pid:[4026531836]"
      ownSpace = `${boot}/${ns.replace(/^pid:\[(\d+)\]$/, '$1')}`;
    } catch {
      ownSpace = null;
    }
  }
  return ownSpace ?? undefined;
}

/** Creates the lock with `content`; false if a lock exists. */
function tryCreate(lockPath: string, content: string): boolean {
  const temp = `${lockPath}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    fs.writeFileSync(temp, content, { flag: 'wx' });
    try {
      fs.linkSync(temp, lockPath);
    } catch (err) {
      // A file system without hard links: an exclusive create (seen empty for a moment).
      if (errnoCode(err) !== 'EPERM' && errnoCode(err) !== 'ENOTSUP' && errnoCode(err) !== 'EOPNOTSUPP') throw err;
      fs.writeFileSync(lockPath, content, { flag: 'wx' });
    }
    return true;
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false;
    throw err;
  } finally {
    try {
      fs.unlinkSync(temp);
    } catch {
      // Never created.
    }
  }
}

/** The lock file's text, or null if there is none. */
function readLock(lockPath: string): string | null {
  try {
    return fs.readFileSync(lockPath, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
}

function parseOwner(text: string): LockOwner | null {
  try {
    const o = JSON.parse(text) as Partial<LockOwner> | null;
    if (typeof o?.pid === 'number' && typeof o.host === 'string') {
      const space = typeof o.space === 'string' ? { space: o.space } : {};
      return { pid: o.pid, host: o.host, ...space, startedAt: typeof o.startedAt === 'string' ? o.startedAt : '?' };
    }
  } catch {
    // Not ours: shown as unreadable.
  }
  return null;
}

/** True unless signal 0 says no such process (EPERM: it runs, as another user). */
function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) !== 'ESRCH';
  }
}

/**
 * Removes a stale lock whose text is `stale`. It is first renamed to a name of our own, an
 * atomic step only one run wins; if what we renamed is not the stale lock (another run took it
 * over just before us), it is put back.
 */
function removeStale(lockPath: string, stale: string): void {
  const aside = `${lockPath}.${process.pid}.stale`;
  try {
    fs.renameSync(lockPath, aside);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  try {
    if (readLock(aside) !== stale) {
      try {
        fs.linkSync(aside, lockPath);
      } catch {
        // A third run locked it meanwhile: it holds it now.
      }
    }
  } finally {
    fs.unlinkSync(aside);
  }
}

/** Whether `owner`'s pid can be checked from here: this host, and the same pid space when both name one. */
const checkableFrom = (owner: LockOwner, me: LockOwner): boolean =>
  owner.host === me.host && (owner.space === undefined || me.space === undefined || owner.space === me.space);

/** The refusal for a lock whose text is `held`, or null if it is stale (a dead pid of this machine). */
function inUse(resultsPath: string, held: string, me: LockOwner): ResultsError | null {
  const found = parseOwner(held);
  if (found !== null && checkableFrom(found, me) && !isAlive(found.pid)) return null;
  return new ResultsError(inUseMessage(resultsPath, `${resultsPath}.lock`, found, me));
}

function inUseMessage(resultsPath: string, lockPath: string, owner: LockOwner | null, me: LockOwner): string {
  if (owner === null) {
    return `${resultsPath} is locked by ${lockPath}, which is unreadable: remove it if no run uses ${resultsPath}`;
  }
  const who = `pid ${owner.pid} on host ${owner.host}, since ${owner.startedAt}`;
  if (checkableFrom(owner, me)) return `${resultsPath} is in use by another run (${who}): wait for it to end, or choose another --out`;
  const where = owner.host === me.host ? 'another machine or container of the same host name' : 'another host';
  return `${resultsPath} is in use by a run on ${where} (${who}): wait for it to end; if it no longer runs, remove ${lockPath}`;
}
