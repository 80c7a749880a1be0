/**
 * The state of the link to a broker's server (Redis), as the views show it: a job cannot move
 * while it is down, and a silent progress line would say `0 items/s` with no reason given.
 */

/** The link is down: since when (epoch ms), to what (`redis`). Null while it is up. */
export interface LinkDown {
  /** What is unreachable, as named to the user: `redis`. */
  readonly service: string;
  /** When the link went down (epoch ms). */
  readonly since: number;
}

/** "12:03:11": a wall-clock time of day, local, as a user compares it with their own clock. */
export function formatClock(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** `redis unreachable since 12:03:11, retrying`: the words every view uses. */
export function linkDownText(down: LinkDown): string {
  return `${down.service} ${linkDownDetail(down)}`;
}

/** `unreachable since 12:03:11, retrying`, for a line that names the service already. */
export function linkDownDetail(down: LinkDown): string {
  return `unreachable since ${formatClock(down.since)}, retrying`;
}
