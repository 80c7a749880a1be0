#!/usr/bin/env node
// `slowwork --version` answers here, without loading the CLI: it is what scripts call most often.
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const { readFileSync } = await import('node:fs');
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
} else {
  // React's development build costs ~27% more CPU in the live view: pick production before it loads.
  process.env.NODE_ENV ??= 'production';
  // A submit's worker threads take longer to come up than the rest of slowwork takes to load:
  // start them first, on a guess from the raw arguments that the parsed options confirm.
  if (args[0] === 'submit') (await import('../dist/slowwork-early.js')).startSpeculativePool(args.slice(1));
  await import('../dist/slowwork.js');
}
