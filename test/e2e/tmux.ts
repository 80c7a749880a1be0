/**
 * A real terminal for end-to-end tests: tmux on its own socket (never the user's server), one
 * session per test, torn down by killing that socket's server.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export class TmuxSession {
  readonly socket = `sw-e2e-${process.pid}-${randomBytes(3).toString('hex')}`;

  constructor(
    readonly columns: number,
    readonly rows: number,
  ) {}

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' });
  }

  /** Starts `command` (a shell line) in a detached session of the given size; CI is unset so ink renders live. */
  start(command: string, cwd: string): void {
    this.tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'main', '-x', String(this.columns), '-y', String(this.rows), '-c', cwd, `env -u CI ${command}; echo "EXIT=$?"; sleep 600`);
  }

  /** The visible screen, one string per row. */
  screen(): string[] {
    return this.tmux('capture-pane', '-p', '-t', 'main').replace(/\n$/, '').split('\n');
  }

  /** Screen plus scrollback, wrapped lines joined. */
  history(): string[] {
    return this.tmux('capture-pane', '-p', '-J', '-S', '-', '-E', '-', '-t', 'main').split('\n');
  }

  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', 'main', ...keys);
  }

  resize(columns: number, rows: number): void {
    this.tmux('resize-window', '-t', 'main', '-x', String(columns), '-y', String(rows));
  }

  /** Polls the screen until `test` holds; throws with the last screen after `timeoutMs`. */
  async waitFor(test: (lines: string[]) => boolean, timeoutMs: number, what: string): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    let lines: string[] = [];
    while (Date.now() < deadline) {
      lines = this.screen();
      if (test(lines)) return lines;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}; screen was:\n${lines.join('\n')}`);
  }

  kill(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // already gone
    }
  }
}
