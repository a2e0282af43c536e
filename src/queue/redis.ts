// The one owner of Redis connections: resolves the URL (or the private server's socket), makes
// clients for queues (fail fast) and for workers (block forever), and checks the eviction policy.
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/schema.js';
import { maskUrl } from './redis-url.js';
import { BridgeError } from '../errors/codes.js';
import type { Logger } from '../observe/logger.js';
import { withTimeout } from '../observe/timeout.js';

export const privateSocketPath = (dataDir: string) => join(dataDir, 'redis.sock');

/** The configured URL, or the unix socket of the private server `start` runs for this dataDir. */
export function redisUrl(cfg: Config): string {
  return cfg.redis.url || `unix://${privateSocketPath(cfg.dataDir)}`;
}

function optionsFor(url: string): RedisOptions {
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
 * kind 'client': commands fail after a short time, so an answer never hangs on a dead Redis.
 */
export function createRedis(url: string, kind: 'worker' | 'client'): Redis {
  const client = new Redis({
    ...optionsFor(url),
    maxRetriesPerRequest: kind === 'worker' ? null : 1,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    lazyConnect: false,
  });
  // Outages surface as failed commands where they matter; the reconnect loop would only spam stderr.
  client.on('error', () => {});
  return client;
}

/** Connects once (bounded) and throws REDIS_UNAVAILABLE naming the masked URL. For operator commands. */
export async function connectOrFail(url: string, timeoutMs = 3000): Promise<Redis> {
  const client = new Redis({ ...optionsFor(url), maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null, connectTimeout: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return client;
  } catch (err) {
    client.disconnect();
    throw new BridgeError('REDIS_UNAVAILABLE', `Redis at ${maskUrl(url)} is unreachable: ${(err as Error).message}`, { cause: err });
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
 * becomes an unhandled rejection. Bounded: a dead Redis is simply disconnected.
 */
export async function closeRedis(client: Redis, boundMs = 1000): Promise<void> {
  await withTimeout(client.quit(), boundMs, 'redis quit').catch(() => {});
  client.disconnect();
}
