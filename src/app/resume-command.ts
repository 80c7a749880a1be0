/** Builds the command that continues an interrupted run: the same arguments plus --resume --out. */

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shellQuote(arg: string): string {
  return SAFE.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `args` are the submit command's own arguments (after `submit`). */
export function resumeCommand(args: readonly string[], outPath: string, opts: { retryFailed?: boolean } = {}): string {
  const kept: string[] = [];
  for (let k = 0; k < args.length; k++) {
    const a = args[k]!;
    if (a === '--resume' || a === '--retry-failed') continue;
    if (a === '--out' || a === '-o') {
      k++;
      continue;
    }
    if (a.startsWith('--out=')) continue;
    kept.push(a);
  }
  const tail = opts.retryFailed ? ['--resume', '--retry-failed', '--out', outPath] : ['--resume', '--out', outPath];
  return ['slowwork', 'submit', ...kept, ...tail].map(shellQuote).join(' ');
}
