// What `config check` adds to validation: warnings about a config that is valid but probably not
// what the operator meant, and durations and sizes shown the way they were written.
import { isAbsolute } from 'node:path';
import type { Config } from './schema.js';
import { hasDemoConsoleUser, loopbackHost } from './demo.js';

/** Keys whose value is a duration or a size; shown as written, or as their default is written. */
const UNIT_KEYS: Record<string, 'duration' | 'size'> = {
  'relay.maxMessageBytes': 'size',
  'relay.maxSessionTime': 'duration',
  'relay.socketTimeout': 'duration',
  'delivery.backoff.initial': 'duration',
  'delivery.backoff.max': 'duration',
  'delivery.maxLifetime': 'duration',
  'receiver.waitMs': 'duration',
  'receiver.maxBytes': 'size',
  'receiver.maxInflightBytes': 'size',
  'receiver.lockout.window': 'duration',
  'receiver.lockout.duration': 'duration',
};
const DURATIONS: [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];
const SIZES: [string, number][] = [
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024],
];

/** 432000000 → "5d", 33554432 → "32MiB"; a value no unit divides stays a number (ms or bytes). */
export function formatUnit(value: number, kind: 'duration' | 'size'): string | number {
  for (const [unit, factor] of kind === 'duration' ? DURATIONS : SIZES) {
    if (value > 0 && value % factor === 0) return `${value / factor}${unit}`;
  }
  return kind === 'duration' && value > 0 ? `${value}ms` : value;
}

const at = (doc: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), doc);

/** The masked config for printing, with each duration and size as written in the file (else its default, formatted). */
export function unitsAsWritten(masked: Record<string, any>, raw: unknown): Record<string, any> {
  const out = structuredClone(masked);
  for (const [path, kind] of Object.entries(UNIT_KEYS)) {
    const keys = path.split('.');
    const parent = keys.slice(0, -1).reduce<Record<string, any> | undefined>((o, k) => o?.[k], out);
    const last = keys.at(-1)!;
    if (!parent || typeof parent[last] !== 'number') continue;
    const written = at(raw, path);
    parent[last] = typeof written === 'string' ? written : formatUnit(parent[last], kind);
  }
  return out;
}

/** Valid, but probably not what was meant: one line each, for stderr. */
export function configWarnings(cfg: Config, raw: unknown, path: string): string[] {
  const warnings: string[] = [];
  if (cfg.shops.length === 0) {
    warnings.push('shops: none configured: no mail is recognised as an order and every upload is refused (auth_error)');
  }
  cfg.shops.forEach((s, i) => {
    if (!s.forwardTo) {
      warnings.push(`shops[${i}].forwardTo: not set for shop ${s.id}: its order mails are delivered but never forwarded to zaiko Robot`);
    }
  });
  const dataDir = at(raw, 'dataDir');
  if (path.startsWith('/etc/') && (typeof dataDir !== 'string' || !isAbsolute(dataDir))) {
    const written = typeof dataDir === 'string' ? JSON.stringify(dataDir) : 'the default ./data';
    warnings.push(
      `dataDir: ${written} is relative to ${path}'s folder (${cfg.dataDir}); ` +
        'on a host write an absolute path such as /var/lib/zaiko-bridge',
    );
  }
  if (hasDemoConsoleUser(cfg) && !loopbackHost(cfg.console.host)) {
    warnings.push(
      `console.users: the demo user of config/example.yaml (password published) on console.host ${cfg.console.host}, ` +
        'reachable from other hosts: remove it and add your own (config hash-password)',
    );
  }
  if (cfg.spool.keepDays === 0) {
    warnings.push(
      'spool.keepDays: 0 removes each spool file once delivered: mail show --raw and mail resend then cannot work ' +
        '(1 or more keeps them)',
    );
  }
  return warnings;
}
