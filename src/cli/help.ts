/** How every command's --help reads, set once for all of them. */
import { Help, type Option } from './commander.js';

/**
 * commander prints a string default as JSON (`(default: "16")`); a user types `16`, so the help
 * says `(default: 16)`.
 */
export const helpSettings: Partial<Help> = {
  optionDescription(this: Help, option: Option): string {
    return Help.prototype.optionDescription.call(this, option).replace(/\(default: "([^"]*)"\)/, '(default: $1)');
  },
};
