/** The address serve advertises to remote processors for their callbacks. */
import { describe, expect, it } from 'vitest';
import { isLoopback, serverUrls } from '../../src/server/public-url.js';

describe('serverUrls', () => {
  it('advertises the bound address, the host name for a wildcard, and --public-url over both', () => {
    expect(serverUrls('127.0.0.2', 8000, 'box')).toEqual({ listening: 'http://127.0.0.2:8000', advertised: 'http://127.0.0.2:8000' });
    expect(serverUrls('0.0.0.0', 8000, 'box')).toEqual({ listening: 'http://0.0.0.0:8000', advertised: 'http://box:8000' });
    expect(serverUrls('::', 8000, 'box').listening).toBe('http://[::]:8000');
    expect(serverUrls('0.0.0.0', 8000, 'box', 'https://api.example/slow/')).toEqual({ listening: 'http://0.0.0.0:8000', advertised: 'https://api.example/slow' });
  });

  it('knows the whole loopback range', () => {
    for (const host of ['127.0.0.1', '127.0.0.2', '127.1.2.3', '::1', 'localhost']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'box']) expect(isLoopback(host), host).toBe(false);
  });
});
