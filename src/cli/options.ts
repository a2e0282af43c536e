// Option values, checked while commander parses: a bad value stops the command before it opens a
// database or Redis, with exit 2 and one line naming the option and what it accepts.
import { BridgeError } from '../errors/codes.js';
import { parseDurationMs } from '../config/units.js';

const usage = (option: string, value: string, accepted: string) =>
  new BridgeError('USAGE', `${option} ${JSON.stringify(value)}: ${accepted}`);

/** A whole number from `min` up (--limit, --offset, --wait). */
export function wholeNumber(option: string, min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max || !Number.isSafeInteger(Number(value))) {
      throw usage(
        option,
        value,
        max === Number.MAX_SAFE_INTEGER ? `expected a whole number from ${min}` : `expected a whole number from ${min} to ${max}`,
      );
    }
    return Number(value);
  };
}

/** One of a fixed list (--status, --reason, --state, --encoding). */
export function oneOf<T extends string>(option: string, accepted: readonly T[], aliases: Record<string, T> = {}): (value: string) => T {
  return (value) => {
    const v = aliases[value.toLowerCase()] ?? value;
    if (!(accepted as readonly string[]).includes(v)) throw usage(option, value, `use one of ${accepted.join(', ')}`);
    return v as T;
  };
}

/** --since: an ISO date (2026-11-26, 2026-11-26T10:00Z) or an age (30m, 2h, 7d); returns epoch ms. */
export function since(option = '--since'): (value: string) => number {
  return (value) => {
    const rel = /^(\d+)([smhd])$/.exec(value);
    if (rel) return Date.now() - parseDurationMs(value)!;
    if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) {
      const t = Date.parse(value);
      if (!Number.isNaN(t)) return t;
    }
    throw usage(option, value, 'use a date (2026-11-26 or 2026-11-26T10:00Z) or an age (30m, 2h, 7d)');
  };
}

/** An age such as 7d (--older-than). */
export function age(option: string): (value: string) => number {
  return (value) => {
    const ms = /^\d+(ms|s|m|h|d)$/.test(value) ? parseDurationMs(value) : undefined;
    if (ms === undefined) throw usage(option, value, 'use an age such as 30m, 12h or 7d');
    return ms;
  };
}
