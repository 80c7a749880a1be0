/**
 * The quota's clock: ms on the process's monotonic clock (libuv's hrtime, CLOCK_MONOTONIC). Every
 * thread of a process reads the same one, unlike performance.now() (each thread has its own time
 * origin) and Date.now() (wall time, which steps), so a due time reckoned on the main thread means
 * the same moment on a worker thread.
 */
export function monotonicMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}
