// The running config of a process: one validated, frozen Config object, replaced whole by a reload
// (never mutated). Each consumer reads it once at the start of a session, request or job, so what is
// already running finishes with the config it started with.
import type { Config } from './schema.js';

type Listener = (next: Config, previous: Config) => void;

export class ConfigHolder {
  private listeners: Listener[] = [];

  constructor(private current: Config) {}

  /** A holder for a role: the one given, or a new one around a plain config (tests, operator commands). */
  static of(config: Config | ConfigHolder): ConfigHolder {
    return config instanceof ConfigHolder ? config : new ConfigHolder(config);
  }

  get(): Config {
    return this.current;
  }

  /** Called by a reload only, with a config that passed validation and keepRestartKeys. */
  replace(next: Config): void {
    const previous = this.current;
    this.current = next;
    for (const fn of this.listeners) fn(next, previous);
  }

  /** For what is built once per process and can take a new value (TLS context, log level, a thread's copy). */
  onChange(fn: Listener): void {
    this.listeners.push(fn);
  }
}

/** The current config of a plain config or a holder. */
export const configOf = (config: Config | ConfigHolder): Config => (config instanceof ConfigHolder ? config.get() : config);

/**
 * Keys read once when a process starts (listeners, the dataDir, Redis and its queue names, the upstream
 * pool, the worker's concurrency): a reload logs a change to them and keeps the running value. Every
 * other key (shops and their new keys too) is read per session, request or job and reloads.
 */
const RESTART_KEYS = [
  'dataDir',
  'instance',
  'redis',
  'relay.host',
  'relay.port',
  'relay.hostname',
  'relay.metricsPort',
  'relay.maxClients',
  'relay.socketTimeout',
  'relay.allowInsecureAuth',
  'receiver.host',
  'receiver.port',
  'receiver.trustedProxies',
  'receiver.adminClients',
  'receiver.maxConnectionsPerAddress',
  'receiver.maxInflightBytes',
  'receiver.lockout',
  'receiver.dropDir',
  'console.host',
  'console.port',
  'upstream',
  'delivery.concurrency',
  'delivery.backoff',
] as const;

/**
 * Keys whose presence turns a listener feature on or off (STARTTLS, XFORWARD): changing their contents
 * reloads, adding or removing them needs a restart.
 */
const PRESENCE_KEYS = ['relay.tls', 'relay.xforwardClients'] as const;

const at = (o: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);

function put(o: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  const parent = keys.slice(0, -1).reduce<Record<string, unknown>>((v, k) => v[k] as Record<string, unknown>, o);
  parent[keys.at(-1)!] = structuredClone(value);
}

const present = (v: unknown) => v !== undefined && !(Array.isArray(v) && v.length === 0);

/** Freezes every object of a config (validated once, then frozen: style.md). */
export function deepFreeze<T>(obj: T): T {
  if (obj && typeof obj === 'object') {
    for (const v of Object.values(obj)) deepFreeze(v);
    Object.freeze(obj);
  }
  return obj;
}

/**
 * The config a reload swaps in: `next` with the running value of every restart key it changes.
 * `kept` names those keys (names only: values such as redis.url may hold a password).
 */
export function keepRestartKeys(running: Config, next: Config): { config: Config; kept: string[] } {
  const kept: string[] = [];
  const draft = structuredClone(next) as unknown as Record<string, unknown>;
  for (const key of RESTART_KEYS) {
    if (JSON.stringify(at(running, key)) === JSON.stringify(at(next, key))) continue;
    kept.push(key);
    put(draft, key, at(running, key));
  }
  for (const key of PRESENCE_KEYS) {
    if (present(at(running, key)) === present(at(next, key))) continue;
    kept.push(key);
    put(draft, key, at(running, key));
  }
  return { config: deepFreeze(draft as unknown as Config), kept };
}
