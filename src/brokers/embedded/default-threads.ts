/** The pool's default size, apart from the broker so that `--help` can name it without loading piscina. */
import { availableParallelism } from 'node:os';

export const defaultThreads = (): number => Math.max(1, availableParallelism());
