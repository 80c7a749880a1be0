/**
 * Checks `--param` values against what the processors of a pipeline declare, before any work:
 * the CLI (submit, serve, processor), `POST /actions` and a processor server's requests all
 * call `checkParams`, so a typo is refused the same way everywhere, in one line.
 *
 * Params are shared by every stage, so a key is unknown when no processor of the pipeline
 * declares it; if any processor declares nothing, it may read any key, and none is unknown.
 */
import { closestName } from '../core/closest.js';
import { ProcessorError, describeError } from '../core/errors.js';
import type { Params } from '../core/types.js';
import type { ParamDeclaration, ParamSpec, Processor } from './contract.js';

import { PRICE_PARAMS, priceParamsProblem } from '../core/pricing.js';

/** A param the pipeline cannot take; the message is one line and names the processor. */
export class ParamError extends ProcessorError {}

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const TYPES: readonly unknown[] = ['string', 'number', 'integer', 'boolean'];
const SPEC_SHAPE = 'must be { description, type?, default?, required? }';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isDefault = (v: unknown): boolean => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

/** What is wrong with one param's spec, as `.field: problem` (or `: problem`), or undefined. */
function specProblem(spec: unknown): string | undefined {
  if (!isObject(spec)) return `: ${SPEC_SHAPE}`;
  if (typeof spec.description !== 'string') return '.description: needs a description';
  if (spec.type !== undefined && !TYPES.includes(spec.type)) return `.type: must be one of ${TYPES.join(', ')}`;
  if (spec.default !== undefined && !isDefault(spec.default)) return '.default: must be a string, a number or a boolean';
  if (spec.required !== undefined && typeof spec.required !== 'boolean') return '.required: must be true or false';
  return undefined;
}

/**
 * What is wrong with a module's `params` export, or undefined if it is a declaration. Checked
 * by hand, not with zod: this runs on every submit, and zod is a hundred modules to load.
 */
export function declarationProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'params: must be an object of { description, type?, default? } by param name';
  for (const [key, spec] of Object.entries(value)) {
    const problem = specProblem(spec);
    if (problem) return `params.${key}${problem}`;
  }
  const bad = Object.keys(value).find((key) => !PARAM_NAME.test(key));
  return bad === undefined ? undefined : `params: "${bad}" is not a param name (letters, digits and _ . -, starting with a letter or _)`;
}

/** `processor NAME: message`, without naming it twice when the message already starts so. */
export function processorMessage(name: string, err: unknown): string {
  const message = describeError(err);
  return message.startsWith(`${name}:`) ? `processor ${message}` : `processor ${name}: ${message}`;
}

export interface CheckOptions {
  /** Only these keys are checked for being unknown (e.g. a request's own, not a server's defaults). Default: all. */
  readonly keys?: readonly string[];
}

/** Throws a ParamError on the first unknown key or bad value; then runs each processor's `validate`. */
export function checkParams(processors: readonly Processor[], params: Params, opts: CheckOptions = {}): void {
  refuseUnknown(processors, opts.keys ?? Object.keys(params));
  // The run's prices are slowwork's, not a processor's: any pipeline takes them.
  const prices = priceParamsProblem(params);
  if (prices) throw new ParamError(prices);
  for (const p of processors) {
    try {
      p.validate?.(params);
    } catch (err) {
      throw new ParamError(processorMessage(p.name, err));
    }
    for (const [key, spec] of Object.entries(p.params ?? {})) {
      const problem = valueProblem(spec, params[key]);
      if (problem) throw new ParamError(`processor ${p.name}: param ${key}${problem}`);
    }
  }
}

function refuseUnknown(processors: readonly Processor[], keys: readonly string[]): void {
  const declarations = processors.map((p) => p.params);
  if (declarations.some((d) => d === undefined)) return;
  const known = [...new Set(declarations.flatMap((d) => Object.keys(d as ParamDeclaration)))];
  for (const key of keys) {
    if (known.includes(key) || (PRICE_PARAMS as readonly string[]).includes(key)) continue;
    const near = closestName(key, known);
    const who = processors.map((p) => p.name).join(', ');
    const takes = known.length > 0 ? `${who} ${processors.length > 1 ? 'take' : 'takes'} ${known.join(', ')}` : `${who} takes no params`;
    throw new ParamError(`unknown param ${key}${near ? `: did you mean ${near}?` : ''} (${takes})`);
  }
}

/** Why a value does not fit its declared type (`=abc must be a number`), or undefined. */
function valueProblem(spec: ParamSpec, raw: string | undefined): string | undefined {
  const value = raw?.trim() ?? '';
  if (value === '') return spec.required ? ' is required' : undefined;
  switch (spec.type) {
    case 'number':
      return Number.isFinite(Number(value)) ? undefined : `=${raw} must be a number`;
    case 'integer':
      return /^-?\d+$/.test(value) && Number.isSafeInteger(Number(value)) ? undefined : `=${raw} must be a whole number`;
    case 'boolean':
      return value === 'true' || value === 'false' ? undefined : `=${raw} must be true or false`;
    default:
      return undefined;
  }
}
