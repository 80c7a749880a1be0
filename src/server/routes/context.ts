/** What every route plugin gets from the app. */
import type { Manager } from '../manager.js';

export interface RouteContext {
  readonly manager: Manager;
  /** Longest prompt (or item input, as JSON) accepted, in characters. */
  readonly maxPromptChars: number;
  /** Most items one action may hold. */
  readonly maxActionItems: number;
}
