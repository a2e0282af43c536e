// Timestamps in query results: ISO 8601 UTC, null for none (the JSON shapes of the Interface); --since / ?since= parsing.
import { BridgeError } from '../errors/codes.js';

export const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : null);

/** A date (2026-11-26) or an age (30m, 2h, 7d) as ms since the epoch. */
export function parseSince(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const rel = /^(\d+)([smhd])$/.exec(value);
  if (rel) return Date.now() - Number(rel[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[rel[2] as 's']!;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new BridgeError('BAD_INPUT', `--since ${value}: use a date (2026-11-26) or an age (30m, 2h, 7d)`);
  return t;
}
