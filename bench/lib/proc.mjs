// Reading a process's CPU and memory from /proc, the same way in every benchmark.
import { existsSync, readFileSync } from 'node:fs';

/**
 * utime + stime in clock ticks from a stat file (`/proc/PID/stat`, or a thread's
 * `/proc/PID/task/TID/stat`); null once it is gone. The comm field may hold spaces: split after ')'.
 */
export function statTicks(path) {
  try {
    const s = readFileSync(path, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // fields 14 and 15 of the full line
  } catch {
    return null;
  }
}

/** Resident memory in bytes (VmRSS); null once the process is gone. */
export function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** The process exists and is not a zombie. */
export function isAlive(pid) {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * The slowwork process a tmux pane's shell started (its child whose command line names
 * slowwork.js), given the file the shell wrote its pid to; waits up to about 10 s. Null if none.
 */
export async function paneSlowworkPid(pidFile) {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  for (let i = 0; i < 100 && !existsSync(pidFile); i++) await sleep(50);
  if (!existsSync(pidFile)) return null;
  const sh = Number(readFileSync(pidFile, 'utf8').trim());
  for (let i = 0; i < 100; i++) {
    try {
      const kids = readFileSync(`/proc/${sh}/task/${sh}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      for (const k of kids) if (readFileSync(`/proc/${k}/cmdline`, 'utf8').includes('slowwork.js')) return k;
    } catch {
      // not yet
    }
    await sleep(50);
  }
  return null;
}
