/** Streams items out of resolved sources in batches, numbering them across all inputs. */
import type { ItemInput, ItemSpec } from '../core/types.js';
import { InputError } from '../core/errors.js';
import { isBlank, parseLine } from './formats.js';
import { readLineBatches } from './lines.js';
import type { Source } from './sources.js';

/** An item before numbering: `id` only when the input names one. */
export interface RawItem {
  readonly input: ItemInput;
  readonly id: string | undefined;
  readonly source: string;
}

/** Batches of items in input order, one batch per chunk read (and one for all -p prompts). */
export async function* readRawBatches(sources: readonly Source[]): AsyncGenerator<RawItem[]> {
  for (const src of sources) {
    if (src.kind === 'prompts') {
      yield src.prompts.map((input, i) => ({ input, id: undefined, source: `prompt #${i + 1}` }));
      continue;
    }
    let found = 0;
    for await (const lines of readLineBatches(src.path, { label: src.label })) {
      const batch: RawItem[] = [];
      for (const { text, lineNo } of lines) {
        if (isBlank(text)) continue;
        const where = `${src.label}:${lineNo}`;
        const { input, id } = parseLine(src.format, text, where);
        batch.push({ input, id, source: where });
      }
      found += batch.length;
      if (batch.length > 0) yield batch;
    }
    if (found === 0) {
      const what = src.stdin ? 'on stdin' : 'in file';
      throw new InputError(`no prompts ${what} (it is empty or only blank lines)`, src.label);
    }
  }
}

/** The default id is the 1-based position; `index` the 0-based one. */
export function toItem(raw: RawItem, index: number): ItemSpec {
  return { id: raw.id ?? String(index + 1), index, input: raw.input, source: raw.source };
}

export async function* readItemBatches(sources: readonly Source[]): AsyncGenerator<ItemSpec[]> {
  let index = 0;
  for await (const batch of readRawBatches(sources)) yield batch.map((raw) => toItem(raw, index++));
}
