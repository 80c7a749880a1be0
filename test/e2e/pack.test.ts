/**
 * The published package: `npm pack`, `npm install -g` of the tarball into a temporary prefix,
 * then a real run of the installed `slowwork` binary (test/e2e/pack-check.sh does the work).
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('npm package', () => {
  it('installs globally from its tarball and runs', async () => {
    const script = resolve(import.meta.dirname, 'pack-check.sh');
    const { stdout } = await run('bash', [script], { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 });
    expect(stdout).toMatch(/pack-check: OK: slowwork-[\d.]+\.tgz installs globally and runs/);
  }, 300_000);
});
