// The one owner of Redis connections: resolves the URL, the sentinels or the private server's socket,
// makes clients for queues (fail fast) and for workers (block forever), and checks the eviction policy.
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/schema.js';
import { maskUrl } from './redis-url.js';
import { BridgeError } from '../errors/codes.js';
import type { Logger } from '../observe/logger.js';
import { withTimeout } from '../observe/timeout.js';

export const privateSocketPath = (dataDir: string) => join(dataDir, 'redis.sock');

/**
 * Where Redis is, in a form that crosses a thread or process boundary (workerData, IPC, env):
 * a URL, or the sentinels that name the current master.
 */
export type RedisSpec = { url: string } | { sentinels: { host: string; port: number }[]; masterName: string };

/** The configured URL or sentinels, or the unix socket of the private server `start` runs for this dataDir. */
export function redisSpec(cfg: Config): RedisSpec {
  if (cfg.redis.sentinels.length) {
    const sentinels = cfg.redis.sentinels.map((hp) => {
      const i = hp.lastIndexOf(':');
      return { host: hp.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hp.slice(i + 1)) };
    });
    return { sentinels, masterName: cfg.redis.masterName };
  }
  return { url: redisUrl(cfg) };
}

/** The configured URL, or the unix socket of the private server `start` runs for this dataDir. */
function redisUrl(cfg: Config): string {
  return cfg.redis.url || `unix://${privateSocketPath(cfg.dataDir)}`;
}

/** For messages and logs: the masked URL, or "sentinel mymaster via h1:26379,h2:26379". */
export function describeRedis(target: RedisSpec | string): string {
  const spec = typeof target === 'string' ? { url: target } : target;
  if ('url' in spec) return maskUrl(spec.url);
  return `sentinel ${spec.masterName} via ${spec.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
}

/** After a failover a client still on the old master (now a replica) gets READONLY: reconnect and resend. */
const reconnectOnReadonly = (err: Error) => (err.message.startsWith('READONLY') ? 2 : false);
/** Never give up (null would leave the client in the terminal "end" state: the #4378 dead worker). */
const backoff = (times: number) => Math.min(times * 200, 2000);

function optionsFor(target: RedisSpec | string): RedisOptions {
  const spec = typeof target === 'string' ? { url: target } : target;
  if (!('url' in spec)) {
    return {
      sentinels: spec.sentinels,
      name: spec.masterName,
      role: 'master',
      sentinelRetryStrategy: backoff,
      sentinelCommandTimeout: 2000,
      // No failoverDetector: its disconnect(true) on +switch-master, landing while the client is still
      // resolving the master, leaves it in ioredis's terminal "end" state (seen in the failover test;
      // the #4378 mechanism). A killed master closes the socket; the reconnect asks the sentinels.
      failoverDetector: false,
    };
  }
  const url = spec.url;
  if (url.startsWith('unix://')) return { path: url.slice('unix://'.length) };
  const u = new URL(url);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
  };
}

/**
 * kind 'worker': BullMQ workers need maxRetriesPerRequest null (blocking commands wait out outages).
 * kind 'client': commands fail after a short time, so an answer never hangs on a dead Redis (adds are
 * bounded by their callers too: the offline queue only bridges a reconnect, as after a failover).
 */
export function createRedis(target: RedisSpec | string, kind: 'worker' | 'client'): Redis {
  return quiet(new Redis(connectionOptions(target, kind)));
}

/** The options createRedis uses, for a client class of one's own (the worker watchdog's). */
export function connectionOptions(target: RedisSpec | string, kind: 'worker' | 'client'): RedisOptions {
  return {
    ...optionsFor(target),
    maxRetriesPerRequest: kind === 'worker' ? null : 1,
    connectTimeout: 2000,
    retryStrategy: backoff,
    reconnectOnError: reconnectOnReadonly,
    lazyConnect: false,
  };
}

/** Calls `fn` each time the client is ready again after losing its connection (a reconnect, a failover). */
export function onReconnect(client: Redis, fn: () => void): void {
  let seen = client.status === 'ready';
  client.on('ready', () => {
    if (seen) fn();
    seen = true;
  });
}

/** Outages surface as failed commands where they matter; the reconnect loop would only spam stderr. */
export function quiet<T extends Redis>(client: T): T {
  client.on('error', () => {});
  return client;
}

/** Connects once (bounded) and throws REDIS_UNAVAILABLE naming the masked URL or the sentinels. For operator commands. */
export async function connectOrFail(target: RedisSpec | string, timeoutMs = 3000): Promise<Redis> {
  const client = new Redis({
    ...optionsFor(target),
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    sentinelRetryStrategy: () => null,
    failoverDetector: false,
    // ioredis waits this long (2 s by default) for a socket that never opened to close: a command
    // facing a dead Redis would linger that long before exiting.
    disconnectTimeout: 200,
  });
  client.on('error', () => {});
  try {
    await withTimeout(client.connect(), timeoutMs + 1000, 'connect');
    await client.ping();
    return client;
  } catch (err) {
    client.disconnect();
    throw new BridgeError('REDIS_UNAVAILABLE', `Redis at ${describeRedis(target)} is unreachable: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** BullMQ loses jobs under an evicting policy: say so loudly. */
export async function checkEvictionPolicy(client: Redis, log: Logger): Promise<void> {
  try {
    const [, policy] = (await client.config('GET', 'maxmemory-policy')) as string[];
    if (policy !== 'noeviction') {
      log.warn({ policy }, `Redis maxmemory-policy is "${policy}": BullMQ can lose jobs; set maxmemory-policy noeviction`);
    }
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not read Redis maxmemory-policy (CONFIG GET refused?)');
  }
}

/** False when the queue's connection is known to be down: adding a job would only wait out its bound. */
export function queueConnected(queue: { opts: { connection?: unknown } }): boolean {
  const c = queue.opts.connection as { status?: string } | undefined;
  return !['reconnecting', 'close', 'end'].includes(c?.status ?? '');
}

/**
 * Closes a client after the replies it is still waiting for: disconnect() alone rejects those with
 * "Connection is closed", and a library's command nobody awaits any more (BullMQ's, at shutdown)
 * becomes an unhandled rejection. Bounded: a Redis that does not answer QUIT is disconnected (ioredis
 * then destroys a socket the server never closes after its disconnectTimeout, 2 s). Does not wait for
 * the socket's close: doing so showed stock-worker commands issued after QUIT as unhandled rejections.
 */
export async function closeRedis(client: Redis, boundMs = 1000): Promise<void> {
  await withTimeout(client.quit(), boundMs, 'redis quit').catch(() => {});
  client.disconnect();
}

/**
 * Closes a BullMQ Queue or Worker that runs on a client we own (closeRedis it afterwards). BullMQ
 * 5.81's close() of a shared connection still starting up (its INFO in flight) drops its error
 * listeners without waiting, so closing our client then makes that INFO's failure an unhandled
 * rejection: let the start-up finish first, bounded (with Redis down it never will).
 */
export async function closeQueue(q: { waitUntilReady(): Promise<unknown>; close(): Promise<void> }, boundMs = 1000): Promise<void> {
  await withTimeout(q.waitUntilReady(), boundMs, 'queue start-up').catch(() => {});
  await q.close();
}
