// Durations and sizes as people write them in YAML: "5m", "32MiB", or a plain number (ms / bytes).

const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_BYTES: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, KB: 1000, MB: 1000 ** 2, GB: 1000 ** 3 };

function parseUnit(value: unknown, table: Record<string, number>): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(value);
  if (!m) return undefined;
  const factor = m[2] === '' ? 1 : table[m[2]];
  return factor === undefined ? undefined : Math.round(Number(m[1]) * factor);
}

/** "5m" → 300000; a number is milliseconds; undefined when unreadable. */
export const parseDurationMs = (v: unknown) => parseUnit(v, DURATION_MS);
/** "32MiB" → 33554432; a number is bytes; undefined when unreadable. */
export const parseSizeBytes = (v: unknown) => parseUnit(v, SIZE_BYTES);

/** 125000 → "2m", for ages in human output. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
