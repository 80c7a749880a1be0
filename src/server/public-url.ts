/**
 * Where `slowwork serve` says it listens, and the address it gives remote processors to call
 * back (`{url}/complete`). A server bound to a wildcard address (0.0.0.0, ::) cannot know which
 * of the machine's addresses a processor on another machine reaches: it guesses the host name,
 * and `--public-url` says it for sure (a proxy, NAT, a DNS name). Pure.
 */

const WILDCARDS = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0']);

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine reaches. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export const isWildcard = (host: string): boolean => WILDCARDS.has(host);

const urlOf = (host: string, port: number): string => `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

export interface ServerUrls {
  /** The address it is bound to, as given (0.0.0.0 stays 0.0.0.0). */
  readonly listening: string;
  /** Where remote processors reach it: `publicUrl`, else the bound address, else (wildcard) the host name. */
  readonly advertised: string;
}

export function serverUrls(host: string, port: number, hostname: string, publicUrl?: string): ServerUrls {
  const listening = urlOf(host, port);
  if (publicUrl !== undefined) return { listening, advertised: publicUrl.replace(/\/+$/, '') };
  return { listening, advertised: isWildcard(host) ? urlOf(hostname, port) : listening };
}
