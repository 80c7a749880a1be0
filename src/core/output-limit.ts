/** The bound on one item's output (`--max-output-chars`), in UTF-16 code units as `string.length` counts. */

/** The default: 8 Mi characters, the size of the longest input line. */
export const DEFAULT_MAX_OUTPUT_CHARS = 8 * 1024 * 1024;

/** The longest string V8 can hold (2^29 - 24 on 64-bit): a larger bound could never be reached. */
export const MAX_OUTPUT_CHARS_LIMIT = 2 ** 29 - 24;

/** The bound a job runs with: its own, or the default when it names none; 0 means none. */
export const outputLimitOf = (spec: { readonly maxOutputChars?: number }): number => spec.maxOutputChars ?? DEFAULT_MAX_OUTPUT_CHARS;
