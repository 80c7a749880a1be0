/**
 * What a processor may report about an item besides its text (`ctx.report`): the tokens it was
 * billed, the model that answered, why the answer ended, the server's request id. Field names are
 * OpenAI's, as users know them from the API and find them again in the results file.
 *
 * Each attempt reports its own; an item's pipeline stages add up (two LLM calls are two bills),
 * while a stage that reports twice replaces what it said (a stream's usage arrives once, at its end,
 * but a processor may report a running count).
 */

/** Token counts, as OpenAI's `usage` gives them. */
export interface TokenUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  /** Counted by slowwork (prompt length, streamed pieces), not reported by the server. */
  readonly estimated?: true;
}

export interface ItemMeta {
  readonly usage?: TokenUsage;
  /** The model that answered, as the server names it. */
  readonly model?: string;
  /** Why the answer ended: `stop`, `length`, `content_filter`, ... */
  readonly finish_reason?: string;
  /** The server's id of the request (OpenAI's `x-request-id`), for support tickets. */
  readonly request_id?: string;
}

const TEXT_FIELDS = ['model', 'finish_reason', 'request_id'] as const;
/** Bounds what a processor can make slowwork carry per item: these are labels, not payloads. */
const MAX_TEXT = 256;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * A processor's report, checked: throws a TypeError naming the bad field (the processor's bug,
 * seen as its item's error) rather than carrying junk into results and totals.
 */
export function checkedMeta(value: unknown): ItemMeta {
  if (typeof value !== 'object' || value === null) throw new TypeError('ctx.report takes an object, e.g. {usage: {prompt_tokens, completion_tokens}}');
  const v = value as Record<string, unknown>;
  const out: { -readonly [K in keyof ItemMeta]: ItemMeta[K] } = {};
  if (v.usage !== undefined) {
    const u = v.usage as Record<string, unknown> | null;
    if (typeof u !== 'object' || u === null || !isCount(u.prompt_tokens) || !isCount(u.completion_tokens)) {
      throw new TypeError('ctx.report: usage must be {prompt_tokens, completion_tokens}, whole numbers >= 0');
    }
    out.usage = u.estimated === true ? { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, estimated: true } : { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens };
  }
  for (const key of TEXT_FIELDS) {
    const s = v[key];
    if (s === undefined || s === null) continue;
    if (typeof s !== 'string') throw new TypeError(`ctx.report: ${key} must be a string`);
    out[key] = s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) : s;
  }
  return out;
}

/** The sum of two usages; estimated when either part is. */
export function addUsage(a: TokenUsage | undefined, b: TokenUsage | undefined): TokenUsage | undefined {
  if (!a) return b;
  if (!b) return a;
  const sum = { prompt_tokens: a.prompt_tokens + b.prompt_tokens, completion_tokens: a.completion_tokens + b.completion_tokens };
  return a.estimated || b.estimated ? { ...sum, estimated: true } : sum;
}

/** One attempt's meta from its stages' reports, in stage order: usage adds up, the rest is the last stage's that said it. */
export function foldStages(stages: readonly (ItemMeta | undefined)[]): ItemMeta | undefined {
  let folded: ItemMeta | undefined;
  for (const m of stages) {
    if (!m) continue;
    if (!folded) {
      folded = m;
      continue;
    }
    const usage = addUsage(folded.usage, m.usage);
    folded = { ...folded, ...m, ...(usage ? { usage } : {}) };
  }
  return folded;
}

/** A report laid over what the same stage said before: fields it names replace theirs. */
export const overlay = (before: ItemMeta | undefined, report: ItemMeta): ItemMeta => (before ? { ...before, ...report } : report);
