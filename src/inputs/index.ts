/** Input readers: -p prompts, .txt, .jsonl (plain, {prompt}, OpenAI batch-input) and stdin. */
export { prepareInputs, DEFAULT_CHUNK } from './prepare.js';
export type { InputArgs, PreparedInputs } from './prepare.js';
export type { InputFormat } from './formats.js';
export { MAX_LINE_BYTES } from './lines.js';
