import { describe, expect, it } from 'vitest';
import { resumeCommand, shellQuote } from '../../src/app/resume-command.js';

describe('resumeCommand', () => {
  it('keeps the arguments, replaces --out and adds --resume', () => {
    expect(resumeCommand(['prompts.txt', '-c', '8', '--out', 'old.jsonl'], 'r.jsonl')).toBe('slowwork submit prompts.txt -c 8 --resume --out r.jsonl');
    expect(resumeCommand(['a.txt', '--out=x.jsonl', '--resume'], 'x.jsonl')).toBe('slowwork submit a.txt --resume --out x.jsonl');
    expect(resumeCommand(['a.txt', '-o', 'x.jsonl'], 'x.jsonl')).toBe('slowwork submit a.txt --resume --out x.jsonl');
  });

  it('adds --retry-failed once when asked', () => {
    const cmd = resumeCommand(['a.txt', '--resume', '--retry-failed', '--out', 'x.jsonl'], 'x.jsonl', { retryFailed: true });
    expect(cmd).toBe('slowwork submit a.txt --resume --retry-failed --out x.jsonl');
    expect(cmd.match(/--retry-failed/g)).toHaveLength(1);
  });

  it('quotes what the shell would split or expand', () => {
    expect(resumeCommand(['-p', "it's a test", 'my file.txt'], 'out dir/r.jsonl')).toBe(
      `slowwork submit -p 'it'\\''s a test' 'my file.txt' --resume --out 'out dir/r.jsonl'`,
    );
    expect(shellQuote('$HOME')).toBe("'$HOME'");
    expect(shellQuote('plain-arg_1.txt')).toBe('plain-arg_1.txt');
  });
});
