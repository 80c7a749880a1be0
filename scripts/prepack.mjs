// `npm pack` builds dist/ first, which needs the dev dependencies (TypeScript): say so in one
// line instead of npm's "tsc: not found" when they are not installed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!existsSync('node_modules/typescript/bin/tsc')) {
  console.error('slowwork: npm pack builds dist/ first and needs the dev dependencies: run `npm ci` (or `make install-global`) first');
  process.exit(1);
}
const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
process.exit(build.status ?? 1);
