/**
 * One temporary folder for the whole test run: every test, and every process a test starts,
 * makes its temporary files under it (TMPDIR), and it is removed when the run ends. Tests still
 * remove what they make; what one left behind is named here, so a leak is seen and mended.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slowwork-test-run-'));
  process.env.TMPDIR = dir;
  return () => {
    const left = readdirSync(dir);
    if (left.length > 0) console.warn(`test run: ${left.length} temporary entries left behind (removed now): ${left.slice(0, 10).join(', ')}`);
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  };
}
