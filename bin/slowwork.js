#!/usr/bin/env node
// `slowwork --version` answers here, without loading the CLI: it is what scripts call most often.
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const { readFileSync } = await import('node:fs');
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
} else {
  // React's development build costs ~27% more CPU in the live view: pick production before it loads.
  process.env.NODE_ENV ??= 'production';
  await import('../dist/cli/main.js');
}
