/** Pure mapping from one line of text to an item's input and optional id. No I/O here. */
import { extname } from 'node:path';
import type { ItemInput } from '../core/types.js';
import { InputError } from '../core/errors.js';

export type InputFormat = 'auto' | 'txt' | 'jsonl';
export type LineFormat = 'txt' | 'jsonl';

export interface ParsedLine {
  readonly input: ItemInput;
  /** Only when the line names one; otherwise the position becomes the id. */
  readonly id?: string;
}

/** The format of a named file: forced, or by extension (`.jsonl`/`.ndjson`, anything else is txt). */
export function formatForPath(path: string, format: InputFormat = 'auto'): LineFormat {
  if (format !== 'auto') return format;
  const ext = extname(path).toLowerCase();
  return ext === '.jsonl' || ext === '.ndjson' ? 'jsonl' : 'txt';
}

/** Stdin has no extension: it is JSONL when its first non-blank line is a JSON object. */
export function sniffFormat(firstNonBlankLine: string | undefined): LineFormat {
  if (firstNonBlankLine === undefined) return 'txt';
  try {
    return isObject(JSON.parse(firstNonBlankLine)) ? 'jsonl' : 'txt';
  } catch {
    return 'txt';
  }
}

/** Whitespace-only lines are skipped in every format. */
export function isBlank(text: string): boolean {
  return !/\S/.test(text);
}

export function parseLine(format: LineFormat, text: string, where: string): ParsedLine {
  return format === 'txt' ? { input: text } : parseJsonLine(text, where);
}

/** One JSONL line: an OpenAI batch-input request, a `{prompt}` object, or any other object. */
export function parseJsonLine(text: string, where: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(`invalid JSON: ${shortJsonMessage(err)}`, where);
  }
  if (!isObject(value)) throw new InputError(`expected a JSON object, got ${jsonType(value)}`, where);
  return parseInputObject(value);
}

/** An input object (a JSONL line, an HTTP action's item): its id, and what the processor gets. */
export function parseInputObject(value: Readonly<Record<string, unknown>>): ParsedLine {
  if (typeof value.custom_id === 'string' && isObject(value.body)) {
    return { id: value.custom_id, input: value.body };
  }
  const id = idOf(value.id);
  const input: ItemInput = typeof value.prompt === 'string' ? value.prompt : value;
  return id === undefined ? { input } : { id, input };
}

function idOf(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** V8 quotes the whole offending text in its message; keep one short line. */
function shortJsonMessage(err: unknown): string {
  const msg = (err instanceof Error ? err.message : String(err)).split('\n', 1)[0] ?? '';
  return msg.length > 120 ? `${msg.slice(0, 117)}...` : msg;
}
